/**
 * The seed's cost comparison, simulated: each scenario's trace is dispatched through the real Router and
 * provider plugins to the Fly and ECS simulators, in virtual time, for the scenario's whole horizon; the cost is
 * what the simulators bill. Fly runs one machine per repository and region that suspends per the idle policy;
 * ECS runs a task per session on a capacity provider over an Auto Scaling group with the scenario's minimum.
 */
import { ProviderRegistry, type TaskSpec, VirtualClock } from "@hangar/core"
import { EcsSimulator } from "@hangar/ecs-simulator"
import { FlySimulator } from "@hangar/fly-simulator"
import { EcsProvider } from "@hangar/provider-ecs"
import { FlyProvider } from "@hangar/provider-fly"
import { IdlePolicies, type Oracle, Router, RoutingPolicies, SessionStore } from "@hangar/router"
import { Cause, Duration, Effect, Exit, Layer, Logger, LogLevel, Redacted } from "effect"
import * as InjectHttpClient from "./InjectHttpClient.js"
import { execLimitSeconds, type Scenario } from "./Scenario.js"

export interface SideResult {
  readonly provider: "fly" | "ecs"
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

const day = 86_400_000
const start = Date.UTC(2026, 0, 1)
const token = "bench-token"
const credentials = { accessKeyId: "AKIDBENCH", secretAccessKey: "bench" }

const taskInput = (task: Oracle.TraceTask): TaskSpec.TaskSpecInput => ({
  taskId: task.taskId.replace(/[^A-Za-z0-9._:-]/g, "-"),
  repository: task.repository,
  region: task.region,
  size: task.size,
  requiresGpu: task.requiresGpu,
  expectedDurationSeconds: Math.max(1, Math.round(task.durationMillis / 1000)),
  command: ["work", String(Math.max(1, Math.round(task.durationMillis / 1000)))]
})

/** Dispatches every task at its arrival time through the router, then lets the horizon run out. */
const replay = (trace: ReadonlyArray<Oracle.TraceTask>, horizonMillis: number) =>
  Effect.gen(function* () {
    const router = yield* Router.Router
    const outcomes = yield* Effect.forEach(
      trace,
      (task) =>
        Effect.sleep(Duration.millis(task.arrivalMillis)).pipe(
          Effect.zipRight(Effect.exit(router.dispatch(taskInput(task))))
        ),
      { concurrency: "unbounded" }
    )
    yield* Effect.sleep(
      Duration.millis(
        Math.max(0, horizonMillis - Math.max(...trace.map((t) => t.arrivalMillis + t.durationMillis), 0))
      )
    )
    return outcomes
  })

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

const summarise = (
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

/** Runs an effect needing a Router on the virtual clock, quietly. */
const runOnClock = <A, E>(
  clock: VirtualClock.VirtualClock,
  routerLayer: Layer.Layer<Router.Router, E>,
  program: Effect.Effect<A, E, Router.Router>
) =>
  Effect.promise(() =>
    Effect.runPromise(
      VirtualClock.drive(
        clock,
        Effect.scoped(Effect.flatMap(Layer.build(routerLayer), (context) => Effect.provide(program, context)))
      ).pipe(Logger.withMinimumLogLevel(LogLevel.Error))
    )
  )

/** A side's Router: its one provider preferred for every task, the idle timeout, the scenario's exec limit. */
const routerFor = <E>(
  instanceId: string,
  scenario: Scenario,
  registry: Layer.Layer<ProviderRegistry.ProviderRegistry, E>,
  defaultProvider: string,
  idleTimeoutMinutes: number
) =>
  Router.layer({ instanceId, execTimeoutSeconds: execLimitSeconds(scenario) }).pipe(
    Layer.provide(
      Layer.mergeAll(
        registry,
        RoutingPolicies.preferred({ defaultProvider }),
        IdlePolicies.fixedTimeout(idleTimeoutMinutes),
        SessionStore.layerMemory
      )
    )
  )

export const runFly = (scenario: Scenario, trace: ReadonlyArray<Oracle.TraceTask>) =>
  Effect.gen(function* () {
    const clock = new VirtualClock.VirtualClock(start)
    const sim = yield* Effect.promise(() =>
      FlySimulator.make({ clock, seed: scenario.seed, tokens: [{ token }], regions: [...scenario.regions] })
    )
    const provider = FlyProvider.layer({
      token: Redacted.make(token),
      baseUrl: "http://fly-sim.internal",
      httpClient: InjectHttpClient.layer(sim.server, clock),
      clock,
      regions: [...scenario.regions],
      primaryRegion: scenario.regions[0]!,
      autostop: "off",
      volumeSizeGb: scenario.fly.volumeGb
    })
    const router = routerFor(
      "bench-fly",
      scenario,
      ProviderRegistry.layer(FlyProvider.FlyProvider).pipe(Layer.provide(provider)),
      "fly",
      scenario.fly.idleTimeoutMinutes
    )
    const horizon = scenario.days * day
    const outcomes = yield* runOnClock(clock, router, replay(trace, horizon))
    yield* Effect.promise(() => clock.advanceTo(start + horizon))
    const bill = sim.billing()
    const { latencies, failed, cold, failureReasons } = summarise(outcomes, trace)
    const hoursByState = Object.fromEntries(
      Object.entries(bill.secondsByState).map(([s, v]) => [s, v / 3600])
    )
    const result: SideResult = {
      provider: "fly",
      usd: bill.totalMicroUsd / 1e6,
      usdPerMonth: ((bill.totalMicroUsd / 1e6) * 30) / scenario.days,
      tasks: trace.length,
      failed,
      failureReasons,
      startLatencySeconds: latencies,
      coldStarts: cold,
      hoursByState,
      events: sim.model.transitions
    }
    yield* Effect.promise(() => sim.close())
    return result
  })

/** One region's ECS cluster over the scenario (ECS is regional: a cluster and simulator per region). */
export interface EcsRegionResult {
  readonly region: string
  readonly latencies: ReadonlyArray<number>
  readonly failed: number
  readonly failureReasons: ReadonlyArray<FailureReason>
  readonly cold: number
  readonly totalMicroUsd: number
  readonly instanceHours: number
  readonly events: number
}

export const runEcsRegion = (
  scenario: Scenario,
  trace: ReadonlyArray<Oracle.TraceTask>,
  region: string
): Effect.Effect<EcsRegionResult> =>
  Effect.gen(function* () {
    const index = scenario.regions.indexOf(region)
    const clock = new VirtualClock.VirtualClock(start)
    const sim = yield* Effect.promise(() => EcsSimulator.make({ clock, seed: scenario.seed + index }))
    yield* Effect.promise(() => sim.listen({ port: 0 }))
    sim.provisionCluster("hangar", [
      {
        name: "hangar",
        group: {
          name: `hangar-${region}`,
          instanceType: scenario.ecs.instanceType,
          min: scenario.ecs.minInstances,
          max: scenario.ecs.maxInstances,
          desired: scenario.ecs.minInstances
        }
      }
    ])
    const provider = EcsProvider.layer({
      cluster: "hangar",
      capacityProviderStrategy: [{ capacityProvider: "hangar" }],
      endpoint: "http://ecs-sim.internal",
      requestHandler: sim.requestHandler as never,
      credentials,
      clock,
      regions: [region]
    })
    const router = routerFor(
      `bench-ecs-${region}`,
      scenario,
      ProviderRegistry.layer(EcsProvider.EcsProvider).pipe(Layer.provide(provider)),
      "ecs",
      // A session's task is released when its work is done.
      0
    )
    const horizon = scenario.days * day
    const tasks = trace.filter((t) => t.region === region)
    const outcomes = yield* runOnClock(clock, router, replay(tasks, horizon))
    yield* Effect.promise(() => clock.advanceTo(start + horizon))
    const bill = sim.billing()
    yield* Effect.promise(() => sim.close())
    const { latencies, failed, cold, failureReasons } = summarise(outcomes, tasks)
    return {
      region,
      latencies,
      failed,
      failureReasons,
      cold,
      totalMicroUsd: bill.totalMicroUsd,
      instanceHours: bill.instanceHours,
      events: sim.model.events
    }
  })

/** The ECS side of a scenario from its regions' results. */
export const combineEcs = (
  scenario: Scenario,
  tasks: number,
  regions: ReadonlyArray<EcsRegionResult>
): SideResult => {
  const total = regions.reduce((sum, r) => sum + r.totalMicroUsd, 0)
  return {
    provider: "ecs",
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

export const runEcs = (scenario: Scenario, trace: ReadonlyArray<Oracle.TraceTask>) =>
  Effect.map(
    Effect.forEach(scenario.regions, (region) => runEcsRegion(scenario, trace, region)),
    (regions) => combineEcs(scenario, trace.length, regions)
  )
