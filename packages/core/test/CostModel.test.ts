import { assert, describe, it } from "@effect/vitest"
import * as CostModel from "../src/CostModel.js"
import * as SeededRandom from "../src/SeededRandom.js"
import * as Statistics from "../src/Statistics.js"

const states: CostModel.MachineStates = {
  running: 10,
  suspended: { microUsdPerSecond: 1, wakeSeconds: 0.5, wakeBilledSeconds: 0.5 },
  stopped: { microUsdPerSecond: 1, wakeSeconds: 2, wakeBilledSeconds: 2 },
  destroyed: { microUsdPerSecond: 0, wakeSeconds: 8, wakeBilledSeconds: 8 }
}

describe("CostModel.idlePrices", () => {
  it("weighs the suspended state where the provider can suspend, else the stopped one", () => {
    assert.deepStrictEqual(CostModel.idlePrices(states, true), {
      running: 10,
      sleeping: 1,
      wakeCostMicroUsd: 5,
      wakeSeconds: 0.5,
      state: "suspended"
    })
    assert.strictEqual(CostModel.idlePrices(states, false)?.state, "stopped")
    assert.strictEqual(
      CostModel.idlePrices(
        { running: 3, destroyed: { microUsdPerSecond: 0, wakeSeconds: 8, wakeBilledSeconds: 8 } },
        true
      )?.state,
      "destroyed"
    )
    assert.isUndefined(CostModel.idlePrices({ running: 3 }, true))
  })

  it("a flat model prices the expected duration plus the start", () => {
    const model = CostModel.flat({
      runningMicroUsdPerSecond: 2,
      sleepingMicroUsdPerSecond: 0,
      startSeconds: 1,
      wakeSeconds: 0.1,
      sleepsBy: "stop"
    })
    const task = { expectedDurationSeconds: 99, size: "dev" as const, region: "iad", requiresGpu: false }
    assert.strictEqual(model.estimate(task as never).costMicroUsd, 200)
    assert.isUndefined(model.machineStates(task).suspended)
    assert.deepStrictEqual(
      model.dedicated.sleepStates.map((s) => s.name),
      ["stop"]
    )
  })
})

describe("SeededRandom", () => {
  it("replays a seed, and restores a saved position", () => {
    const a = SeededRandom.make(42)
    const b = SeededRandom.make(42)
    const first = [a.next(), a.exponential(5), a.normal(), a.hex(8)]
    assert.deepStrictEqual([b.next(), b.exponential(5), b.normal(), b.hex(8)], first)
    const saved = a.position
    const next = a.next()
    a.position = saved
    assert.strictEqual(a.next(), next)
    assert.notStrictEqual(SeededRandom.make(43).next(), SeededRandom.make(42).next())
  })

  it("draws in [0, 1), exponentials with about their mean, jitter within its spread", () => {
    const random = SeededRandom.make(7)
    const draws = Array.from({ length: 20_000 }, () => random.exponential(10))
    assert.isTrue(draws.every((d) => d >= 0))
    assert.approximately(Statistics.mean(draws), 10, 0.5)
    for (let i = 0; i < 1000; i++) {
      const u = random.next()
      assert.isTrue(u >= 0 && u < 1)
      const j = random.jitter(100, 0.2)
      assert.isTrue(j >= 80 && j <= 120)
    }
  })
})

describe("Statistics", () => {
  it("nearest-rank percentiles and means", () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
    assert.strictEqual(Statistics.percentile(values, 0.5), 5)
    assert.strictEqual(Statistics.percentile(values, 0.95), 10)
    assert.strictEqual(Statistics.percentile(values, 0), 1)
    assert.strictEqual(Statistics.percentile([], 0.5), 0)
    assert.strictEqual(Statistics.mean(values), 5.5)
    assert.strictEqual(Statistics.mean([]), 0)
  })
})
