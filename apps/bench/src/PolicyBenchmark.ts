/**
 * `hangar-bench policies`: every routing × idle policy on every trace, each run on the engine — the real Router
 * with the policy's Layers over both providers (Fly; ECS as the shared cluster per region that the cost table
 * simulates), their costs from the simulators' ledgers and their cold starts and start latencies from the
 * Router's dispatch results — and shown against the analytic Oracle-1 (the clairvoyant optimum) and Oracle-0
 * (the fluid lower bound), with the warm time compute was up beyond its tasks and a total that weighs waiting at
 * a configurable price. The Pareto front is over cost and p95 start latency.
 */
import { type IdlePolicy, type RoutingPolicy, Statistics } from "@hangar/core"
import * as EcsCostModel from "@hangar/provider-ecs/cost-model"
import * as FlyCostModel from "@hangar/provider-fly/cost-model"
import { IdlePolicies, Oracle, RoutingPolicies } from "@hangar/router"
import { Exit, type Layer } from "effect"
import * as AzureTraces from "./AzureTraces.js"
import * as Engine from "./engine/Engine.js"
import type { Scenario } from "./Scenario.js"
import * as Trace from "./Trace.js"

export interface PolicyRow {
  readonly trace: string
  readonly routing: string
  readonly idle: string
  readonly tasks: number
  readonly failed: number
  readonly costUsd: number
  readonly costOverOracle1: number
  readonly costOverOracle0: number
  readonly coldStarts: number
  readonly p50StartSeconds: number
  readonly p95StartSeconds: number
  readonly p99StartSeconds: number
  readonly wastedWarmHours: number
  readonly weightedTotalUsd: number
  readonly byProvider: Readonly<Record<string, number>>
  pareto: boolean
}

export interface TraceBounds {
  readonly trace: string
  readonly tasks: number
  readonly oracle0Usd: number
  readonly oracle1Usd: number
}

/** Where a trace comes from (regenerated from this in a worker thread) and the world it runs in. */
export type TraceSource =
  | { readonly kind: "scenario"; readonly scenario: Scenario }
  | { readonly kind: "azure"; readonly options: AzureTraces.AzureTraceOptions }

export interface PolicyTrace {
  readonly name: string
  readonly source: TraceSource
}

export const traceOf = (source: TraceSource): ReadonlyArray<Oracle.TraceTask> =>
  source.kind === "scenario" ? Trace.generate(source.scenario) : AzureTraces.generate(source.options)

/** The cluster and Fly settings a trace runs with: a scenario's own; for Azure-shaped traces, the first scenario's. */
export const worldOf = (source: TraceSource): Engine.PolicyWorld =>
  source.kind === "scenario"
    ? {
        regions: source.scenario.regions,
        seed: source.scenario.seed,
        days: source.scenario.days,
        ecs: source.scenario.ecs,
        flyVolumeGb: source.scenario.fly.volumeGb
      }
    : {
        regions: ["iad"],
        seed: source.options.seed,
        days: source.options.days,
        ecs: { instanceType: "t3.large", minInstances: 1, maxInstances: 4 },
        flyVolumeGb: 10
      }

export const routingPolicies: ReadonlyArray<
  readonly [string, () => Layer.Layer<RoutingPolicy.RoutingPolicy>]
> = [
  ["all-fly", () => RoutingPolicies.preferred({ defaultProvider: "fly" })],
  ["all-ecs", () => RoutingPolicies.preferred({ defaultProvider: "ecs" })],
  ["rules", () => RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" })],
  ["primary-overflow", () => RoutingPolicies.primaryOverflow({ primary: "fly", overflow: "ecs" })],
  ["cost-aware", () => RoutingPolicies.costAware()]
]

export const idlePolicies = (
  seed: number,
  waitMicroUsdPerSecond: number
): ReadonlyArray<readonly [string, () => Layer.Layer<IdlePolicy.IdlePolicy>]> => [
  ["fixed-5m", () => IdlePolicies.fixedTimeout(5)],
  ["fixed-10m", () => IdlePolicies.fixedTimeout(10)],
  ["fixed-15m", () => IdlePolicies.fixedTimeout(15)],
  ["break-even", () => IdlePolicies.breakEven({ waitMicroUsdPerSecond })],
  ["break-even-randomized", () => IdlePolicies.randomizedBreakEven({ seed, waitMicroUsdPerSecond })],
  ["histogram", () => IdlePolicies.histogram()],
  ["learning-augmented", () => IdlePolicies.learningAugmented({ trust: 0.5, waitMicroUsdPerSecond })],
  ["platform", () => IdlePolicies.platform]
]

export interface PolicyBenchmarkOptions {
  /** What a second of waiting for a session to start is worth, in USD ($60/h by default). */
  readonly waitUsdPerSecond: number
  readonly seed: number
}

/** One run: a trace under one routing and one idle policy. */
export interface PolicyRun {
  readonly trace: PolicyTrace
  readonly routing: string
  readonly idle: string
  readonly options: PolicyBenchmarkOptions
}

/** The runs of every routing × idle policy on every trace, in the order of the report. */
export const runsOf = (
  traces: ReadonlyArray<PolicyTrace>,
  options: PolicyBenchmarkOptions
): ReadonlyArray<PolicyRun> =>
  traces.flatMap((trace) =>
    routingPolicies.flatMap(([routing]) =>
      idlePolicies(options.seed, 0).map(([idle]) => ({ trace, routing, idle, options }))
    )
  )

/** Simulates one run on the engine; its row (Oracle ratios filled in by `rows`). */
export const simulate = (run: PolicyRun, onProgress?: Engine.Progress): PolicyRow => {
  const trace = traceOf(run.trace.source)
  const routing = routingPolicies.find(([name]) => name === run.routing)?.[1]
  const idle = idlePolicies(run.options.seed, run.options.waitUsdPerSecond * 1e6).find(
    ([name]) => name === run.idle
  )?.[1]
  if (routing === undefined || idle === undefined)
    throw new Error(`unknown policy ${run.routing} × ${run.idle}`)
  const outcome = Engine.runPolicies(worldOf(run.trace.source), trace, routing(), idle(), onProgress)
  const latencies: Array<number> = []
  const byProvider: Record<string, number> = {}
  let coldStarts = 0
  let failed = 0
  for (const exit of outcome.dispatched) {
    if (Exit.isFailure(exit)) {
      failed++
      continue
    }
    latencies.push(exit.value.startLatencyMillis / 1000)
    if (exit.value.coldStart) coldStarts++
    byProvider[exit.value.provider] = (byProvider[exit.value.provider] ?? 0) + 1
  }
  const cost = (outcome.flyMicroUsd + outcome.ecsMicroUsd) / 1e6
  const waitSeconds = latencies.reduce((a, b) => a + b, 0)
  return {
    trace: run.trace.name,
    routing: run.routing,
    idle: run.idle,
    tasks: trace.length,
    failed,
    costUsd: cost,
    costOverOracle1: 0,
    costOverOracle0: 0,
    coldStarts,
    p50StartSeconds: Statistics.percentile(latencies, 0.5),
    p95StartSeconds: Statistics.percentile(latencies, 0.95),
    p99StartSeconds: Statistics.percentile(latencies, 0.99),
    wastedWarmHours: outcome.warmSeconds / 3600,
    weightedTotalUsd: cost + run.options.waitUsdPerSecond * waitSeconds,
    byProvider,
    pareto: false
  }
}

/** The two sides as the oracle sees them: each plugin's declared dedicated-machine prices; Fly has no GPUs. */
export const flyPlatform = (): Oracle.Platform => ({
  id: "fly",
  feasible: (task) => !task.requiresGpu,
  ...FlyCostModel.make().dedicated
})
export const ecsPlatform = (): Oracle.Platform => ({
  id: "ecs",
  feasible: () => true,
  ...EcsCostModel.make().dedicated
})

/** The analytic bounds of each trace (the oracles' model, not the engine). */
export const boundsOf = (traces: ReadonlyArray<PolicyTrace>): ReadonlyArray<TraceBounds> => {
  const platforms = [flyPlatform(), ecsPlatform()]
  return traces.map(({ name, source }) => {
    const trace = traceOf(source)
    return {
      trace: name,
      tasks: trace.length,
      oracle0Usd: Oracle.oracle0(trace, platforms) / 1e6,
      oracle1Usd: Oracle.oracle1(trace, platforms).costMicroUsd / 1e6
    }
  })
}

/** Fills in each row's Oracle ratios and marks the Pareto front of cost and p95 start latency per trace. */
export const rows = (
  bounds: ReadonlyArray<TraceBounds>,
  simulated: ReadonlyArray<PolicyRow>
): ReadonlyArray<PolicyRow> => {
  const out = simulated.map((row) => {
    const bound = bounds.find((b) => b.trace === row.trace)
    return {
      ...row,
      costOverOracle1: bound === undefined ? 0 : row.costUsd / bound.oracle1Usd,
      costOverOracle0: bound === undefined ? 0 : row.costUsd / bound.oracle0Usd
    }
  })
  for (const row of out) {
    row.pareto = !out.some(
      (other) =>
        other !== row &&
        other.trace === row.trace &&
        other.costUsd <= row.costUsd &&
        other.p95StartSeconds <= row.p95StartSeconds &&
        (other.costUsd < row.costUsd || other.p95StartSeconds < row.p95StartSeconds)
    )
  }
  return out
}

/** Every run in this thread, one after another (the CLI spreads them over worker threads: see Jobs). */
export const run = (
  traces: ReadonlyArray<PolicyTrace>,
  options: PolicyBenchmarkOptions
): { readonly bounds: ReadonlyArray<TraceBounds>; readonly rows: ReadonlyArray<PolicyRow> } => {
  const bounds = boundsOf(traces)
  return {
    bounds,
    rows: rows(
      bounds,
      runsOf(traces, options).map((r) => simulate(r))
    )
  }
}
