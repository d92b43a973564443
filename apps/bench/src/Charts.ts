/**
 * SVG charts drawn with vega-lite (compiled to vega, rendered headless to SVG). vega is loaded when the first chart
 * is drawn, after the simulations, not when the CLI starts.
 */
import type * as vegaLite from "vega-lite"

export const render = async (spec: vegaLite.TopLevelSpec): Promise<string> => {
  const [vega, { compile }] = await Promise.all([import("vega"), import("vega-lite")])
  const compiled = compile(spec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: "none" })
  const svg = await view.toSVG()
  view.finalize()
  return svg
}

/** Grouped bars, each labelled with its value: monthly cost of each scenario on each provider. */
export const costPerScenarioSpec = (
  rows: ReadonlyArray<{ scenario: string; provider: string; usdPerMonth: number }>
): vegaLite.TopLevelSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: "Monthly cost per scenario and provider (simulated, USD)",
  width: 420,
  height: 260,
  data: { values: rows.map((r) => ({ ...r, label: `$${r.usdPerMonth.toFixed(2)}` })) },
  encoding: {
    x: { field: "scenario", type: "nominal", title: null, axis: { labelAngle: 0 } },
    xOffset: { field: "provider" },
    y: { field: "usdPerMonth", type: "quantitative", title: "USD per month" }
  },
  layer: [
    { mark: "bar", encoding: { color: { field: "provider", type: "nominal", title: "provider" } } },
    {
      mark: { type: "text", baseline: "bottom", dy: -2, fontSize: 10 },
      encoding: { text: { field: "label", type: "nominal" } }
    }
  ]
})

export const costPerScenario = (
  rows: ReadonlyArray<{ scenario: string; provider: string; usdPerMonth: number }>
) => render(costPerScenarioSpec(rows))

/** Stacked bars: what each side's monthly bill is made of, per scenario. */
export const breakdownSpec = (
  rows: ReadonlyArray<{ scenario: string; side: string; component: string; usdPerMonth: number }>
): vegaLite.TopLevelSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: "What each monthly bill is made of (USD)",
  width: 420,
  height: 260,
  data: { values: rows.map((r) => ({ ...r, bar: `${r.scenario} ${r.side}` })) },
  mark: "bar",
  encoding: {
    x: { field: "bar", type: "nominal", title: null, axis: { labelAngle: -30 } },
    y: { field: "usdPerMonth", type: "quantitative", title: "USD per month", stack: "zero" },
    color: { field: "component", type: "nominal", title: "component" },
    tooltip: [{ field: "component" }, { field: "usdPerMonth", format: ".2f" }]
  }
})

/** Scatter: cost against p95 start latency for every policy pair, Pareto front marked. */
export const costVersusLatency = (
  rows: ReadonlyArray<{
    trace: string
    policy: string
    costUsd: number
    p95StartSeconds: number
    pareto: boolean
  }>
) =>
  render({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Cost vs p95 start latency per routing × idle policy",
    data: { values: rows.map((r) => ({ ...r, front: r.pareto ? "Pareto front" : "dominated" })) },
    facet: { field: "trace", type: "nominal", title: null },
    columns: 3,
    spec: {
      width: 220,
      height: 180,
      mark: { type: "point", filled: true },
      encoding: {
        x: {
          field: "p95StartSeconds",
          type: "quantitative",
          title: "p95 start latency (s)",
          scale: { type: "symlog" }
        },
        y: { field: "costUsd", type: "quantitative", title: "cost (USD)", scale: { zero: false } },
        color: { field: "front", type: "nominal", title: null },
        tooltip: [{ field: "policy" }, { field: "costUsd" }, { field: "p95StartSeconds" }]
      }
    },
    resolve: { scale: { x: "independent", y: "independent" } }
  })
