/** Renders the policy benchmark: terminal and Markdown tables, JSON, and the cost-vs-latency chart. */
import type { PolicyRow, TraceBounds } from "./PolicyBenchmark.js"
import * as Table from "./Table.js"

const columns: ReadonlyArray<Table.Column<PolicyRow>> = [
  { header: "Trace", value: (r) => r.trace },
  { header: "Routing", value: (r) => r.routing },
  { header: "Idle", value: (r) => r.idle },
  { header: "Failed", align: "right", value: (r) => String(r.failed) },
  { header: "Cost", align: "right", value: (r) => Table.usd(r.costUsd) },
  { header: "/Oracle-1", align: "right", value: (r) => r.costOverOracle1.toFixed(2) },
  { header: "/Oracle-0", align: "right", value: (r) => r.costOverOracle0.toFixed(2) },
  { header: "Cold", align: "right", value: (r) => String(r.coldStarts) },
  { header: "p50 s", align: "right", value: (r) => r.p50StartSeconds.toFixed(1) },
  { header: "p95 s", align: "right", value: (r) => r.p95StartSeconds.toFixed(1) },
  { header: "p99 s", align: "right", value: (r) => r.p99StartSeconds.toFixed(1) },
  { header: "Warm waste h", align: "right", value: (r) => r.wastedWarmHours.toFixed(1) },
  { header: "Cost+wait", align: "right", value: (r) => Table.usd(r.weightedTotalUsd) },
  { header: "Pareto", value: (r) => (r.pareto ? "*" : "") }
]

const boundColumns: ReadonlyArray<Table.Column<TraceBounds>> = [
  { header: "Trace", value: (b) => b.trace },
  { header: "Tasks", align: "right", value: (b) => String(b.tasks) },
  { header: "Oracle-0 (fluid bound)", align: "right", value: (b) => Table.usd(b.oracle0Usd) },
  { header: "Oracle-1 (clairvoyant)", align: "right", value: (b) => Table.usd(b.oracle1Usd) }
]

export const text = (bounds: ReadonlyArray<TraceBounds>, rows: ReadonlyArray<PolicyRow>) =>
  `${Table.text(boundColumns, bounds)}\n\n${Table.text(columns, rows)}`

export const markdown = (
  bounds: ReadonlyArray<TraceBounds>,
  rows: ReadonlyArray<PolicyRow>,
  waitUsdPerHour: number
) =>
  [
    "# Routing × idle policy benchmark",
    "",
    `Each row is a simulation on the engine: the Router with the policies' Layers over Fly and the shared ECS cluster per region, costs from the simulators' ledgers, cold starts and start latencies from the Router's dispatch results. The Oracle bounds are analytic (router Oracle model). Waiting is weighed at $${waitUsdPerHour}/h in Cost+wait. * marks the Pareto front of cost and p95 start latency per trace.`,
    "",
    Table.markdown(boundColumns, bounds),
    "",
    Table.markdown(columns, rows)
  ].join("\n")
