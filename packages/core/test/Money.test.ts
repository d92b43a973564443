import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Money from "../src/Money.js"

const decimal = fc
  .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 999_999 }))
  .map(([whole, fraction]) => `${whole}.${String(fraction).padStart(6, "0")}`)
const period = fc.constantFrom(...Money.Period.literals)
const millis = fc.integer({ min: 0, max: 90 * 86_400_000 })
const params = { fastCheck: { seed: 20261128, numRuns: 300 } }

describe("Money", () => {
  it("prices an hour of an hourly rate at exactly its price", () => {
    assert.strictEqual(Money.cost(Money.rate("0.0416", "hour"), 3_600_000), 41_600)
    assert.strictEqual(Money.cost(Money.rate("2.02", "30-days"), 2_592_000_000), 2_020_000)
    assert.strictEqual(Money.cost(Money.rate("0.08", "730-hours"), 730 * 3_600_000), 80_000)
  })

  it.prop(
    "cost of a whole period is the price in micro-dollars, exactly",
    [decimal, period, fc.integer({ min: 1, max: 1000 })],
    ([usd, per, count]) => {
      const periodMillis = {
        second: 1e3,
        minute: 6e4,
        hour: 36e5,
        day: 864e5,
        "30-days": 2592e6,
        "730-hours": 2628e6
      }[per]
      const expected = Math.round(Number(usd) * 1e6) * count
      return Money.cost(Money.rate(usd, per), periodMillis * count) === expected
    },
    params
  )

  it.prop(
    "splitting an interval changes the cost by at most one micro-dollar per part",
    [decimal, period, millis, millis],
    ([usd, per, a, b]) => {
      const r = Money.rate(usd, per)
      const whole = Money.cost(r, a + b)
      const parts = Money.cost(r, a) + Money.cost(r, b)
      return Math.abs(whole - parts) <= 1
    },
    params
  )

  it.prop(
    "scaling by an integer equals adding the rate that many times",
    [decimal, period, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 30 * 86_400_000 })],
    ([usd, per, k, t]) => {
      const r = Money.rate(usd, per)
      let added = Money.zeroRate
      for (let i = 0; i < k; i++) added = Money.addRates(added, r)
      return (
        Money.cost(Money.scale(r, k), t) === Money.cost(added, t) &&
        Money.compareRates(added, Money.scale(r, k)) === 0
      )
    },
    params
  )

  it.prop(
    "cost is monotonic in time",
    [decimal, period, millis, millis],
    ([usd, per, a, b]) => {
      const r = Money.rate(usd, per)
      return a <= b ? Money.cost(r, a) <= Money.cost(r, b) : Money.cost(r, a) >= Money.cost(r, b)
    },
    params
  )

  it("bills per second, rounding each interval up, with a minimum", () => {
    const r = Money.rate("0.0416", "hour")
    assert.strictEqual(Money.billPerSecond(r, 1), Money.costSeconds(r, 1))
    assert.strictEqual(Money.billPerSecond(r, 1_001), Money.costSeconds(r, 2))
    assert.strictEqual(Money.billPerSecond(r, 5_000, 60), Money.costSeconds(r, 60))
    assert.strictEqual(Money.billPerSecond(r, 3_600_000, 60), 41_600)
  })

  it("refuses fractional milliseconds and malformed decimals with a clear message", () => {
    assert.throws(() => Money.cost(Money.rate("1", "hour"), 1.5), /whole number of milliseconds/)
    assert.throws(() => Money.rate("1e-3", "hour"), /decimal string/)
  })

  it("formats micro-dollars as dollars", () => {
    assert.strictEqual(Money.format(Money.microUsd(120_004_999)), "$120.00")
    assert.strictEqual(Money.format(Money.microUsd(-1_500_000)), "-$1.50")
  })
})
