/**
 * `hangar-bench policies`: every routing × idle policy on every trace, each run on the engine — the real Router
 * with the policy's Layers over both providers (Fly; ECS as the shared cluster per region that the cost table
 * simulates), their costs from the simulators' ledgers and their cold starts and start latencies from the
 * Router's dispatch results — and ranked against the analytic bounds of the router's oracle model: the exact
 * offline optimum (`Optimum.optimum`), its wait-aware variant (waiting charged at `--wait-usd-per-hour`, no
 * pre-wake), Oracle-1 (the per-slot DP, not the optimum: it never re-creates and assigns earliest-free) and Oracle-0
 * (the fluid lower bound).
 *
 * The seam between an evaluator and the report is `PolicyRow`, a policy's outcomes on a trace (cost, start
 * latencies, cold starts, warm waste): `simulateGroup` produces it on the engine (a run whose routing policy
 * answers an earlier run's calls alike is that run, and is not simulated again: SameDecisions); any other
 * evaluator that fills it in can replace it. `rank` turns outcomes and bounds into the report's rows (ratios,
 * totals, the Pareto front, the recommendation); it reads nothing else.
 */
import { IdlePolicy, type RoutingPolicy, Statistics } from "@hangar/core"
import * as EcsCostModel from "@hangar/provider-ecs/cost-model"
import * as FlyCostModel from "@hangar/provider-fly/cost-model"
import { IdlePolicies, Optimum, Oracle, RoutingPolicies } from "@hangar/router"
import { Effect, Exit, type Layer } from "effect"
import * as AzureTraces from "./AzureTraces.js"
import * as Engine from "./engine/Engine.js"
import * as SameDecisions from "./SameDecisions.js"
import type { Scenario } from "./Scenario.js"
import * as Trace from "./Trace.js"

/** A policy's outcomes on a trace: all the report needs from an evaluator (the engine, or any other). */
export interface PolicyRow {
  readonly trace: string
  readonly routing: string
  readonly idle: string
  readonly tasks: number
  readonly failed: number
  /** Money billed over the trace, USD. */
  readonly costUsd: number
  readonly coldStarts: number
  /** Start latency over the tasks that ran, seconds: mean, percentiles, and the sum (the total wait). */
  readonly meanStartSeconds: number
  readonly p50StartSeconds: number
  readonly p95StartSeconds: number
  readonly p99StartSeconds: number
  readonly waitSeconds: number
  readonly wastedWarmHours: number
  readonly byProvider: Readonly<Record<string, number>>
  /**
   * The routing policy of an earlier run on this trace and idle policy whose calls this run's routing policy
   * answered alike, one by one, so that the run is that run and was not simulated again (see SameDecisions);
   * null when the run was simulated.
   */
  readonly sameDecisionsAs: string | null
}

/** A row of the report: the outcomes, their ratios to the bounds, and where they stand on the trace's front. */
export interface RankedRow extends PolicyRow {
  /** Cost / the exact optimum, cost / Oracle-1, cost / Oracle-0. */
  readonly costOverOptimum: number
  readonly costOverOracle1: number
  readonly costOverOracle0: number
  /** Cost plus the wait at the stated price, and its ratio to the wait-aware optimum. */
  readonly totalUsd: number
  readonly totalOverWaitAware: number | null
  /** On the Pareto front of cost, mean start and p95 start among this trace's policies. */
  readonly pareto: boolean
  /** The policy with the least cost plus wait on this trace (among those with no failed task, if any). */
  readonly recommended: boolean
}

/** The oracle model's bounds of a trace (analytic; not the engine's). */
export interface TraceBounds {
  readonly trace: string
  readonly tasks: number
  /** Fluid lower bound. */
  readonly oracle0Usd: number
  /** The exact offline optimum (clairvoyant: no task waits). */
  readonly optimumUsd: number
  /**
   * The wait-aware optimum: money plus waiting at the stated price, and its two parts; null where a repository
   * is too dense for it within `waitAwareMaxStates` (see Optimum.ts).
   */
  readonly waitAwareUsd: number | null
  readonly waitAwareMoneyUsd: number | null
  readonly waitAwareWaitSeconds: number | null
  /** The per-slot DP the benchmark used to call the optimum. */
  readonly oracle1Usd: number
}

/** Where a trace comes from (regenerated from this in a worker thread) and the world it runs in. */
export type TraceSource =
  | { readonly kind: "scenario"; readonly scenario: Scenario }
  | {
      readonly kind: "azure"
      readonly options: AzureTraces.AzureTraceOptions
      /** The ECS cluster it runs against (the first scenario's, as `compare` simulates it). */
      readonly ecs: Engine.ClusterShape
    }

export interface PolicyTrace {
  readonly name: string
  readonly source: TraceSource
}

export const traceOf = (source: TraceSource): ReadonlyArray<Oracle.TraceTask> =>
  source.kind === "scenario" ? Trace.generate(source.scenario) : AzureTraces.generate(source.options)

/** The cluster and Fly settings a trace runs with: a scenario's own; for Azure-shaped traces, the one given. */
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
        ecs: source.ecs,
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
  ["expected-cost", () => IdlePolicies.expectedCost({ waitMicroUsdPerSecond })],
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

const runKey = (run: { readonly trace: string; readonly routing: string; readonly idle: string }) =>
  `${run.trace}\u0000${run.routing}\u0000${run.idle}`

/** `rows` (of `runs`, in any order) in the order of `runs`, the report's. */
export const inRunOrder = (
  runs: ReadonlyArray<PolicyRun>,
  rows: ReadonlyArray<PolicyRow>
): ReadonlyArray<PolicyRow> => {
  const byRun = new Map(rows.map((row) => [runKey(row), row]))
  return runs.map((run) => {
    const row = byRun.get(runKey({ ...run, trace: run.trace.name }))
    if (row === undefined) throw new Error(`no row for ${run.trace.name} ${run.routing} × ${run.idle}`)
    return row
  })
}

/** The runs of one trace under one idle policy, each routing policy's: simulated together by `simulateGroup`. */
export const groupsOf = (runs: ReadonlyArray<PolicyRun>): ReadonlyArray<ReadonlyArray<PolicyRun>> => {
  const groups = new Map<string, Array<PolicyRun>>()
  for (const run of runs) {
    const key = `${run.trace.name}\u0000${run.idle}`
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [run])
    else group.push(run)
  }
  return [...groups.values()]
}

const policiesOf = (run: PolicyRun) => {
  const routing = routingPolicies.find(([name]) => name === run.routing)?.[1]
  const idle = idlePolicies(run.options.seed, run.options.waitUsdPerSecond * 1e6).find(
    ([name]) => name === run.idle
  )?.[1]
  if (routing === undefined || idle === undefined)
    throw new Error(`unknown policy ${run.routing} × ${run.idle}`)
  return { routing, idle }
}

/**
 * The runs of one trace under one idle policy (`groupsOf`) on the engine, their rows in their order. Each run
 * simulated carries the routing policies of the runs not yet done as shadows (SameDecisions): a shadow still
 * alike at the end is that run, and takes its row. `onProgress` hears of the group's simulated time and
 * dispatches over all its runs.
 */
export const simulateGroup = (
  runs: ReadonlyArray<PolicyRun>,
  onProgress?: Engine.Progress,
  driver: Engine.Driver = "kernel"
): ReadonlyArray<PolicyRow> => {
  const first = runs[0]
  if (first === undefined) return []
  const trace = traceOf(first.trace.source)
  const runMillis = worldOf(first.trace.source).days * 86_400_000
  const rows = new Map<PolicyRun, PolicyRow>()
  for (const run of runs) {
    if (rows.has(run)) continue
    const done = rows.size
    const progress: Engine.Progress | undefined =
      onProgress && ((millis, tasks) => onProgress(done * runMillis + millis, done * trace.length + tasks))
    const later = runs.filter((other) => other !== run && !rows.has(other))
    const shadows = later.map((other) => ({
      name: other.routing,
      policy: policiesOf(other).routing(),
      alike: true
    }))
    const routing = SameDecisions.shadowed(policiesOf(run).routing(), shadows)
    const row = simulate(run, trace, routing, progress, driver)
    rows.set(run, row)
    for (const [index, shadow] of shadows.entries())
      if (shadow.alike)
        rows.set(later[index]!, { ...row, routing: shadow.name, sameDecisionsAs: run.routing })
    onProgress?.(rows.size * runMillis, rows.size * trace.length)
  }
  return runs.map((run) => rows.get(run)!)
}

/** Simulates one run on the engine with `routing` (the run's routing policy); its row (ratios filled by `rank`). */
const simulate = (
  run: PolicyRun,
  trace: ReadonlyArray<Oracle.TraceTask>,
  routing: Layer.Layer<RoutingPolicy.RoutingPolicy>,
  onProgress: Engine.Progress | undefined,
  driver: Engine.Driver
): PolicyRow => {
  const outcome = Engine.runPolicies(
    worldOf(run.trace.source),
    trace,
    routing,
    policiesOf(run).idle(),
    onProgress,
    driver
  )
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
  const waitSeconds = latencies.reduce((a, b) => a + b, 0)
  return {
    trace: run.trace.name,
    routing: run.routing,
    idle: run.idle,
    tasks: trace.length,
    failed,
    costUsd: (outcome.flyMicroUsd + outcome.ecsMicroUsd) / 1e6,
    coldStarts,
    meanStartSeconds: latencies.length === 0 ? 0 : waitSeconds / latencies.length,
    p50StartSeconds: Statistics.percentile(latencies, 0.5),
    p95StartSeconds: Statistics.percentile(latencies, 0.95),
    p99StartSeconds: Statistics.percentile(latencies, 0.99),
    waitSeconds,
    wastedWarmHours: outcome.warmSeconds / 3600,
    byProvider,
    sameDecisionsAs: null
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

/** The analytic bounds of each trace (the oracle model, not the engine), waiting priced at `waitUsdPerSecond`. */
export const boundsOf = (
  traces: ReadonlyArray<PolicyTrace>,
  waitUsdPerSecond: number
): ReadonlyArray<TraceBounds> => {
  const platforms = [flyPlatform(), ecsPlatform()]
  return traces.map(({ name, source }) => {
    const trace = traceOf(source)
    const waitAware = waitAwareOptimum(trace, platforms, waitUsdPerSecond)
    return {
      trace: name,
      tasks: trace.length,
      oracle0Usd: Oracle.oracle0(trace, platforms) / 1e6,
      optimumUsd: Optimum.optimum(trace, platforms).costMicroUsd / 1e6,
      waitAwareUsd: waitAware === undefined ? null : waitAware.costMicroUsd / 1e6,
      waitAwareMoneyUsd: waitAware === undefined ? null : waitAware.moneyMicroUsd / 1e6,
      waitAwareWaitSeconds: waitAware === undefined ? null : waitAware.waitSeconds,
      oracle1Usd: Oracle.oracle1(trace, platforms).costMicroUsd / 1e6
    }
  })
}

/**
 * The DP states per arrival the wait-aware optimum may keep here: enough for the seed scenarios (at most 24),
 * not for the densest Azure-shaped repositories (150 and more, minutes each), which are left without it.
 */
export const waitAwareMaxStates = 60

const waitAwareOptimum = (
  trace: ReadonlyArray<Oracle.TraceTask>,
  platforms: ReadonlyArray<Oracle.Platform>,
  waitUsdPerSecond: number
): Optimum.OptimumResult | undefined => {
  try {
    return Optimum.optimum(trace, platforms, {
      waitMicroUsdPerSecond: waitUsdPerSecond * 1e6,
      maxStates: waitAwareMaxStates
    })
  } catch (error) {
    if (error instanceof Optimum.TooManyStates) return undefined
    throw error
  }
}

/** True when `a` is no worse than `b` on cost, mean and p95 start, and better on one. */
const dominates = (a: PolicyRow, b: PolicyRow) =>
  a.costUsd <= b.costUsd &&
  a.meanStartSeconds <= b.meanStartSeconds &&
  a.p95StartSeconds <= b.p95StartSeconds &&
  (a.costUsd < b.costUsd || a.meanStartSeconds < b.meanStartSeconds || a.p95StartSeconds < b.p95StartSeconds)

/**
 * The report's rows: each outcome's ratios to its trace's bounds, its cost plus wait at `waitUsdPerSecond`, the
 * Pareto front of cost, mean and p95 start per trace, and per trace the recommended policy (least cost plus wait,
 * preferring policies that failed no task).
 */
export const rank = (
  bounds: ReadonlyArray<TraceBounds>,
  outcomes: ReadonlyArray<PolicyRow>,
  waitUsdPerSecond: number
): ReadonlyArray<RankedRow> => {
  const ratio = (value: number, bound: number | undefined) =>
    bound === undefined || bound <= 0 ? 0 : value / bound
  const ratioOrNull = (value: number, bound: number | null | undefined) =>
    bound === undefined || bound === null || bound <= 0 ? null : value / bound
  const total = (row: PolicyRow) => row.costUsd + waitUsdPerSecond * row.waitSeconds
  const recommended = new Set<PolicyRow>()
  for (const trace of new Set(outcomes.map((r) => r.trace))) {
    const here = outcomes.filter((r) => r.trace === trace)
    const clean = here.filter((r) => r.failed === 0)
    const pool = clean.length > 0 ? clean : here
    const best = pool.reduce<PolicyRow | undefined>(
      (a, b) => (a === undefined || total(b) < total(a) ? b : a),
      undefined
    )
    if (best !== undefined) recommended.add(best)
  }
  return outcomes.map((row) => {
    const bound = bounds.find((b) => b.trace === row.trace)
    return {
      ...row,
      costOverOptimum: ratio(row.costUsd, bound?.optimumUsd),
      costOverOracle1: ratio(row.costUsd, bound?.oracle1Usd),
      costOverOracle0: ratio(row.costUsd, bound?.oracle0Usd),
      totalUsd: total(row),
      totalOverWaitAware: ratioOrNull(total(row), bound?.waitAwareUsd),
      pareto: !outcomes.some((other) => other !== row && other.trace === row.trace && dominates(other, row)),
      recommended: recommended.has(row)
    }
  })
}

/** Every run in this thread, one after another (the CLI spreads them over worker threads: see Jobs). */
export const run = (
  traces: ReadonlyArray<PolicyTrace>,
  options: PolicyBenchmarkOptions
): { readonly bounds: ReadonlyArray<TraceBounds>; readonly rows: ReadonlyArray<RankedRow> } => {
  const bounds = boundsOf(traces, options.waitUsdPerSecond)
  const runs = runsOf(traces, options)
  const rows = inRunOrder(
    runs,
    groupsOf(runs).flatMap((group) => simulateGroup(group))
  )
  return { bounds, rows: rank(bounds, rows, options.waitUsdPerSecond) }
}

/** An idle policy priced in the oracle's own model: like for like with the exact and wait-aware optima. */
export interface ModelRow {
  readonly trace: string
  readonly idle: string
  /** The cheaper of running every task on Fly or on ECS under this idle policy. */
  readonly platform: string
  readonly costUsd: number
  readonly costOverOptimum: number
  /** The platform with the least cost plus wait under this idle policy (ECS's launches can make it Fly). */
  readonly totalPlatform: string
  /** Cost plus every wait (wakes, and each machine's creation) at the stated price, over the wait-aware optimum. */
  readonly totalUsd: number
  readonly totalOverWaitAware: number | null
}

/**
 * Every idle policy on every trace in the oracle's model (`Oracle.evaluateIdlePolicy`: Oracle-1's slots, one
 * platform for all tasks), against the bounds: how far an online idle policy is from the exact optimum when both
 * are priced alike, which the engine's bills (shared ECS capacity, volumes, real wake times) are not.
 */
export const idleInModel = (
  traces: ReadonlyArray<PolicyTrace>,
  bounds: ReadonlyArray<TraceBounds>,
  options: PolicyBenchmarkOptions
): ReadonlyArray<ModelRow> => {
  const lambda = options.waitUsdPerSecond * 1e6
  return traces.flatMap(({ name, source }) => {
    const trace = traceOf(source)
    const bound = bounds.find((b) => b.trace === name)
    const slots = Oracle.slots(trace).length
    return idlePolicies(options.seed, lambda).map(([idle, layer]) => {
      const priced = [flyPlatform(), ecsPlatform()]
        .filter((platform) => trace.every((task) => platform.feasible(task)))
        .map((platform) => {
          const service = Effect.runSync(Effect.provide(IdlePolicy.IdlePolicy, layer()))
          const result = Oracle.evaluateIdlePolicy(trace, platform, service)
          const wait = result.startLatencies.reduce((a, b) => a + b, 0) + slots * platform.createSeconds
          return {
            platform: platform.id,
            cost: result.costMicroUsd / 1e6,
            total: (result.costMicroUsd + lambda * wait) / 1e6
          }
        })
      // Each bound may use any platform, so each ratio takes the policy on its own best platform for that measure.
      const cheapest = priced.reduce((a, b) => (b.cost < a.cost ? b : a))
      const leastTotal = priced.reduce((a, b) => (b.total < a.total ? b : a))
      return {
        trace: name,
        idle,
        platform: cheapest.platform,
        costUsd: cheapest.cost,
        costOverOptimum: bound === undefined ? 0 : cheapest.cost / bound.optimumUsd,
        totalPlatform: leastTotal.platform,
        totalUsd: leastTotal.total,
        totalOverWaitAware:
          bound === undefined || bound.waitAwareUsd === null ? null : leastTotal.total / bound.waitAwareUsd
      }
    })
  })
}
