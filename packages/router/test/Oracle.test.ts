import { assert, describe, it } from "@effect/vitest"
import { IdlePolicy } from "@hangar/core"
import { Effect, FastCheck as fc, type Layer } from "effect"
import * as IdlePolicies from "../src/IdlePolicies.js"
import * as Optimum from "../src/Optimum.js"
import * as Oracle from "../src/Oracle.js"
import { Platforms, traceOf } from "./fixtures.js"

const traceArbitrary = (gpu: boolean) =>
  fc
    .array(
      fc.record({
        repository: fc.constantFrom("a", "b", "c"),
        arrival: fc.integer({ min: 0, max: 3 * 86_400 }),
        duration: fc.integer({ min: 1, max: 7_200 }),
        size: fc.constantFrom(
          "dev" as const,
          "standard" as const,
          "performance" as const,
          "high-perf" as const
        ),
        requiresGpu: gpu ? fc.boolean() : fc.constant(false)
      }),
      { minLength: 1, maxLength: 40 }
    )
    .map((tasks): ReadonlyArray<Oracle.TraceTask> => traceOf(tasks))

const idlePolicies: ReadonlyArray<readonly [string, Layer.Layer<IdlePolicy.IdlePolicy>]> = [
  ["fixed-5m", IdlePolicies.fixedTimeout(5)],
  ["fixed-15m", IdlePolicies.fixedTimeout(15)],
  ["break-even", IdlePolicies.breakEven()],
  ["break-even-randomized", IdlePolicies.randomizedBreakEven({ seed: 3 })],
  ["histogram", IdlePolicies.histogram({ minSamples: 3 })],
  ["learning-augmented", IdlePolicies.learningAugmented({ trust: 0.5 })],
  ["expected-cost", IdlePolicies.expectedCost({ minSamples: 3 })],
  ["platform", IdlePolicies.platform]
]

const service = (layer: Layer.Layer<IdlePolicy.IdlePolicy>) =>
  Effect.runSync(Effect.provide(IdlePolicy.IdlePolicy, layer))

const epsilon = 1e-6
const params = { seed: 8675309, numRuns: 150 }

describe("oracle", () => {
  it("Oracle-0 ≤ Oracle-1 on random traces with GPU tasks", () => {
    fc.assert(
      fc.property(traceArbitrary(true), (trace) => {
        const platforms = [Platforms.fly(), Platforms.ecs()]
        return Oracle.oracle0(trace, platforms) <= Oracle.oracle1(trace, platforms).costMicroUsd + epsilon
      }),
      params
    )
  })

  it("exact optimum ≤ Oracle-1 ≤ every online idle policy, on Fly and on ECS", () => {
    fc.assert(
      fc.property(traceArbitrary(false), (trace) => {
        const platforms = [Platforms.fly(), Platforms.ecs()]
        const lower = Oracle.oracle1(trace, platforms).costMicroUsd
        if (Optimum.optimum(trace, platforms).costMicroUsd > lower + epsilon) return false
        return [Platforms.fly(), Platforms.ecs()].every((platform) =>
          idlePolicies.every(([, layer]) => {
            const online = Oracle.evaluateIdlePolicy(trace, platform, service(layer)).costMicroUsd
            return lower <= online + epsilon
          })
        )
      }),
      params
    )
  })

  it("deterministic break-even pays at most 2× the optimum on every idle gap", () => {
    fc.assert(
      fc.property(traceArbitrary(false), (trace) => {
        for (const platform of [Platforms.fly(), Platforms.ecs()]) {
          const result = Oracle.evaluateIdlePolicy(trace, platform, service(IdlePolicies.breakEven()))
          for (const gap of result.gaps) if (gap.paid > 2 * gap.optimal + epsilon) return false
        }
        return true
      }),
      params
    )
  })

  it("Oracle-1 keeps GPU work on ECS; for a sparse repo its choice per slot costs no more than either platform alone", () => {
    const trace: Array<Oracle.TraceTask> = [
      {
        taskId: "g",
        repository: "ml",
        region: "iad",
        arrivalMillis: 0,
        durationMillis: 600_000,
        size: "standard",
        requiresGpu: true
      },
      {
        taskId: "d1",
        repository: "web",
        region: "iad",
        arrivalMillis: 0,
        durationMillis: 300_000,
        size: "dev",
        requiresGpu: false
      },
      {
        taskId: "d2",
        repository: "web",
        region: "iad",
        arrivalMillis: 86_400_000,
        durationMillis: 300_000,
        size: "dev",
        requiresGpu: false
      }
    ]
    const result = Oracle.oracle1(trace, [Platforms.fly(), Platforms.ecs()])
    assert.strictEqual(result.platformByTask.get("g"), "ecs")
    // The sparse repository on either platform alone, and with both to choose from, priced by the plugins'
    // declared cost models: a choice per slot never costs more than the cheaper single platform.
    const sparse = trace.filter((task) => task.repository === "web")
    const onFly = Oracle.oracle1(sparse, [Platforms.fly()]).costMicroUsd
    const onEcs = Oracle.oracle1(sparse, [Platforms.ecs()]).costMicroUsd
    const mixed = Oracle.oracle1(sparse, [Platforms.fly(), Platforms.ecs()])
    assert.isAtMost(mixed.costMicroUsd, Math.min(onFly, onEcs) + 1e-6, `fly ${onFly} µ$, ecs ${onEcs} µ$`)
    for (const id of ["d1", "d2"]) {
      assert.include(["fly", "ecs"], result.platformByTask.get(id))
      assert.strictEqual(
        result.platformByTask.get(id),
        mixed.platformByTask.get(id),
        "other repositories change nothing"
      )
    }
  })

  it("slots give overlapping tasks of one repository their own machines", () => {
    const task = (taskId: string, at: number) => ({
      taskId,
      repository: "r",
      region: "iad",
      arrivalMillis: at,
      durationMillis: 1_000,
      size: "dev" as const,
      requiresGpu: false
    })
    const slots = Oracle.slots([task("a", 0), task("b", 500), task("c", 2_000)])
    assert.strictEqual(slots.length, 2)
    assert.deepStrictEqual(
      slots.map((s) => s.tasks.map((t) => t.taskId)),
      [["a", "c"], ["b"]]
    )
  })
})

describe("idle policies", () => {
  const input: IdlePolicy.IdleInput = {
    repository: "r" as IdlePolicy.IdleInput["repository"],
    provider: "fly" as IdlePolicy.IdleInput["provider"],
    sessionId: "s",
    idleSinceMillis: 0,
    runningMicroUsdPerSecond: 10,
    sleepingMicroUsdPerSecond: 1,
    wakeCostMicroUsd: 900,
    wakeSeconds: 2,
    canSuspend: true
  }
  it("break-even sleeps after W/(r−s), the wait weighed at λ", () => {
    const decision = Effect.runSync(service(IdlePolicies.breakEven()).onIdle(input))
    assert.strictEqual(decision.afterMillis, 100_000)
    assert.strictEqual(decision.action, "suspend")
    const weighed = Effect.runSync(
      service(IdlePolicies.breakEven({ waitMicroUsdPerSecond: 450 })).onIdle(input)
    )
    assert.strictEqual(weighed.afterMillis, 200_000)
  })
  it("randomized break-even draws within [0, B], reproducibly for a seed", () => {
    const draw = (seed: number) =>
      Array.from({ length: 50 }, () => 0).map(
        () => Effect.runSync(service(IdlePolicies.randomizedBreakEven({ seed })).onIdle(input)).afterMillis
      )
    const a = draw(5)
    assert.deepStrictEqual(a, draw(5))
    for (const t of a) assert.isTrue(t >= 0 && t <= 100_000)
  })
  it("the histogram pre-warms for a periodic repository and falls back when it knows too little", () => {
    const policy = service(IdlePolicies.histogram())
    const first = Effect.runSync(policy.onIdle(input))
    assert.strictEqual(first.afterMillis, 4 * 3_600_000)
    for (let i = 0; i < 20; i++) {
      Effect.runSync(
        policy.onArrival({
          repository: input.repository,
          provider: input.provider,
          idleGapMillis: 30 * 60_000,
          atMillis: i
        })
      )
    }
    const learned = Effect.runSync(policy.onIdle(input))
    assert.strictEqual(learned.afterMillis, 0)
    assert.isDefined(learned.prewarmAfterMillis)
    assert.isBelow(learned.prewarmAfterMillis ?? Number.POSITIVE_INFINITY, 30 * 60_000)
  })
  it("expected-cost sleeps at once for long periodic gaps, keeps warm through short ones, falls back to B", () => {
    const arrive = (policy: IdlePolicy.Service, gapMillis: number, times: number) => {
      for (let i = 0; i < times; i++)
        Effect.runSync(
          policy.onArrival({
            repository: input.repository,
            provider: input.provider,
            idleGapMillis: gapMillis,
            atMillis: i
          })
        )
    }
    const fresh = service(IdlePolicies.expectedCost())
    assert.strictEqual(Effect.runSync(fresh.onIdle(input)).afterMillis, 100_000, "break-even before 5 gaps")
    const hourly = service(IdlePolicies.expectedCost())
    arrive(hourly, 3_600_000, 10)
    assert.strictEqual(Effect.runSync(hourly.onIdle(input)).afterMillis, 0)
    const busy = service(IdlePolicies.expectedCost())
    arrive(busy, 20_000, 10)
    assert.strictEqual(Effect.runSync(busy.onIdle(input)).afterMillis, 20_000)
  })

  it("expected-cost's choice costs no more than break-even's over the gaps it saw, and stays within 2B", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2_000_000 }), { minLength: 5, maxLength: 50 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 1_000 }),
        (gaps, running, wake) => {
          const policy = service(IdlePolicies.expectedCost())
          for (const g of gaps)
            Effect.runSync(
              policy.onArrival({
                repository: input.repository,
                provider: input.provider,
                idleGapMillis: g,
                atMillis: 0
              })
            )
          const prices = { running, sleeping: 0, wake }
          const idle = {
            ...input,
            runningMicroUsdPerSecond: running,
            sleepingMicroUsdPerSecond: 0,
            wakeCostMicroUsd: wake
          }
          const b = IdlePolicies.breakEvenMillis(idle)
          const chosen = Effect.runSync(policy.onIdle(idle)).afterMillis
          return (
            chosen <= 2 * b + 1 &&
            IdlePolicies.expectedGapCost(gaps, chosen, prices) <=
              IdlePolicies.expectedGapCost(gaps, b, prices) + running / 1000 + 1e-9
          )
        }
      ),
      { seed: 4242, numRuns: 300 }
    )
  })

  it("learning-augmented trusts a long predicted gap (sleeps at λB) and hedges a short one (B/λ)", () => {
    const policy = service(IdlePolicies.learningAugmented({ trust: 0.5 }))
    Effect.runSync(
      policy.onArrival({
        repository: input.repository,
        provider: input.provider,
        idleGapMillis: 3_600_000,
        atMillis: 0
      })
    )
    assert.strictEqual(Effect.runSync(policy.onIdle(input)).afterMillis, 50_000)
    const short = service(IdlePolicies.learningAugmented({ trust: 0.5 }))
    Effect.runSync(
      short.onArrival({
        repository: input.repository,
        provider: input.provider,
        idleGapMillis: 1_000,
        atMillis: 0
      })
    )
    assert.strictEqual(Effect.runSync(short.onIdle(input)).afterMillis, 200_000)
  })
})
