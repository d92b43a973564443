/**
 * What both paths share: a side's result, the Router a side runs (its one provider preferred for every task, the
 * scenario's idle timeout and exec limit), the replay of a trace through it, and the summary of its outcomes.
 * The wire path (CostTable) runs the plugins under the Router; the engine (engine/) runs its own providers on the
 * simulators' models, under its kernel or (its check) under the Router.
 */
import {
  type IdlePolicy,
  Money,
  Pricing,
  PricingCatalog,
  type ProviderRegistry,
  type Region,
  type RoutingPolicy,
  TaskSpec
} from "@hangar/core"
import { IdlePolicies, Optimum, type Oracle, Router, RoutingPolicies, SessionStore } from "@hangar/router"
import { Cause, Clock, Duration, Effect, Exit, FiberSet, Layer } from "effect"
import { execLimitSeconds, type Scenario } from "./Scenario.js"

/** One billable component of a side's bill (Infracost style): what it is and what it cost. */
export interface CostComponent {
  readonly component: string
  readonly usd: number
  readonly usdPerMonth: number
}

export interface SideResult {
  readonly provider: "fly" | "ecs"
  /** Every billable component, from the simulators' ledgers plus data transfer at the scenario's assumption. */
  readonly components: ReadonlyArray<CostComponent>
  readonly usd: number
  /** Scaled to 30 days, for the monthly table. */
  readonly usdPerMonth: number
  readonly tasks: number
  readonly failed: number
  /** Why tasks failed: the error's tag and message, with how many failed so (most frequent first). */
  readonly failureReasons: ReadonlyArray<FailureReason>
  readonly startLatencySeconds: ReadonlyArray<number>
  readonly coldStarts: number
  /** Machine-hours by state (Fly) or instance-hours (ECS). */
  readonly hoursByState: Readonly<Record<string, number>>
  readonly events: number
}

export const day = 86_400_000
/** Every simulation starts at this instant. */
export const start = Date.UTC(2026, 0, 1)

export const taskInput = (task: Oracle.TraceTask): TaskSpec.TaskSpecInput => ({
  taskId: task.taskId.replace(/[^A-Za-z0-9._:-]/g, "-"),
  repository: task.repository,
  region: task.region,
  size: task.size,
  requiresGpu: task.requiresGpu,
  expectedDurationSeconds: Math.max(1, Math.round(task.durationMillis / 1000)),
  command: ["work", String(Math.max(1, Math.round(task.durationMillis / 1000)))]
})

/**
 * The task as the Router's `TaskSpec`, built without decoding: the trace is generated here, and decoding a
 * spec costs more than the rest of a dispatch's bookkeeping.
 */
export const taskSpec = (task: Oracle.TraceTask): TaskSpec.TaskSpec => {
  const seconds = Math.max(1, Math.round(task.durationMillis / 1000))
  return new TaskSpec.TaskSpec(
    {
      taskId: task.taskId.replace(/[^A-Za-z0-9._:-]/g, "-") as TaskSpec.TaskId,
      repository: task.repository as TaskSpec.Repository,
      branch: "main",
      region: task.region as Region.Region,
      size: task.size,
      requiresGpu: task.requiresGpu,
      expectedDurationSeconds: seconds,
      command: ["work", String(seconds)],
      env: {}
    },
    true
  )
}

/**
 * Dispatches every task at its arrival time through the router (each on a fiber of its own, forked when the task
 * arrives), then lets the horizon run out.
 */
/** The trace's task indices in the order they arrive (ties: trace order). */
export const arrivalOrder = (trace: ReadonlyArray<{ readonly arrivalMillis: number }>): Array<number> =>
  trace.map((_, i) => i).sort((a, b) => trace[a]!.arrivalMillis - trace[b]!.arrivalMillis || a - b)

/**
 * How long a replay waits once every task is done: the horizon less the latest end a task could have had (its
 * arrival plus its duration), so that the run covers the horizon however long the tasks waited.
 */
export const tailMillis = (trace: ReadonlyArray<Oracle.TraceTask>, horizonMillis: number): number => {
  let last = 0
  for (const t of trace) last = Math.max(last, t.arrivalMillis + t.durationMillis)
  return Math.max(0, horizonMillis - last)
}

export const replay = (trace: ReadonlyArray<Oracle.TraceTask>, horizonMillis: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const router = yield* Router.Router
      const startedAt = yield* Clock.currentTimeMillis
      // Each dispatch leaves its outcome in its slot; a finished fiber is let go at once (a month is thousands).
      const outcomes: Array<Exit.Exit<Router.DispatchResult, Router.DispatchError>> = new Array(trace.length)
      const running = yield* FiberSet.make<void>()
      for (const i of arrivalOrder(trace)) {
        const task = trace[i]!
        const wait = startedAt + task.arrivalMillis - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        yield* FiberSet.run(
          running,
          Effect.flatMap(Effect.exit(router.dispatch(taskSpec(task))), (exit) =>
            Effect.sync(() => {
              outcomes[i] = exit
            })
          )
        )
      }
      yield* FiberSet.awaitEmpty(running)
      yield* Effect.sleep(Duration.millis(tailMillis(trace, horizonMillis)))
      return outcomes as ReadonlyArray<Exit.Exit<Router.DispatchResult, Router.DispatchError>>
    })
  )

export interface FailureReason {
  readonly reason: string
  readonly count: number
}

/** The error's tag and first line, with the task's id taken out so that like failures group together. */
const reasonOf = (cause: Cause.Cause<unknown>, taskId: string): string => {
  const error = Cause.squash(cause) as { _tag?: unknown; message?: unknown }
  const tag = typeof error?._tag === "string" ? error._tag : "Defect"
  const message = typeof error?.message === "string" ? error.message.split("\n")[0] : String(error)
  return `${tag}: ${message}`.replaceAll(taskId, "<task>")
}

/** Most frequent first, then by text, so that results stay byte-identical. */
export const countReasons = (reasons: ReadonlyArray<FailureReason>): ReadonlyArray<FailureReason> => {
  const counts = new Map<string, number>()
  for (const r of reasons) counts.set(r.reason, (counts.get(r.reason) ?? 0) + r.count)
  return [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1))
}

export const summarise = (
  outcomes: ReadonlyArray<Exit.Exit<Router.DispatchResult, unknown>>,
  tasks: ReadonlyArray<Oracle.TraceTask>
) => {
  const latencies: Array<number> = []
  const reasons: Array<FailureReason> = []
  let failed = 0
  let cold = 0
  for (const [i, exit] of outcomes.entries()) {
    if (Exit.isSuccess(exit)) {
      latencies.push(exit.value.startLatencyMillis / 1000)
      if (exit.value.coldStart) cold++
    } else {
      failed++
      reasons.push({ reason: reasonOf(exit.cause, taskInput(tasks[i]!).taskId), count: 1 })
    }
  }
  return { latencies, failed, cold, failureReasons: countReasons(reasons) }
}

/**
 * A side's policies: its one provider preferred for every task, and the scenario's idle policy — a fixed timeout,
 * then the scenario's way to sleep (suspend where the provider can, else stop; or stop always), so suspend vs
 * stop is part of a side's configuration.
 */
export const sidePolicies = (
  scenario: Scenario,
  defaultProvider: string,
  idleTimeoutMinutes: number
): {
  readonly routing: Layer.Layer<RoutingPolicy.RoutingPolicy>
  readonly idle: Layer.Layer<IdlePolicy.IdlePolicy>
  readonly execTimeoutSeconds: number
} => ({
  routing: RoutingPolicies.preferred({ defaultProvider }),
  idle: IdlePolicies.fixedTimeout(idleTimeoutMinutes, { sleep: scenario.fly.sleepsBy }),
  execTimeoutSeconds: execLimitSeconds(scenario)
})

/** A side's Router: its one provider preferred for every task, the idle timeout, the scenario's exec limit. */
export const routerFor = <E>(
  instanceId: string,
  scenario: Scenario,
  registry: Layer.Layer<ProviderRegistry.ProviderRegistry, E>,
  defaultProvider: string,
  idleTimeoutMinutes: number
) => {
  const { routing, idle, execTimeoutSeconds } = sidePolicies(scenario, defaultProvider, idleTimeoutMinutes)
  // The simulated router never crashes, so reconciliation would find nothing to do: its rounds (every provider
  // listed every 10 minutes for a month) would cost time and change no bill.
  return Router.layer({ instanceId, execTimeoutSeconds, reconcile: false }).pipe(
    Layer.provide(Layer.mergeAll(registry, routing, idle, SessionStore.layerMemory))
  )
}

/** One region's ECS cluster over the scenario (ECS is regional: a cluster and simulator per region). */
export interface EcsRegionResult {
  readonly region: string
  readonly latencies: ReadonlyArray<number>
  readonly failed: number
  readonly failureReasons: ReadonlyArray<FailureReason>
  readonly cold: number
  readonly totalMicroUsd: number
  /** The ledger's components, micro-dollars. */
  readonly components: Readonly<Record<string, number>>
  /** GB the region's tasks sent to the internet, and what a GB costs there beyond the free allowance. */
  readonly egressGb: number
  readonly egressUsdPerGb: number
  readonly instanceHours: number
  readonly events: number
}

type Outcomes = ReadonlyArray<Exit.Exit<Router.DispatchResult, unknown>>

/**
 * The most sessions of one repository in one region that overlap in the trace: what its Fly machine is sized for
 * (each concurrent session gets the preset's CPUs and memory, as its own ECS task does).
 */
export const peakSessions = (trace: ReadonlyArray<Oracle.TraceTask>) => {
  const peaks = new Map(
    [...Optimum.groups(trace)].map(([key, tasks]) => [key, Optimum.peakConcurrency(tasks)] as const)
  )
  return (repository: string, region: string) => peaks.get(`${repository}@${region}`) ?? 1
}

/** GB the tasks send to the internet at the scenario's assumption (MB per minute of a task). */
export const egressGb = (scenario: Scenario, tasks: ReadonlyArray<Oracle.TraceTask>): number =>
  tasks.reduce((gb, t) => gb + ((t.durationMillis / 60_000) * scenario.egressMbPerTaskMinute) / 1000, 0)

/** Components in micro-dollars as the table's rows: dollars for the period simulated and per 30 days. */
const componentRows = (scenario: Scenario, microUsd: ReadonlyArray<readonly [string, number]>) =>
  microUsd.map(([component, micro]) => ({
    component,
    usd: micro / 1e6,
    usdPerMonth: ((micro / 1e6) * 30) / scenario.days
  }))

/** A Fly bill's lines by component: started states as compute, stopped and suspended as root disk, volumes, snapshots. */
const flyComponents = (lines: ReadonlyArray<FlyLine>) => {
  const out = { compute: 0, rootDisk: 0, workspace: 0, snapshots: 0 }
  for (const line of lines) {
    if (line.kind === "volume") out.workspace += line.costMicroUsd
    else if (line.kind === "snapshot") out.snapshots += line.costMicroUsd
    else if (Pricing.flyStateBilling(line.state) === "guest") out.compute += line.costMicroUsd
    else out.rootDisk += line.costMicroUsd
  }
  return out
}

/** A Fly bill line, as the fly-simulator's Billing gives it. */
export interface FlyLine {
  readonly kind: "machine" | "volume" | "snapshot"
  readonly state: string
  readonly costMicroUsd: number
}

/** Fly's outbound data transfer of the tasks, each at its region group's price per GB. */
const flyTransferMicroUsd = (scenario: Scenario, trace: ReadonlyArray<Oracle.TraceTask>): number =>
  scenario.regions.reduce((sum, region) => {
    const gb = egressGb(
      scenario,
      trace.filter((t) => t.region === region)
    )
    const perGb = PricingCatalog.amount(PricingCatalog.fly, Pricing.flyEgressKey(region))
    return sum + Money.cost(Money.scale(Money.rate(perGb, "second"), gb.toFixed(6)), 1000)
  }, 0)

/** The Fly side of a scenario: the dispatches' outcomes and the simulator's bill (machine seconds by state). */
export const flySide = (
  scenario: Scenario,
  outcomes: Outcomes,
  trace: ReadonlyArray<Oracle.TraceTask>,
  bill: {
    readonly totalMicroUsd: number
    readonly secondsByState: Readonly<Record<string, number>>
    readonly lines: ReadonlyArray<FlyLine>
  },
  events: number
): SideResult => {
  const { latencies, failed, cold, failureReasons } = summarise(outcomes, trace)
  const parts = flyComponents(bill.lines)
  const transfer = flyTransferMicroUsd(scenario, trace)
  const total = bill.totalMicroUsd + transfer
  return {
    provider: "fly",
    components: componentRows(scenario, [
      ["compute (started)", parts.compute],
      [`root disk (${Pricing.defaultFlyRootfsGb} GB rootfs, stopped or suspended)`, parts.rootDisk],
      [`workspace storage (${scenario.fly.volumeGb} GB volume per machine)`, parts.workspace],
      ["snapshots (beyond the free 10 GB)", parts.snapshots],
      [`data transfer out (${scenario.egressMbPerTaskMinute} MB per task-minute)`, transfer]
    ]),
    usd: total / 1e6,
    usdPerMonth: ((total / 1e6) * 30) / scenario.days,
    tasks: trace.length,
    failed,
    failureReasons,
    startLatencySeconds: latencies,
    coldStarts: cold,
    hoursByState: Object.fromEntries(Object.entries(bill.secondsByState).map(([s, v]) => [s, v / 3600])),
    events
  }
}

/** One region's ECS result: the dispatches' outcomes and the cluster's bill. */
export const ecsRegion = (
  scenario: Scenario,
  region: string,
  outcomes: Outcomes,
  tasks: ReadonlyArray<Oracle.TraceTask>,
  bill: {
    readonly totalMicroUsd: number
    readonly instanceHours: number
    readonly components: Readonly<Record<string, number>>
  },
  events: number
): EcsRegionResult => ({
  region,
  ...summarise(outcomes, tasks),
  totalMicroUsd: bill.totalMicroUsd,
  components: bill.components,
  egressGb: egressGb(scenario, tasks),
  egressUsdPerGb: Number(
    PricingCatalog.amount(Pricing.ec2PricingStrict(region).catalog, "transfer:internet-out")
  ),
  instanceHours: bill.instanceHours,
  events
})

/**
 * ECS's data transfer out: the account's free allowance (100 GB a month, aggregated across regions, prorated to
 * the days simulated) taken in the scenario's region order, the rest at each region's price.
 */
const ecsTransferMicroUsd = (scenario: Scenario, regions: ReadonlyArray<EcsRegionResult>): number => {
  let free = (Number(PricingCatalog.amount(PricingCatalog.ec2, "transfer:free-gb")) * scenario.days) / 30
  let usd = 0
  for (const r of regions) {
    const billed = Math.max(0, r.egressGb - free)
    free = Math.max(0, free - r.egressGb)
    usd += billed * r.egressUsdPerGb
  }
  return Math.round(usd * 1e6)
}

/** The ECS side of a scenario from its regions' results. */
export const combineEcs = (
  scenario: Scenario,
  tasks: number,
  regions: ReadonlyArray<EcsRegionResult>
): SideResult => {
  const ledger = regions.reduce((sum, r) => sum + r.totalMicroUsd, 0)
  const transfer = ecsTransferMicroUsd(scenario, regions)
  const total = ledger + transfer
  const part = (name: string) => regions.reduce((sum, r) => sum + (r.components[name] ?? 0), 0)
  return {
    provider: "ecs",
    components: componentRows(scenario, [
      ["compute (instances running)", part("compute")],
      ["root disk (30 GiB gp3 per instance)", part("rootDisk")],
      ["public IPv4 (one per instance)", part("publicIpv4")],
      [`workspace storage (EFS, ${scenario.workspaceDataGb} GB per repository)`, part("workspaceStorage")],
      [`data transfer out (${scenario.egressMbPerTaskMinute} MB per task-minute, 100 GB/mo free)`, transfer]
    ]),
    usd: total / 1e6,
    usdPerMonth: ((total / 1e6) * 30) / scenario.days,
    tasks,
    failed: regions.reduce((sum, r) => sum + r.failed, 0),
    failureReasons: countReasons(regions.flatMap((r) => r.failureReasons)),
    startLatencySeconds: regions.flatMap((r) => r.latencies),
    coldStarts: regions.reduce((sum, r) => sum + r.cold, 0),
    hoursByState: { "instance-running": regions.reduce((sum, r) => sum + r.instanceHours, 0) },
    events: regions.reduce((sum, r) => sum + r.events, 0)
  }
}
