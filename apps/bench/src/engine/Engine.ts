/**
 * The simulation engine: the real routing and idle policies and the Router's dispatch over in-process providers
 * working on the simulators' own models (FlyMachines, EcsTasks), on one virtual clock driven without the event
 * loop (EngineClock). The kernel (Kernel.ts) drives a simulation; `driver: "router"` has the Router itself drive it
 * over the same providers made by core's `ComputeProvider.make` (FlyEngine, EcsEngine): the kernel's check. A side
 * of the cost table is one such simulation; so is a policy run. Every dollar comes from a model's ledger
 * (`Billing.compute` of the fly-simulator and of the ecs-simulator), every latency and cold start from the recorded
 * dispatch results.
 */
import {
  type ComputeProvider,
  type IdlePolicy,
  Pricing,
  ProviderRegistry,
  type RoutingPolicy,
  type TaskSpec
} from "@hangar/core"
import * as ExecBackend from "@hangar/core/simulation/exec-backend"
import { Billing as EcsBilling, EcsModel } from "@hangar/ecs-simulator/model"
import { Billing as FlyBilling, FlyModel } from "@hangar/fly-simulator/model"
import * as EcsCostModel from "@hangar/provider-ecs/cost-model"
import * as FlyCostModel from "@hangar/provider-fly/cost-model"
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
  type SideResult,
  sidePolicies,
  start,
  tailMillis,
  taskSpec
} from "../Sides.js"
import * as Callbacks from "./Callbacks.js"
import * as EcsEngine from "./EcsEngine.js"
import * as EcsTasks from "./EcsTasks.js"
import * as EngineClock from "./EngineClock.js"
import * as FlyEngine from "./FlyEngine.js"
import * as FlyMachines from "./FlyMachines.js"
import * as Kernel from "./Kernel.js"

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
  onProgress?: Progress,
  driver: Driver = "kernel"
): SideResult => {
  const clock = new EngineClock.EngineClock(start)
  const model = new FlyModel.FlyModel({ clock, seed: scenario.seed, regions: [...scenario.regions] })
  const horizon = scenario.days * day
  const onTime = progressOver(trace, onProgress)
  const { dispatched } = drive(
    {
      instanceId: "bench-fly",
      clock,
      fly: {
        model,
        clock,
        regions: scenario.regions,
        primaryRegion: scenario.regions[0]!,
        volumeSizeGb: scenario.fly.volumeGb,
        autostop: "off",
        sessionsPerMachine: peakSessions(trace)
      },
      trace,
      horizon,
      ...sidePolicies(scenario, "fly", scenario.fly.idleTimeoutMinutes),
      onTime
    },
    driver
  )
  clock.runTimersUntil(start + horizon)
  onTime?.(clock.now())
  const bill = FlyBilling.compute(model)
  return flySide(scenario, dispatched, trace, bill, model.transitions)
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
  onProgress?: Progress,
  driver: Driver = "kernel"
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
  const horizon = scenario.days * day
  const tasks = trace.filter((t) => t.region === region)
  const onTime = progressOver(tasks, onProgress)
  const { dispatched } = drive(
    {
      instanceId: `bench-ecs-${region}`,
      clock,
      ecs: { clock, clusters: [cluster] },
      trace: tasks,
      horizon,
      ...sidePolicies(scenario, "ecs", 0),
      onTime
    },
    driver
  )
  clock.runTimersUntil(start + horizon)
  onTime?.(clock.now())
  const bill = EcsBilling.compute(cluster.model)
  cluster.model.dispose()
  return ecsRegion(scenario, region, dispatched, tasks, bill, cluster.model.events)
}

// ---- a policy run: both providers composed

export interface PolicyWorld {
  readonly regions: ReadonlyArray<string>
  readonly seed: number
  readonly days: number
  readonly ecs: ClusterShape
  readonly flyVolumeGb: number
  /** Concurrent dispatches per provider (the Router's option; default 32). */
  readonly concurrencyPerProvider?: number
}

export interface PolicyOutcome {
  readonly flyMicroUsd: number
  readonly ecsMicroUsd: number
  readonly dispatched: ReadonlyArray<Exit.Exit<Router.DispatchResult, unknown>>
  /** Seconds compute was up (Fly machines started, ECS tasks running) beyond the tasks' own run time. */
  readonly warmSeconds: number
  readonly events: number
}

/** What drives a simulation: the kernel (the default), or the Router itself over the engine's providers. */
export type Driver = "kernel" | "router"

/** A simulation: the providers composed (Fly, ECS or both, on one clock), the policies, the trace. */
interface Drive {
  /** The Router's identity (no number depends on it). */
  readonly instanceId: string
  readonly clock: EngineClock.EngineClock
  readonly fly?: FlyMachines.Options
  readonly ecs?: EcsTasks.Options
  readonly trace: ReadonlyArray<Oracle.TraceTask>
  readonly horizon: number
  readonly execTimeoutSeconds: number
  readonly concurrencyPerProvider?: number | undefined
  readonly routing: Layer.Layer<RoutingPolicy.RoutingPolicy>
  readonly idle: Layer.Layer<IdlePolicy.IdlePolicy>
  readonly onTime: ((now: number) => void) | undefined
}

interface Driven {
  readonly dispatched: ReadonlyArray<Exit.Exit<Router.DispatchResult, unknown>>
  readonly taskRunningSeconds: () => number
}

/** The run on the Router, with the engine's providers made by core's `ComputeProvider.make`. */
const onRouter = (drive: Drive): Driven => {
  let ecsEngine: EcsEngine.EcsEngine | undefined
  const registry = Layer.effect(
    ProviderRegistry.ProviderRegistry,
    Effect.gen(function* () {
      const providers: Array<ComputeProvider.ComputeProvider> = []
      if (drive.fly !== undefined) providers.push(yield* FlyEngine.make(drive.fly))
      if (drive.ecs !== undefined) {
        ecsEngine = yield* EcsEngine.make(drive.ecs)
        providers.push(ecsEngine.provider)
      }
      return ProviderRegistry.fromProviders(providers)
    })
  )
  const router = Router.layer({
    instanceId: drive.instanceId,
    execTimeoutSeconds: drive.execTimeoutSeconds,
    ...(drive.concurrencyPerProvider === undefined
      ? {}
      : { concurrencyPerProvider: drive.concurrencyPerProvider }),
    // A simulated router never crashes, so reconciliation would find nothing to do: its rounds (every provider
    // listed every 10 minutes for a month) would cost time and change no bill.
    reconcile: false
  }).pipe(Layer.provide(Layer.mergeAll(registry, drive.routing, drive.idle, SessionStore.layerMemory)))
  const dispatched = simulate(drive.clock, router, replay(drive.trace, drive.horizon), drive.onTime)
  return { dispatched, taskRunningSeconds: () => ecsEngine?.taskRunningSeconds() ?? 0 }
}

/** Each task of a trace with its spec, made once per trace (a policy group runs one trace many times). */
const specs = new WeakMap<
  ReadonlyArray<Oracle.TraceTask>,
  ReadonlyArray<{ readonly arrivalMillis: number; readonly spec: TaskSpec.TaskSpec }>
>()
const specsOf = (trace: ReadonlyArray<Oracle.TraceTask>) => {
  let made = specs.get(trace)
  if (made === undefined) {
    made = trace.map((task) => ({ arrivalMillis: task.arrivalMillis, spec: taskSpec(task) }))
    specs.set(trace, made)
  }
  return made
}

/** Fly's operations as the kernel drives them. */
const flyForKernel = (options: FlyMachines.Options): Kernel.KernelProvider => {
  const fly = FlyMachines.envOf(options)
  return {
    id: FlyMachines.provider,
    capabilities: FlyEngine.capabilities(options.regions),
    costModel: FlyCostModel.make(),
    create: (task, hangarManagesSleep) =>
      Callbacks.map((m: FlyModel.Machine) => ({
        sessionId: FlyMachines.sessionIdOf(m),
        running: () => FlyMachines.statusOf(m.state) === "running"
      }))(FlyMachines.create(fly, task, hangarManagesSleep)),
    start: (sessionId) => FlyMachines.start(fly, sessionId),
    sleep: (sessionId, action) => FlyMachines.transition(fly, sessionId, action),
    exec: (sessionId, command, timeoutSeconds) => FlyMachines.exec(fly, sessionId, command, timeoutSeconds)
  }
}

/** ECS's operations as the kernel drives them (ECS cannot suspend: its sleep is a stop). */
const ecsForKernel = (
  ecs: EcsTasks.EngineState,
  clusters: ReadonlyArray<EcsTasks.RegionCluster>
): Kernel.KernelProvider => {
  const answer = Callbacks.map((answer: EcsTasks.Answer) => ({
    sessionId: EcsTasks.sessionIdOf(answer.state.task.taskId),
    running: () => EcsTasks.statusOf(answer.task) === "running"
  }))
  return {
    id: EcsTasks.provider,
    capabilities: EcsEngine.capabilities(clusters),
    costModel: EcsCostModel.make(),
    create: (task) => answer(EcsTasks.create(ecs, task)),
    start: (sessionId) => EcsTasks.start(ecs, sessionId),
    sleep: (sessionId) => EcsTasks.stop(ecs, sessionId),
    exec: (sessionId, command) => EcsTasks.exec(ecs, sessionId, command)
  }
}

/** The run on the kernel, over the same operations of the engine's providers. */
const onKernel = (drive: Drive): Driven => {
  const ecs = drive.ecs === undefined ? undefined : EcsTasks.stateOf(drive.ecs)
  const providers: Array<Kernel.KernelProvider> = []
  if (drive.fly !== undefined) providers.push(flyForKernel(drive.fly))
  if (ecs !== undefined && drive.ecs !== undefined) providers.push(ecsForKernel(ecs, drive.ecs.clusters))
  const kernel = new Kernel.Kernel({
    clock: drive.clock,
    execTimeoutSeconds: drive.execTimeoutSeconds,
    ...(drive.concurrencyPerProvider === undefined
      ? {}
      : { concurrencyPerProvider: drive.concurrencyPerProvider }),
    routing: drive.routing,
    idle: drive.idle,
    providers
  })
  const dispatched = kernel.replay(specsOf(drive.trace), tailMillis(drive.trace, drive.horizon), drive.onTime)
  return { dispatched, taskRunningSeconds: () => (ecs === undefined ? 0 : EcsTasks.taskRunningSeconds(ecs)) }
}

const drive = (setup: Drive, driver: Driver): Driven => (driver === "kernel" ? onKernel : onRouter)(setup)

/**
 * A trace under one routing and one idle policy with both providers composed, as a team would deploy them: Fly
 * (one model, every region; the platform's autostop when the idle policy leaves sleep to it) and ECS (the shared
 * cluster per region that the cost table simulates). The kernel drives it unless `driver` says the Router.
 */
export const runPolicies = (
  world: PolicyWorld,
  trace: ReadonlyArray<Oracle.TraceTask>,
  routing: Layer.Layer<RoutingPolicy.RoutingPolicy>,
  idle: Layer.Layer<IdlePolicy.IdlePolicy>,
  onProgress?: Progress,
  driver: Driver = "kernel"
): PolicyOutcome => {
  const clock = new EngineClock.EngineClock(start)
  const fly = new FlyModel.FlyModel({ clock, seed: world.seed, regions: [...world.regions] })
  const clusters = world.regions.map((region, index) =>
    ecsRegionCluster(clock, region, world.seed + index, world.ecs)
  )
  const horizon = world.days * day
  const longest = trace.reduce((m, t) => Math.max(m, t.durationMillis), 0) / 1000
  const onTime = progressOver(trace, onProgress)
  const setup: Drive = {
    instanceId: "bench-policies",
    clock,
    fly: {
      model: fly,
      clock,
      regions: world.regions,
      primaryRegion: world.regions[0]!,
      volumeSizeGb: world.flyVolumeGb,
      autostop: "suspend"
    },
    ecs: { clock, clusters },
    trace,
    horizon,
    execTimeoutSeconds: Math.ceil(longest) + 600,
    concurrencyPerProvider: world.concurrencyPerProvider,
    routing,
    idle,
    onTime
  }
  const { dispatched, taskRunningSeconds } = drive(setup, driver)
  clock.runTimersUntil(start + horizon)
  onTime?.(clock.now())
  const flyBill = FlyBilling.compute(fly)
  const ecsMicroUsd = clusters.reduce((sum, c) => sum + EcsBilling.compute(c.model).totalMicroUsd, 0)
  for (const c of clusters) c.model.dispose()
  let busy = 0
  for (const exit of dispatched)
    if (Exit.isSuccess(exit)) busy += (exit.value.finishedAtMillis - exit.value.startedAtMillis) / 1000
  const up = (flyBill.secondsByState.started ?? 0) + taskRunningSeconds()
  return {
    flyMicroUsd: flyBill.totalMicroUsd,
    ecsMicroUsd,
    dispatched,
    warmSeconds: Math.max(0, up - busy),
    events: fly.transitions + clusters.reduce((sum, c) => sum + c.model.events, 0)
  }
}
