import { assert, describe, it } from "@effect/vitest"
import { RoutingPolicy, TaskSpec } from "@hangar/core"
import { Clock, Effect, Either, FastCheck as fc, type Layer, Schema, TestClock } from "effect"
import * as RoutingPolicies from "../src/RoutingPolicies.js"
import { candidates, taskInput } from "./fixtures.js"

const policies: ReadonlyArray<readonly [string, () => Layer.Layer<RoutingPolicy.RoutingPolicy>]> = [
  ["preferred", () => RoutingPolicies.preferred({ defaultProvider: "ecs" })],
  ["rules", () => RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" })],
  ["primary-overflow", () => RoutingPolicies.primaryOverflow({ primary: "fly", overflow: "ecs" })],
  ["cost-aware", () => RoutingPolicies.costAware()]
]

const decide = (layer: Layer.Layer<RoutingPolicy.RoutingPolicy>, input: RoutingPolicy.RouteInput) =>
  Effect.runSync(
    Effect.either(Effect.flatMap(RoutingPolicy.RoutingPolicy, (p) => p.decide(input))).pipe(
      Effect.provide(layer)
    )
  )

const asTask = (t: unknown) => Schema.decodeUnknownSync(TaskSpec.TaskSpec)(t)
const params = { seed: 31337, numRuns: 300 }

describe("routing policies", () => {
  for (const [name, layer] of policies) {
    it(`${name}: GPU tasks never go to a provider without GPUs, and every pick is feasible`, () => {
      fc.assert(
        fc.property(taskInput, fc.boolean(), fc.boolean(), (input, flyUp, ecsUp) => {
          const task = asTask(input)
          const result = decide(layer(), {
            task,
            candidates: candidates({ fly: flyUp, ecs: ecsUp }),
            excluded: []
          })
          if (Either.isLeft(result)) return result.left._tag === "CapacityUnavailable"
          const chosen = result.right.provider
          if (task.requiresGpu && chosen === "fly") return false
          if (chosen === "fly" && !flyUp) return false
          if (chosen === "ecs" && (!ecsUp || task.region === "edge")) return false
          return result.right.reason.length > 0
        }),
        params
      )
    })

    it(`${name}: the same inputs give the same decision`, () => {
      fc.assert(
        fc.property(taskInput, (input) => {
          const task = asTask(input)
          const a = decide(layer(), { task, candidates: candidates(), excluded: [] })
          const b = decide(layer(), { task, candidates: candidates(), excluded: [] })
          return JSON.stringify(a) === JSON.stringify(b)
        }),
        params
      )
    })

    it(`${name}: failover never picks a provider marked down or already tried`, () => {
      fc.assert(
        fc.property(taskInput, fc.constantFrom("fly", "ecs"), (input, tried) => {
          const task = asTask(input)
          const result = decide(layer(), {
            task,
            candidates: candidates(),
            excluded: [tried as TaskSpec.ProviderId]
          })
          return (
            Either.isLeft(result) ||
            (result.right.provider !== tried &&
              !result.right.fallbacks.includes(tried as TaskSpec.ProviderId))
          )
        }),
        params
      )
    })
  }

  it("preferred: a feasible preferredProvider is honoured", () => {
    fc.assert(
      fc.property(taskInput, (input) => {
        const task = asTask(input)
        const result = decide(RoutingPolicies.preferred({ defaultProvider: "ecs" }), {
          task,
          candidates: candidates(),
          excluded: []
        })
        const wanted = task.preferredProvider
        const feasible =
          wanted === "fly" ? !task.requiresGpu : wanted === "ecs" ? task.region !== "edge" : false
        return !feasible || (Either.isRight(result) && result.right.provider === wanted)
      }),
      params
    )
  })

  it("rules: the seed's selectProvider, in its order", () => {
    const route = (t: Record<string, unknown>) => {
      const result = decide(RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" }), {
        task: asTask({ taskId: "t", repository: "r", ...t }),
        candidates: candidates(),
        excluded: []
      })
      return Either.getOrThrow(result).provider
    }
    assert.strictEqual(route({ expectedDurationSeconds: 120 }), "fly")
    assert.strictEqual(route({ expectedDurationSeconds: 3600, requiresGpu: true }), "ecs")
    assert.strictEqual(route({ expectedDurationSeconds: 3600, region: "edge" }), "fly")
    assert.strictEqual(route({ expectedDurationSeconds: 3600 }), "ecs")
    // a short GPU task: the seed says fly, which has no GPUs, so it falls through to ecs
    assert.strictEqual(route({ expectedDurationSeconds: 60, requiresGpu: true }), "ecs")
  })

  it.effect(
    "primary-overflow: the open circuit sends tasks to the overflow, a half-open probe returns them",
    () =>
      Effect.gen(function* () {
        const policy = yield* RoutingPolicy.RoutingPolicy
        const task = asTask({ taskId: "t", repository: "r" })
        const input = { task, candidates: candidates(), excluded: [] }
        const fly = "fly" as TaskSpec.ProviderId
        assert.strictEqual((yield* policy.decide(input)).provider, "fly")
        for (let i = 0; i < 3; i++)
          yield* policy.observe({ provider: fly, ok: false, atMillis: yield* Clock.currentTimeMillis })
        const open = yield* policy.decide(input)
        assert.strictEqual(open.provider, "ecs")
        assert.include(open.reason, "open")
        yield* TestClock.adjust("61 seconds")
        assert.strictEqual((yield* policy.decide(input)).provider, "fly", "the half-open probe goes to fly")
        assert.strictEqual((yield* policy.decide(input)).provider, "ecs", "only one probe at a time")
        yield* policy.observe({ provider: fly, ok: true, atMillis: yield* Clock.currentTimeMillis })
        assert.strictEqual(
          (yield* policy.decide(input)).provider,
          "fly",
          "a successful probe closes the circuit"
        )
      }).pipe(
        Effect.provide(
          RoutingPolicies.primaryOverflow({
            primary: "fly",
            overflow: "ecs",
            circuit: { failureThreshold: 3, openMillis: 60_000 }
          })
        )
      )
  )

  it("cost-aware: carries its estimates and prefers Fly for a short dev task, ECS beyond the latency target only if nothing meets it", () => {
    const result = Either.getOrThrow(
      decide(RoutingPolicies.costAware({ startLatencyTargetSeconds: 5 }), {
        task: asTask({ taskId: "t", repository: "r", size: "dev", expectedDurationSeconds: 300 }),
        candidates: candidates(),
        excluded: []
      })
    )
    assert.strictEqual(result.provider, "fly")
    assert.strictEqual(result.estimates.length, 2)
    const gpu = Either.getOrThrow(
      decide(RoutingPolicies.costAware({ startLatencyTargetSeconds: 5 }), {
        task: asTask({ taskId: "t", repository: "r", requiresGpu: true }),
        candidates: candidates(),
        excluded: []
      })
    )
    assert.strictEqual(gpu.provider, "ecs")
    assert.include(gpu.reason, "no provider meets")
  })
})
