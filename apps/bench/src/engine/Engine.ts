/**
 * The simulation engine: the real Router with the real routing and idle policies over in-process providers
 * built on the simulators' own models (FlyEngine, EcsEngine), on one virtual clock driven without the event loop
 * (EngineClock). A side of the cost table is one such simulation; so is a policy run. Every dollar comes from a
 * model's ledger (`Billing.compute` of the fly-simulator and of the ecs-simulator), every latency and cold start
 * from the Router's recorded dispatch results.
 */
import { type IdlePolicy, Pricing, ProviderRegistry, type RoutingPolicy } from "@hangar/core"
import * as ExecBackend from "@hangar/core/simulation/exec-backend"
import { Billing as EcsBilling, EcsModel } from "@hangar/ecs-simulator/model"
import { Billing as FlyBilling, FlyModel } from "@hangar/fly-simulator/model"
import { type Oracle, Router, SessionStore } from "@hangar/router"
import { Cause, Effect, Exit, Layer, Logger, LogLevel } from "effect"
import type { Scenario } from "../Scenario.js"
import {
  day,
  type EcsRegionResult,
  ecsRegion,
  flySide,
  peakSessions,
  replay,
  routerFor,
  type SideResult,
  start
} from "../Sides.js"
import * as EcsEngine from "./EcsEngine.js"
import * as EngineClock from "./EngineClock.js"
import * as FlyEngine from "./FlyEngine.js"

/** How far a simulation has come: simulated milliseconds since its start, and tasks dispatched so far. */
export type Progress = (simulatedMillis: number, dispatched: number) => void

/** A progress callback over `clock` time for a trace (tasks count as dispatched once they have arrived). */
const progressOver = (trace: ReadonlyArray<Oracle.TraceTask>, onProgress: Progress | undefined) => {
  if (onProgress === undefined) return undefined
  let next = 0
  return (now: number) => {
    const elapsed = now - start
    while (next < trace.length && trace[next]!.arrivalMillis <= elapsed) next++
    onProgress(elapsed, next)
  }
}

/** Runs `effect` (needing a Router) to completion on `clock`, quietly; a failure is a defect of the engine. */
const simulate = <A, E>(
  clock: EngineClock.EngineClock,
  routerLayer: Layer.Layer<Router.Router, E>,
  program: Effect.Effect<A, E, Router.Router>,
  onTime: ((now: number) => void) | undefined
): A => {
  const exit = EngineClock.run(
    clock,
    Effect.scoped(
      Effect.flatMap(Layer.build(routerLayer), (context) => Effect.provide(program, context))
    ).pipe(Logger.withMinimumLogLevel(LogLevel.Error), Effect.withTracerEnabled(false)),
    onTime === undefined ? {} : { onTime }
  )
  if (Exit.isFailure(exit)) throw new Error(`engine: the simulation failed: ${Cause.pretty(exit.cause)}`)
  return exit.value
}

// ---- the cost table's sides

/** The Fly side of a scenario: one FlyModel, the scenario's fixed idle timeout, every task preferred to Fly. */
export const runFly = (
  scenario: Scenario,
  trace: ReadonlyArray<Oracle.TraceTask>,
  onProgress?: Progress
): SideResult => {
  const clock = new EngineClock.EngineClock(start)
  const model = new FlyModel.FlyModel({ clock, seed: scenario.seed, regions: [...scenario.regions] })
  const registry = Layer.effect(
    ProviderRegistry.ProviderRegistry,
    Effect.map(
      FlyEngine.make({
        model,
        clock,
        regions: scenario.regions,
        primaryRegion: scenario.regions[0]!,
        volumeSizeGb: scenario.fly.volumeGb,
        autostop: "off",
        sessionsPerMachine: peakSessions(trace)
      }),
      (provider) => ProviderRegistry.fromProviders([provider])
    )
  )
  const horizon = scenario.days * day
  const router = routerFor("bench-fly", scenario, registry, "fly", scenario.fly.idleTimeoutMinutes)
  const onTime = progressOver(trace, onProgress)
  const outcomes = simulate(clock, router, replay(trace, horizon), onTime)
  clock.runTimersUntil(start + horizon)
  onTime?.(clock.now())
  const bill = FlyBilling.compute(model)
  return flySide(scenario, outcomes, trace, bill, model.transitions)
}

export interface ClusterShape {
  readonly instanceType: string
  readonly minInstances: number
  readonly maxInstances: number
  /** Managed scaling's targetCapacity (default 100). */
  readonly targetCapacity?: number
  /** GB each repository's workspace holds (EFS storage; default 5). */
  readonly workspaceDataGb?: number
}

/** The file system the repositories' workspaces are made on, in every region's simulated account. */
export const workspaceFileSystem = "fs-0a1b2c3d4e5f60718"

/** The prices an ECS region's bill needs; a region's catalog lacking one refuses the scenario, naming both. */
export const ecsPriceKeys = (instanceType: string): ReadonlyArray<string> => [
  `instance:${instanceType}`,
  "ebs:gp3",
  "ipv4:public",
  "efs:standard",
  "transfer:internet-out",
  "transfer:free-gb"
]

/**
 * One region's ECS model, provisioned as the wire path provisions its simulator (`provisionCluster`): an Auto
 * Scaling group behind a managed-scaling capacity provider, the cluster's default strategy, instances with a
 * public IPv4 address, and the workspaces' EFS file system; billed at the region's own prices (a region without
 * them, or a price missing, throws `Pricing.MissingPrice` naming the region and the key).
 */
export const ecsRegionCluster = (
  clock: EngineClock.EngineClock,
  region: string,
  seed: number,
  shape: ClusterShape
): EcsEngine.RegionCluster => {
  const pricing = Pricing.ec2PricingStrict(region, ecsPriceKeys(shape.instanceType))
  const model = new EcsModel.EcsModel({
    clock,
    seed,
    exec: ExecBackend.scripted(),
    pricing,
    region: pricing.region,
    publicIpv4: true,
    workspaceGb: shape.workspaceDataGb ?? 5
  })
  const group = model.createAutoScalingGroup({
    name: `hangar-${region}`,
    instanceType: shape.instanceType,
    min: shape.minInstances,
    max: shape.maxInstances,
    desired: shape.minInstances
  })
  model.createCapacityProvider("hangar", group.arn, shape.targetCapacity ?? 100, true, true)
  model.createCluster("hangar")
  model.putClusterCapacityProviders("hangar", ["hangar"], [{ capacityProvider: "hangar" }])
  model.workspaces.provisionFileSystem(workspaceFileSystem)
  return { region, model, cluster: "hangar", capacityProvider: "hangar", fileSystemId: workspaceFileSystem }
}

/** One region's ECS cluster over a scenario: its tasks, a session's task stopped as soon as its work is done. */
export const runEcsRegion = (
  scenario: Scenario,
  trace: ReadonlyArray<Oracle.TraceTask>,
  region: string,
  onProgress?: Progress
): EcsRegionResult => {
  const clock = new EngineClock.EngineClock(start)
  const index = scenario.regions.indexOf(region)
  const cluster = ecsRegionCluster(clock, region, scenario.seed + index, {
    instanceType: scenario.ecs.instanceType,
    minInstances: scenario.ecs.minInstances,
    maxInstances: scenario.ecs.maxInstances,
    targetCapacity: scenario.ecs.targetCapacity,
    workspaceDataGb: scenario.workspaceDataGb
  })
  const registry = Layer.effect(
    ProviderRegistry.ProviderRegistry,
    Effect.map(EcsEngine.make({ clock, clusters: [cluster] }), (ecs) =>
      ProviderRegistry.fromProviders([ecs.provider])
    )
  )
  const horizon = scenario.days * day
  const tasks = trace.filter((t) => t.region === region)
  const router = routerFor(`bench-ecs-${region}`, scenario, registry, "ecs", 0)
  const onTime = progressOver(tasks, onProgress)
  const outcomes = simulate(clock, router, replay(tasks, horizon), onTime)
  clock.runTimersUntil(start + horizon)
  onTime?.(clock.now())
  const bill = EcsBilling.compute(cluster.model)
  cluster.model.dispose()
  return ecsRegion(scenario, region, outcomes, tasks, bill, cluster.model.events)
}

// ---- a policy run: both providers under one Router

export interface PolicyWorld {
  readonly regions: ReadonlyArray<string>
  readonly seed: number
  readonly days: number
  readonly ecs: ClusterShape
  readonly flyVolumeGb: number
}

export interface PolicyOutcome {
  readonly flyMicroUsd: number
  readonly ecsMicroUsd: number
  readonly dispatched: ReadonlyArray<Exit.Exit<Router.DispatchResult, unknown>>
  /** Seconds compute was up (Fly machines started, ECS tasks running) beyond the tasks' own run time. */
  readonly warmSeconds: number
  readonly events: number
}

/**
 * A trace under one routing and one idle policy with both providers composed, as a team would deploy them: Fly
 * (one model, every region; the platform's autostop when the idle policy leaves sleep to it) and ECS (the shared
 * cluster per region that the cost table simulates).
 */
export const runPolicies = (
  world: PolicyWorld,
  trace: ReadonlyArray<Oracle.TraceTask>,
  routing: Layer.Layer<RoutingPolicy.RoutingPolicy>,
  idle: Layer.Layer<IdlePolicy.IdlePolicy>,
  onProgress?: Progress
): PolicyOutcome => {
  const clock = new EngineClock.EngineClock(start)
  const fly = new FlyModel.FlyModel({ clock, seed: world.seed, regions: [...world.regions] })
  const clusters = world.regions.map((region, index) =>
    ecsRegionCluster(clock, region, world.seed + index, world.ecs)
  )
  let ecsEngine: EcsEngine.EcsEngine | undefined
  const registry = Layer.effect(
    ProviderRegistry.ProviderRegistry,
    Effect.gen(function* () {
      const flyProvider = yield* FlyEngine.make({
        model: fly,
        clock,
        regions: world.regions,
        primaryRegion: world.regions[0]!,
        volumeSizeGb: world.flyVolumeGb,
        autostop: "suspend"
      })
      ecsEngine = yield* EcsEngine.make({ clock, clusters })
      return ProviderRegistry.fromProviders([flyProvider, ecsEngine.provider])
    })
  )
  const horizon = world.days * day
  const longest = trace.reduce((m, t) => Math.max(m, t.durationMillis), 0) / 1000
  const router = Router.layer({
    instanceId: "bench-policies",
    execTimeoutSeconds: Math.ceil(longest) + 600,
    reconcile: false // as in routerFor: a router that never crashes has nothing to reconcile
  }).pipe(Layer.provide(Layer.mergeAll(registry, routing, idle, SessionStore.layerMemory)))
  const onTime = progressOver(trace, onProgress)
  const dispatched = simulate(clock, router, replay(trace, horizon), onTime)
  clock.runTimersUntil(start + horizon)
  onTime?.(clock.now())
  const flyBill = FlyBilling.compute(fly)
  const ecsMicroUsd = clusters.reduce((sum, c) => sum + EcsBilling.compute(c.model).totalMicroUsd, 0)
  for (const c of clusters) c.model.dispose()
  let busy = 0
  for (const exit of dispatched)
    if (Exit.isSuccess(exit)) busy += (exit.value.finishedAtMillis - exit.value.startedAtMillis) / 1000
  const up = (flyBill.secondsByState.started ?? 0) + (ecsEngine?.taskRunningSeconds() ?? 0)
  return {
    flyMicroUsd: flyBill.totalMicroUsd,
    ecsMicroUsd,
    dispatched,
    warmSeconds: Math.max(0, up - busy),
    events: fly.transitions + clusters.reduce((sum, c) => sum + c.model.events, 0)
  }
}
