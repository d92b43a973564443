/**
 * The engine's kernel drives a policy run as the Router does: on the same traces, policies and providers, every
 * row it gives (bill, cold starts, start latencies, the providers the tasks ran on, failures) is the row of the
 * run the Router itself drives.
 */
import { describe, expect, it } from "@effect/vitest"
import { ComputeError, TaskResult, type TaskSpec } from "@hangar/core"
import * as FlyCostModel from "@hangar/provider-fly/cost-model"
import { IdlePolicies, RoutingPolicies } from "@hangar/router"
import { Effect, Either, Exit } from "effect"
import * as Callbacks from "../src/engine/Callbacks.js"
import * as Engine from "../src/engine/Engine.js"
import * as EngineClock from "../src/engine/EngineClock.js"
import * as FlyEngine from "../src/engine/FlyEngine.js"
import * as Kernel from "../src/engine/Kernel.js"
import * as PolicyBenchmark from "../src/PolicyBenchmark.js"
import * as Scenario from "../src/Scenario.js"
import * as Sides from "../src/Sides.js"
import * as Trace from "../src/Trace.js"
import { smallWorkload } from "./CommandLine.js"

const options = { waitUsdPerSecond: 60 / 3600, seed: 1 }

/** What a dispatch came to: where and when it ran, or how it failed. */
const summary = (
  exit: Exit.Exit<
    {
      readonly provider: string
      readonly startedAtMillis: number
      readonly finishedAtMillis: number
      readonly startLatencyMillis: number
      readonly coldStart: boolean
      readonly sessionId: string
    },
    unknown
  >
) =>
  Exit.isSuccess(exit)
    ? {
        provider: exit.value.provider,
        sessionId: exit.value.sessionId,
        coldStart: exit.value.coldStart,
        startLatencyMillis: exit.value.startLatencyMillis,
        startedAtMillis: exit.value.startedAtMillis,
        finishedAtMillis: exit.value.finishedAtMillis
      }
    : { failed: Exit.isFailure(exit) ? String(exit.cause) : "" }

/** Every run of `trace` (each routing × idle policy) on both drivers. */
const bothWays = (trace: PolicyBenchmark.PolicyTrace) => {
  const groups = PolicyBenchmark.groupsOf(PolicyBenchmark.runsOf([trace], options))
  return {
    kernel: groups.flatMap((group) => PolicyBenchmark.simulateGroup(group, undefined, "kernel")),
    router: groups.flatMap((group) => PolicyBenchmark.simulateGroup(group, undefined, "router"))
  }
}

describe("the kernel", () => {
  it.effect("gives the Router's sides of the cost table: the Fly side and each region's ECS cluster", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(smallWorkload.replace("perDay: 20", "perDay: 120"), "small.yaml")
      const trace = Trace.generate(scenario)
      const fly = Engine.runFly(scenario, trace, undefined, "kernel")
      expect(fly).toEqual(Engine.runFly(scenario, trace, undefined, "router"))
      // Machines were woken as well as found warm.
      expect(fly.coldStarts).toBeGreaterThan(0)
      expect(fly.coldStarts).toBeLessThan(fly.tasks)
      for (const region of scenario.regions) {
        const ecs = Engine.runEcsRegion(scenario, trace, region, undefined, "kernel")
        expect(ecs).toEqual(Engine.runEcsRegion(scenario, trace, region, undefined, "router"))
        expect(ecs.latencies.length).toBeGreaterThan(0)
      }
    })
  )

  it.effect("gives the Router's row for every policy run of a two-region scenario", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(smallWorkload.replace("days: 1\n", "days: 2\n"), "small.yaml")
      const { kernel, router } = bothWays({ name: "small", source: { kind: "scenario", scenario } })
      expect(kernel).toHaveLength(45)
      expect(kernel).toEqual(router)
      // Both providers ran tasks, and sessions were woken as well as found warm.
      expect(kernel.some((row) => (row.byProvider.fly ?? 0) > 0 && (row.byProvider.ecs ?? 0) > 0)).toBe(true)
      expect(kernel.some((row) => row.coldStarts > 0 && row.coldStarts < row.tasks)).toBe(true)
    })
  )

  it("gives the Router's row for every policy run of a busy trace on a cluster too small for it", () => {
    // Twenty repositories' day on at most two instances: tasks wait for capacity, some give up and fail over.
    const ecs = { instanceType: "t3.large", minInstances: 0, maxInstances: 2 }
    const { kernel, router } = bothWays({
      name: "azure-shaped",
      source: { kind: "azure", options: { seed: 7, repositories: 20, days: 1 }, ecs }
    })
    expect(kernel).toEqual(router)
    // ECS first: tasks waited for capacity until ECS gave up, then failed over to Fly.
    const allEcs = kernel.filter((row) => row.routing === "all-ecs")
    expect(allEcs.every((row) => (row.byProvider.fly ?? 0) > 0 && (row.byProvider.ecs ?? 0) > 0)).toBe(true)
    expect(allEcs.some((row) => row.p95StartSeconds > 600)).toBe(true)
  })

  it.effect("queues dispatches for a provider's concurrency limit as the Router does", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(smallWorkload.replace("perDay: 20", "perDay: 400"), "small.yaml")
      const source = { kind: "scenario" as const, scenario }
      const trace = PolicyBenchmark.traceOf(source)
      // One dispatch at a time per provider: the others wait for it in line.
      const world = { ...PolicyBenchmark.worldOf(source), concurrencyPerProvider: 1 }
      for (const defaultProvider of ["fly", "ecs"]) {
        const run = (driver: Engine.Driver) =>
          Engine.runPolicies(
            world,
            trace,
            RoutingPolicies.preferred({ defaultProvider }),
            IdlePolicies.fixedTimeout(5),
            undefined,
            driver
          )
        const kernel = run("kernel")
        const router = run("router")
        expect(kernel.flyMicroUsd).toBe(router.flyMicroUsd)
        expect(kernel.ecsMicroUsd).toBe(router.ecsMicroUsd)
        expect(kernel.warmSeconds).toBe(router.warmSeconds)
        expect(kernel.dispatched.map(summary)).toEqual(router.dispatched.map(summary))
        // Tasks did wait in line: some started later than their provider could have started them.
        expect(
          kernel.dispatched.some((exit) => Exit.isSuccess(exit) && exit.value.startLatencyMillis > 600_000)
        ).toBe(true)
      }
    })
  )

  describe("calls a provider as core does", () => {
    /** A provider whose creates answer `failures` in turn, then succeed after a second; commands run at once. */
    const flaky = (
      clock: EngineClock.EngineClock,
      id: string,
      failures: Array<ComputeError.ComputeError>
    ) => {
      let creates = 0
      const provider: Kernel.KernelProvider = {
        id: id as TaskSpec.ProviderId,
        capabilities: FlyEngine.capabilities(["iad"]),
        costModel: FlyCostModel.make(),
        create: (task) => (done) => {
          creates++
          const failure = failures.shift()
          if (failure !== undefined) return Callbacks.fail(done, failure)
          return clock.schedule(clock.now() + 1_000, () =>
            done(Either.right({ sessionId: `${id}-${task.taskId}`, running: () => true }))
          )
        },
        start: () => (done) => Callbacks.succeed(done, undefined),
        sleep: () => (done) => Callbacks.succeed(done, undefined),
        exec: () => (done) =>
          Callbacks.succeed(
            done,
            new TaskResult.TaskResult({ exitCode: 0, stdout: "", stderr: "", durationMs: 0 })
          )
      }
      return { provider, creates: () => creates }
    }
    const dispatchOne = (providers: ReadonlyArray<Kernel.KernelProvider>, clock: EngineClock.EngineClock) => {
      const kernel = new Kernel.Kernel({
        clock,
        providers,
        routing: RoutingPolicies.preferred({ defaultProvider: providers[0]!.id }),
        idle: IdlePolicies.fixedTimeout(5)
      })
      const task = {
        taskId: "t-1",
        repository: "acme/api",
        region: "iad",
        arrivalMillis: 0,
        durationMillis: 60_000,
        size: "dev" as const,
        requiresGpu: false
      }
      const [exit] = kernel.replay([{ arrivalMillis: 0, spec: Sides.taskSpec(task) }], 0)
      if (exit === undefined || Exit.isFailure(exit)) throw new Error(`the dispatch failed: ${String(exit)}`)
      return exit.value
    }
    const rateLimited = new ComputeError.RateLimited({
      module: "test",
      method: "create",
      reason: "Throttled",
      retryAfterMillis: 5_000
    })

    it("retries a retryable failure after the wait it asks for", () => {
      const clock = new EngineClock.EngineClock(Sides.start)
      const fly = flaky(clock, "fly", [rateLimited, rateLimited])
      const result = dispatchOne([fly.provider], clock)
      // Two refusals, each retried after its 5 s, then a create that takes 1 s.
      expect(fly.creates()).toBe(3)
      expect(result.startLatencyMillis).toBe(11_000)
      expect(result.failoverHistory).toEqual([])
    })

    it("fails over once the retries would wait past core's deadline", () => {
      const clock = new EngineClock.EngineClock(Sides.start)
      // Each wait is 50 s: the third would end past the 2-minute deadline of the call.
      const slow = new ComputeError.RateLimited({ ...rateLimited, retryAfterMillis: 50_000 })
      const fly = flaky(clock, "fly", [slow, slow, slow])
      const ecs = flaky(clock, "ecs", [])
      const result = dispatchOne([fly.provider, ecs.provider], clock)
      expect(fly.creates()).toBe(3)
      expect(result.provider).toBe("ecs")
      expect(result.failoverHistory.map((attempt) => attempt.error)).toEqual(["RateLimited"])
      expect(result.startLatencyMillis).toBe(101_000)
    })
  })
})
