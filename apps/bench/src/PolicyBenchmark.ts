/**
 * `hangar-bench policies`: every routing × idle policy on every trace, priced analytically on the same slots
 * and prices as the oracles (router's `Oracle.evaluateIdlePolicy`), so each policy is shown against Oracle-1
 * (the clairvoyant optimum) and Oracle-0 (the fluid lower bound), with its cold starts, start latencies, wasted
 * warm time, and a total that weighs waiting at a configurable price. The Pareto front is over cost and p95
 * start latency.
 */
import { IdlePolicy, RoutingPolicy, TaskSpec } from "@hangar/core"
import { IdlePolicies, Oracle, Platforms, RoutingPolicies } from "@hangar/router"
import { Effect, type Layer } from "effect"
import * as Candidates from "./Candidates.js"

export interface PolicyRow {
  readonly trace: string
  readonly routing: string
  readonly idle: string
  readonly tasks: number
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

export const routingPolicies: ReadonlyArray<
  readonly [string, () => Layer.Layer<RoutingPolicy.RoutingPolicy>]
> = [
  ["all-fly", () => RoutingPolicies.preferred({ defaultProvider: "fly" })],
  ["all-ecs", () => RoutingPolicies.preferred({ defaultProvider: "ecs" })],
  ["rules", () => RoutingPolicies.rules()],
  ["primary-overflow", () => RoutingPolicies.primaryOverflow()],
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

const service = <I, S>(
  tag: { readonly key: string } & Effect.Effect<S, never, I>,
  layer: Layer.Layer<I>
): S => Effect.runSync(Effect.provide(tag, layer))

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0
}

/** Routes every task of a trace with a policy (no failures: the analytic model has none). */
export const route = (
  trace: ReadonlyArray<Oracle.TraceTask>,
  policy: RoutingPolicy.Service
): ReadonlyMap<string, string> => {
  const chosen = new Map<string, string>()
  for (const task of trace) {
    const spec = new TaskSpec.TaskSpec({
      taskId: task.taskId.replace(/[^A-Za-z0-9._:-]/g, "-") as TaskSpec.TaskId,
      repository: task.repository as TaskSpec.Repository,
      region: task.region as TaskSpec.TaskSpec["region"],
      size: task.size,
      requiresGpu: task.requiresGpu,
      expectedDurationSeconds: task.durationMillis / 1000
    })
    const decision = Effect.runSync(
      Effect.either(policy.decide({ task: spec, candidates: Candidates.both, excluded: [] }))
    )
    if (decision._tag === "Left")
      throw new Error(`${policy.name} cannot route ${task.taskId}: ${decision.left.message}`)
    chosen.set(task.taskId, decision.right.provider)
  }
  return chosen
}

export interface PolicyBenchmarkOptions {
  /** What a second of waiting for a session to start is worth, in USD ($60/h by default). */
  readonly waitUsdPerSecond: number
  readonly seed: number
}

export const run = (
  traces: ReadonlyArray<readonly [string, ReadonlyArray<Oracle.TraceTask>]>,
  options: PolicyBenchmarkOptions,
  onProgress: (done: number, total: number) => void = () => undefined
): { readonly bounds: ReadonlyArray<TraceBounds>; readonly rows: ReadonlyArray<PolicyRow> } => {
  const platforms = { fly: Platforms.fly(), ecs: Platforms.ecs() }
  const idle = idlePolicies(options.seed, options.waitUsdPerSecond * 1e6)
  const total = traces.length * routingPolicies.length * idle.length
  let done = 0
  const bounds: Array<TraceBounds> = []
  const rows: Array<PolicyRow> = []
  for (const [name, trace] of traces) {
    const o0 = Oracle.oracle0(trace, [platforms.fly, platforms.ecs])
    const o1 = Oracle.oracle1(trace, [platforms.fly, platforms.ecs]).costMicroUsd
    bounds.push({ trace: name, tasks: trace.length, oracle0Usd: o0 / 1e6, oracle1Usd: o1 / 1e6 })
    const traceRows: Array<PolicyRow> = []
    for (const [routingName, routingLayer] of routingPolicies) {
      const placement = route(trace, service(RoutingPolicy.RoutingPolicy, routingLayer()))
      for (const [idleName, idleLayer] of idle) {
        let cost = 0
        let coldStarts = 0
        let wasted = 0
        const latencies: Array<number> = []
        const byProvider: Record<string, number> = {}
        for (const [id, platform] of Object.entries(platforms)) {
          const subset = trace.filter((t) => placement.get(t.taskId) === id)
          if (subset.length === 0) continue
          const evaluation = Oracle.evaluateIdlePolicy(
            subset,
            platform,
            service(IdlePolicy.IdlePolicy, idleLayer())
          )
          const firsts = Oracle.slots(subset).length
          cost += evaluation.costMicroUsd
          coldStarts += evaluation.coldStarts + firsts
          wasted += evaluation.wastedWarmSeconds
          latencies.push(
            ...evaluation.startLatencies,
            ...Array.from({ length: firsts }, () => platform.createSeconds)
          )
          byProvider[id] = subset.length
        }
        const waitSeconds = latencies.reduce((a, b) => a + b, 0)
        traceRows.push({
          trace: name,
          routing: routingName,
          idle: idleName,
          tasks: trace.length,
          costUsd: cost / 1e6,
          costOverOracle1: cost / o1,
          costOverOracle0: cost / o0,
          coldStarts,
          p50StartSeconds: percentile(latencies, 0.5),
          p95StartSeconds: percentile(latencies, 0.95),
          p99StartSeconds: percentile(latencies, 0.99),
          wastedWarmHours: wasted / 3600,
          weightedTotalUsd: cost / 1e6 + options.waitUsdPerSecond * waitSeconds,
          byProvider,
          pareto: false
        })
        onProgress(++done, total)
      }
    }
    for (const row of traceRows) {
      row.pareto = !traceRows.some(
        (other) =>
          other !== row &&
          other.costUsd <= row.costUsd &&
          other.p95StartSeconds <= row.p95StartSeconds &&
          (other.costUsd < row.costUsd || other.p95StartSeconds < row.p95StartSeconds)
      )
    }
    rows.push(...traceRows)
  }
  return { bounds, rows }
}
