/**
 * Renders the policy benchmark. The terminal gets what a person acts on: the bounds, and per trace the Pareto
 * front (cost against mean and p95 start) with the recommended policy at the stated price of waiting, and how
 * close each idle policy comes to the exact optimum in the oracle's own model. The files get all of it plus the
 * full table of every routing × idle run.
 */
import type { ModelRow, RankedRow, TraceBounds } from "./PolicyBenchmark.js"
import * as Table from "./Table.js"

const ratio = (value: number | null) => (value === null ? "—" : `${value.toFixed(2)}×`)

const boundColumns: ReadonlyArray<Table.Column<TraceBounds>> = [
  { header: "Trace", value: (b) => b.trace },
  { header: "Tasks", align: "right", value: (b) => String(b.tasks) },
  { header: "Oracle-0 (fluid)", align: "right", value: (b) => Table.usd(b.oracle0Usd) },
  { header: "Exact optimum", align: "right", value: (b) => Table.usd(b.optimumUsd) },
  { header: "Gap to Oracle-0", align: "right", value: (b) => ratio(b.optimumUsd / b.oracle0Usd) },
  { header: "Oracle-1 (slot DP)", align: "right", value: (b) => Table.usd(b.oracle1Usd) },
  { header: "Oracle-1/exact", align: "right", value: (b) => ratio(b.oracle1Usd / b.optimumUsd) },
  {
    header: "Wait-aware optimum",
    align: "right",
    value: (b) =>
      b.waitAwareUsd === null
        ? "— (too dense)"
        : `${Table.usd(b.waitAwareUsd)} (${Table.usd(b.waitAwareMoneyUsd ?? 0)} + ${(b.waitAwareWaitSeconds ?? 0).toFixed(0)} s wait)`
  }
]

const policy = (r: RankedRow) => `${r.routing} × ${r.idle}`

/**
 * A trace's front on the engine. No ratio to the bounds here: an engine bill holds what the oracle model leaves out
 * (workspace volumes, the composed ECS cluster's floor), so the like-for-like ratios are the oracle model's, in the
 * heading and the matrix; the full table in the files keeps the engine's ratios with that caveat.
 */
const frontColumns: ReadonlyArray<Table.Column<RankedRow>> = [
  { header: "Policy (routing × idle)", value: policy },
  { header: "Engine bill", align: "right", value: (r) => Table.usd(r.costUsd) },
  { header: "Mean start s", align: "right", value: (r) => r.meanStartSeconds.toFixed(2) },
  { header: "p95 start s", align: "right", value: (r) => r.p95StartSeconds.toFixed(2) },
  { header: "Cold starts", align: "right", value: (r) => String(r.coldStarts) },
  { header: "Cost+wait", align: "right", value: (r) => Table.usd(r.totalUsd) },
  { header: "", value: (r) => (r.recommended ? "← recommended" : "") }
]

const fullColumns: ReadonlyArray<Table.Column<RankedRow>> = [
  { header: "Trace", value: (r) => r.trace },
  { header: "Routing", value: (r) => r.routing },
  { header: "Idle", value: (r) => r.idle },
  { header: "Failed", align: "right", value: (r) => String(r.failed) },
  { header: "Cost", align: "right", value: (r) => Table.usd(r.costUsd) },
  { header: "/exact", align: "right", value: (r) => r.costOverOptimum.toFixed(2) },
  { header: "/Oracle-1", align: "right", value: (r) => r.costOverOracle1.toFixed(2) },
  { header: "/Oracle-0", align: "right", value: (r) => r.costOverOracle0.toFixed(2) },
  { header: "Cold", align: "right", value: (r) => String(r.coldStarts) },
  { header: "Mean s", align: "right", value: (r) => r.meanStartSeconds.toFixed(2) },
  { header: "p50 s", align: "right", value: (r) => r.p50StartSeconds.toFixed(1) },
  { header: "p95 s", align: "right", value: (r) => r.p95StartSeconds.toFixed(1) },
  { header: "p99 s", align: "right", value: (r) => r.p99StartSeconds.toFixed(1) },
  { header: "Warm waste h", align: "right", value: (r) => r.wastedWarmHours.toFixed(1) },
  { header: "Cost+wait", align: "right", value: (r) => Table.usd(r.totalUsd) },
  { header: "/wait-aware", align: "right", value: (r) => r.totalOverWaitAware?.toFixed(2) ?? "—" },
  { header: "Pareto", value: (r) => (r.pareto ? "*" : "") },
  { header: "Rec.", value: (r) => (r.recommended ? "*" : "") },
  { header: "Same run as", value: (r) => r.sameDecisionsAs ?? "" }
]

/** How many runs were another run, decision for decision, and so were not simulated again (SameDecisions). */
const reuseNote = (rows: ReadonlyArray<RankedRow>) => {
  const reused = rows.filter((r) => r.sameDecisionsAs !== null).length
  return `${reused} of ${rows.length} runs were not simulated again: asked every call another run's routing policy was asked (same trace, same idle policy), their routing policy answered every one alike, so each is that run ("Same run as" in the full table).`
}

/**
 * One trace's front, cheapest first, policies with identical outcomes on one line (the recommended one named
 * first, then "+N alike").
 */
const front = (rows: ReadonlyArray<RankedRow>, trace: string): ReadonlyArray<RankedRow> => {
  const alike = new Map<string, Array<RankedRow>>()
  for (const row of rows.filter((r) => r.trace === trace && r.pareto)) {
    const key = `${row.costUsd}/${row.meanStartSeconds}/${row.p95StartSeconds}`
    alike.set(key, [...(alike.get(key) ?? []), row])
  }
  return [...alike.values()]
    .map((same) => {
      const first = same.find((r) => r.recommended) ?? same[0]!
      return same.length === 1 ? first : { ...first, idle: `${first.idle} (+${same.length - 1} alike)` }
    })
    .sort((a, b) => a.costUsd - b.costUsd)
}

/**
 * The trace's recommendation. Its distance from the optimum is quoted from the oracle model, where the policy and
 * the bounds are priced alike: the engine's bill also holds what no idle policy changes (workspace volumes, the
 * composed ECS cluster's floor), which the bounds leave out.
 */
const heading = (
  rows: ReadonlyArray<RankedRow>,
  model: ReadonlyArray<ModelRow>,
  trace: string,
  waitUsdPerHour: number
) => {
  const best = rows.find((r) => r.trace === trace && r.recommended)
  if (best === undefined) return trace
  const alike = model.find((m) => m.trace === trace && m.idle === best.idle)
  const distance =
    alike === undefined
      ? ""
      : `; in the oracle model ${best.idle} is ${ratio(alike.costOverOptimum)} the exact optimum (on ${alike.platform}), cost+wait ${ratio(alike.totalOverWaitAware)} the wait-aware one (on ${alike.totalPlatform})`
  return `${trace}: at $${waitUsdPerHour}/h of waiting, use ${policy(best)} (engine bill ${Table.usd(best.costUsd)}, cost+wait ${Table.usd(best.totalUsd)}${distance})`
}

/** Idle policies (rows) × traces (columns): cost over the exact optimum in the oracle's model. */
const modelMatrix = (model: ReadonlyArray<ModelRow>) => {
  const traces = [...new Set(model.map((m) => m.trace))]
  const idles = [...new Set(model.map((m) => m.idle))]
  const cell = (idle: string, trace: string) => model.find((m) => m.idle === idle && m.trace === trace)
  const columns: ReadonlyArray<Table.Column<string>> = [
    { header: "Idle policy", value: (idle) => idle },
    ...traces.map((trace) => ({
      header: trace,
      align: "right" as const,
      value: (idle: string) => {
        const m = cell(idle, trace)
        return m === undefined ? "" : `${ratio(m.costOverOptimum)} / ${ratio(m.totalOverWaitAware)}`
      }
    }))
  ]
  return { columns, idles }
}

const traceNames = (bounds: ReadonlyArray<TraceBounds>) => bounds.map((b) => b.trace)

/** The report's sections in order, each a title and a table rendered by `render` (text or Markdown). */
const sections = (
  bounds: ReadonlyArray<TraceBounds>,
  rows: ReadonlyArray<RankedRow>,
  model: ReadonlyArray<ModelRow>,
  waitUsdPerHour: number,
  render: <Row>(columns: ReadonlyArray<Table.Column<Row>>, rows: ReadonlyArray<Row>) => string
): ReadonlyArray<{ readonly title: string; readonly table: string }> => {
  const matrix = modelMatrix(model)
  return [
    { title: "Bounds (the oracle model)", table: render(boundColumns, bounds) },
    ...traceNames(bounds).map((trace) => ({
      title: heading(rows, model, trace, waitUsdPerHour),
      table: render(frontColumns, front(rows, trace))
    })),
    {
      title:
        "Idle policies in the oracle model: cost / exact optimum, and cost+wait / wait-aware optimum (each on the platform best for it)",
      table: render(matrix.columns, matrix.idles)
    }
  ]
}

export const text = (
  bounds: ReadonlyArray<TraceBounds>,
  rows: ReadonlyArray<RankedRow>,
  model: ReadonlyArray<ModelRow>,
  waitUsdPerHour: number
) =>
  [
    ...sections(bounds, rows, model, waitUsdPerHour, Table.text).flatMap((s) => [s.title, s.table, ""]),
    reuseNote(rows),
    "The full table of every run is in policies.md and policies.json."
  ].join("\n")

export const markdown = (
  bounds: ReadonlyArray<TraceBounds>,
  rows: ReadonlyArray<RankedRow>,
  model: ReadonlyArray<ModelRow>,
  waitUsdPerHour: number
) =>
  [
    "# Routing × idle policy benchmark",
    "",
    `Each policy row is a simulation on the engine: the Router with the policies' Layers over Fly and the shared ECS cluster per region, costs from the simulators' ledgers, start latencies from the Router's dispatch results. The bounds are analytic, in the router's oracle model: Oracle-0 the fluid lower bound; the exact optimum (any machine assignment; keep, suspend, stop, destroy and re-create on any platform; clairvoyant, so nothing waits); the wait-aware optimum (the same with machines woken and created on arrival and waiting charged at $${waitUsdPerHour}/h); Oracle-1, the per-slot DP (never re-creates, earliest-free slots), not the optimum. The engine bills what the model leaves out (shared ECS capacity, workspace volumes), so /exact on the engine is not like for like; the idle-policy matrix (each policy on the cheaper of Fly or ECS for all tasks) is. Front tables list the Pareto front of cost, mean and p95 start per trace.`,
    "",
    ...sections(bounds, rows, model, waitUsdPerHour, Table.markdown).flatMap((s) => [
      `## ${s.title}`,
      "",
      s.table,
      ""
    ]),
    "## Every run",
    "",
    reuseNote(rows),
    "",
    Table.markdown(fullColumns, rows)
  ].join("\n")
