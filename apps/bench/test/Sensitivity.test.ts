/**
 * The sensitivity by re-simulation, on a 2-day slice of one seed scenario around its tuned configuration: every
 * row is a simulation of its own, so raising the group minimum never lowers the ECS bill, a longer idle timeout
 * never shortens Fly's started time, the tuned row is the plain simulation of the tuned configuration to the
 * cent, and each instance type's compute is billed at its own catalog price.
 */

import { assert, describe, it } from "@effect/vitest"
import { Money, Pricing } from "@hangar/core"
import { Effect } from "effect"
import * as Commands from "../src/Commands.js"
import * as Engine from "../src/engine/Engine.js"
import type { Scenario } from "../src/Scenario.js"
import * as Scenarios from "../src/Scenarios.js"
import * as Sensitivity from "../src/Sensitivity.js"
import * as Trace from "../src/Trace.js"
import * as Tune from "../src/Tune.js"

const sliceDays = 2
const cents = (usd: number) => Math.round(usd * 100)

const tunedSlice = async (name: string): Promise<Scenario> => {
  const scenarios = await Effect.runPromise(Scenarios.seedScenarios)
  const tuned = await Effect.runPromise(Tune.readTuned(Scenarios.tunedFile))
  const [chosen] = Commands.tunedAndSeed(
    scenarios.filter((s) => s.name === name),
    tuned,
    false
  )
  assert.isDefined(chosen, `no seed scenario ${name}`)
  const { label: _label, ...scenario } = chosen!
  return { ...scenario, days: sliceDays }
}

describe("sensitivity", () => {
  it("re-simulates each row: monotone where it must be, the tuned row exact, each type at its own price", async () => {
    const base = await tunedSlice("hundred-tasks-a-day")
    const rows = await Effect.runPromise(Sensitivity.simulate([base], 1))
    const of = (variable: string) => rows.filter((r) => r.row.variable === variable)

    // Raising a group minimum of 1 or more never lowers the ECS bill, for every instance type, and each minimum's
    // instances run all the time simulated. (From 0 to 1 it may: a group that empties between tasks pays for
    // every launch, each billed at least a minute and kept through the scale-in window, which can cost more than
    // one instance kept warm; the hundred-tasks-a-day slice shows it.)
    const ecsRows = of("ECS instance type × group minimum")
    const types = [...new Set(ecsRows.map((r) => r.row.value.split(",")[0]!))]
    assert.includeMembers(types, [base.ecs.instanceType, "t3.medium", "t3.large", "m6i.large"])
    for (const type of types) {
      const byMinimum = ecsRows.filter((r) => r.row.value.startsWith(`${type},`))
      assert.isAtLeast(byMinimum.length, 4)
      for (const [minimum, r] of byMinimum.entries())
        assert.isAtLeast(
          r.ecs.hoursByState["instance-running"] ?? 0,
          minimum * sliceDays * 24 - 0.01,
          r.row.value
        )
      for (let i = 2; i < byMinimum.length; i++)
        assert.isAtLeast(
          byMinimum[i]!.row.ecsUsdPerMonth,
          byMinimum[i - 1]!.row.ecsUsdPerMonth,
          `${byMinimum[i]!.row.value} against ${byMinimum[i - 1]!.row.value}`
        )
    }

    // Each row's compute is its own instance type's price in the region's catalog times its instance-hours: an
    // estimate that kept the tuned type's scale-out cost would fail for every other type.
    const region = base.regions[0]!
    for (const r of ecsRows) {
      const type = r.row.value.split(",")[0]!
      const catalog = Pricing.ec2PricingStrict(region, Engine.ecsPriceKeys(type)).catalog
      const perHour = Money.cost(Pricing.ec2InstanceRate(type, catalog), 3_600_000) / 1e6
      const compute = r.ecs.components.find((c) => c.component.startsWith("compute"))!
      const hours = r.ecs.hoursByState["instance-running"] ?? 0
      assert.isAbove(hours, 0, r.row.value)
      assert.closeTo(compute.usd / hours, perHour, perHour * 1e-3, r.row.value)
    }
    const minTwo = (type: string) => ecsRows.find((r) => r.row.value.startsWith(`${type}, min 2`))!.row
    assert.isAbove(minTwo("m6i.large").ecsUsdPerMonth, minTwo("t3.medium").ecsUsdPerMonth)

    // A longer idle timeout never shortens the time Fly's machines spend started; the ECS side stays tuned.
    const flyRows = of("Fly idle timeout")
    assert.isAtLeast(flyRows.length, 4)
    for (let i = 1; i < flyRows.length; i++) {
      assert.isAtLeast(
        flyRows[i]!.fly.hoursByState.started ?? 0,
        flyRows[i - 1]!.fly.hoursByState.started ?? 0,
        `${flyRows[i]!.row.value} against ${flyRows[i - 1]!.row.value}`
      )
      assert.strictEqual(flyRows[i]!.row.ecsUsdPerMonth, flyRows[0]!.row.ecsUsdPerMonth)
    }

    // A bigger workspace costs more on both sides; more sessions never cost less.
    const volumes = of("Workspace size")
    for (let i = 1; i < volumes.length; i++) {
      assert.isAbove(volumes[i]!.row.flyUsdPerMonth, volumes[i - 1]!.row.flyUsdPerMonth)
      assert.isAbove(volumes[i]!.row.ecsUsdPerMonth, volumes[i - 1]!.row.ecsUsdPerMonth)
    }
    const sessions = of("Sessions per day")
    assert.strictEqual(sessions.length, 3)
    assert.isBelow(sessions[0]!.ecs.tasks, sessions[2]!.ecs.tasks)

    // Every variable's tuned row is the plain simulation of the tuned configuration, to the cent.
    const trace = Trace.generate(base)
    const ecs = Tune.simulate(base, "ecs", trace)
    const fly = Tune.simulate(base, "fly", trace)
    const tuned = rows.filter((r) => r.row.tuned)
    assert.strictEqual(tuned.length, 4)
    for (const r of tuned) {
      assert.strictEqual(cents(r.row.ecsUsdPerMonth), cents(ecs.usdPerMonth), r.row.variable)
      assert.strictEqual(cents(r.row.flyUsdPerMonth), cents(fly.usdPerMonth), r.row.variable)
    }
  }, 600_000)

  it("scales sessions per day by the arrival process of each kind", async () => {
    const scenarios = await Effect.runPromise(Scenarios.seedScenarios)
    for (const scenario of scenarios)
      for (const factor of [0.5, 2]) {
        const scaled = Sensitivity.scaleSessions(scenario, factor)
        assert.closeTo(
          Sensitivity.sessionsPerDay(scaled),
          Sensitivity.sessionsPerDay(scenario) * factor,
          Sensitivity.sessionsPerDay(scenario) * 0.05,
          `${scenario.name} × ${factor}`
        )
      }
  })
})
