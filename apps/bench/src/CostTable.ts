/**
 * The wire path (`--wire`): each scenario's trace dispatched through the real Router and the provider plugins
 * (FlyProvider, EcsProvider) to the Fly and ECS simulators over their HTTP APIs (in process), in virtual time.
 * Slower than the engine by far; it is how the engine is checked (test/CrossCheck.test.ts). Fly runs one machine
 * per repository and region that suspends per the idle policy; ECS runs a task per session on a capacity
 * provider over an Auto Scaling group with the scenario's minimum.
 */
import { Pricing, ProviderRegistry, VirtualClock } from "@hangar/core"
import { EcsSimulator } from "@hangar/ecs-simulator"
import { FlySimulator } from "@hangar/fly-simulator"
import { EcsProvider } from "@hangar/provider-ecs"
import { FlyProvider } from "@hangar/provider-fly"
import type { Oracle, Router } from "@hangar/router"
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import * as Engine from "./engine/Engine.js"
import * as InjectHttpClient from "./InjectHttpClient.js"
import type { Scenario } from "./Scenario.js"
import {
  combineEcs,
  day,
  type EcsRegionResult,
  ecsRegion,
  flySide,
  peakSessions,
  replay,
  routerFor,
  start
} from "./Sides.js"

export type { EcsRegionResult, FailureReason, SideResult } from "./Sides.js"
export { combineEcs, countReasons } from "./Sides.js"

const token = "bench-token"
const credentials = { accessKeyId: "AKIDBENCH", secretAccessKey: "bench" }

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
      volumeSizeGb: scenario.fly.volumeGb,
      sessionsPerMachine: peakSessions(trace)
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
    const result = flySide(scenario, outcomes, trace, bill, sim.model.transitions)
    yield* Effect.promise(() => sim.close())
    return result
  })

export const runEcsRegion = (
  scenario: Scenario,
  trace: ReadonlyArray<Oracle.TraceTask>,
  region: string
): Effect.Effect<EcsRegionResult> =>
  Effect.gen(function* () {
    const index = scenario.regions.indexOf(region)
    const clock = new VirtualClock.VirtualClock(start)
    // The region's own prices and the engine's cluster (Engine.ecsRegionCluster): public IPv4 on instances, the
    // workspaces' file system; a price missing for the region refuses the scenario, naming both.
    const pricing = Pricing.ec2PricingStrict(region, Engine.ecsPriceKeys(scenario.ecs.instanceType))
    const sim = yield* Effect.promise(() =>
      EcsSimulator.make({
        clock,
        seed: scenario.seed + index,
        region: pricing.region,
        pricing: pricing.catalog,
        publicIpv4: true,
        workspaceGb: scenario.workspaceDataGb
      })
    )
    yield* Effect.promise(() => sim.listen({ port: 0 }))
    sim.provisionFileSystem(Engine.workspaceFileSystem)
    sim.provisionCluster("hangar", [
      {
        name: "hangar",
        group: {
          name: `hangar-${region}`,
          instanceType: scenario.ecs.instanceType,
          min: scenario.ecs.minInstances,
          max: scenario.ecs.maxInstances,
          desired: scenario.ecs.minInstances
        },
        targetCapacity: scenario.ecs.targetCapacity
      }
    ])
    const provider = EcsProvider.layer({
      cluster: "hangar",
      capacityProviderStrategy: [{ capacityProvider: "hangar" }],
      endpoint: "http://ecs-sim.internal",
      requestHandler: sim.requestHandler as never,
      credentials,
      clock,
      regions: [region],
      awsRegion: pricing.region,
      pricing: pricing.catalog,
      workspace: { kind: "efs", fileSystemId: Engine.workspaceFileSystem }
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
    return ecsRegion(scenario, region, outcomes, tasks, bill, sim.model.events)
  })

export const runEcs = (scenario: Scenario, trace: ReadonlyArray<Oracle.TraceTask>) =>
  Effect.map(
    Effect.forEach(scenario.regions, (region) => runEcsRegion(scenario, trace, region)),
    (regions) => combineEcs(scenario, trace.length, regions)
  )
