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

/** Each front point's label: its policy, once per point where several policies had the same outcome. */
const labelled = <
  Row extends { trace: string; policy: string; costUsd: number; meanStartSeconds: number; pareto: boolean }
>(
  rows: ReadonlyArray<Row>
) => {
  const counts = new Map<string, number>()
  const key = (r: Row) => `${r.trace}/${r.costUsd}/${r.meanStartSeconds}`
  for (const r of rows) if (r.pareto) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1)
  const seen = new Set<string>()
  return rows.map((r) => {
    const k = key(r)
    const first = r.pareto && !seen.has(k)
    if (first) seen.add(k)
    const others = (counts.get(k) ?? 1) - 1
    return { ...r, label: first ? (others > 0 ? `${r.policy} (+${others})` : r.policy) : "" }
  })
}

/**
 * Per trace: every routing × idle policy's cost against its mean start latency, the Pareto front (of cost, mean
 * and p95 start) drawn over the dominated points as a labelled line, the recommended policy ringed. Scales are
 * per trace; start latency is on a symlog axis from 0, cost on a dollar axis.
 */
export const costVersusLatency = (
  rows: ReadonlyArray<{
    trace: string
    policy: string
    costUsd: number
    meanStartSeconds: number
    p95StartSeconds: number
    pareto: boolean
    recommended: boolean
  }>
) => {
  const x = {
    field: "meanStartSeconds",
    type: "quantitative" as const,
    title: "mean start latency (s)",
    scale: { type: "symlog" as const, domainMin: 0 },
    axis: { format: "~g", tickCount: 5 }
  }
  const y = {
    field: "costUsd",
    type: "quantitative" as const,
    title: "cost (USD)",
    scale: { zero: false, nice: true },
    axis: { format: "$,.2f", tickCount: 5 }
  }
  const tooltip = [
    { field: "policy" },
    { field: "costUsd", format: "$,.2f", title: "cost" },
    { field: "meanStartSeconds", format: ".2f", title: "mean start s" },
    { field: "p95StartSeconds", format: ".2f", title: "p95 start s" }
  ]
  return render({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Cost vs mean start latency per routing × idle policy (front: cost, mean and p95 start)",
    data: { values: labelled(rows) },
    facet: { field: "trace", type: "nominal", title: null },
    columns: 2,
    spec: {
      width: 320,
      height: 220,
      layer: [
        {
          transform: [{ filter: "!datum.pareto" }],
          mark: { type: "point", filled: true, color: "#bbbbbb", size: 25 },
          encoding: { x, y, tooltip }
        },
        {
          transform: [{ filter: "datum.pareto" }],
          mark: { type: "line", color: "#d62728", point: { filled: true, color: "#d62728", size: 50 } },
          encoding: { x, y, order: { field: "meanStartSeconds" }, tooltip }
        },
        {
          transform: [{ filter: "datum.pareto" }],
          mark: { type: "text", align: "left", dx: 6, dy: -4, fontSize: 8, color: "#7f0000" },
          encoding: { x, y, text: { field: "label" } }
        },
        {
          transform: [{ filter: "datum.recommended" }],
          mark: { type: "point", shape: "circle", size: 220, strokeWidth: 2, color: "#1f77b4" },
          encoding: { x, y }
        }
      ]
    },
    resolve: { scale: { x: "independent", y: "independent" } }
  })
}
