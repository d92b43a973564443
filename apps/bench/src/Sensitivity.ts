/**
 * What the answer depends on. Estimated around each simulated result, not re-simulated: the ECS side swaps the
 * warm floor (Auto Scaling group minimum × instance price for the month, plus its root volume) for another
 * instance type and minimum; the Fly side scales the simulated bill by how the idle timeout changes the
 * analytic cost of the same trace (router's `Oracle.evaluateIdlePolicy`).
 */

import { IdlePolicy, Pricing } from "@hangar/core"
import { IdlePolicies, Oracle } from "@hangar/router"
import { Effect } from "effect"
import type { ScenarioResult } from "./CompareReport.js"
import * as PolicyBenchmark from "./PolicyBenchmark.js"
import * as Table from "./Table.js"

export interface SensitivityRow {
  readonly scenario: string
  readonly variable: string
  readonly value: string
  readonly ecsUsdPerMonth: number
  readonly flyUsdPerMonth: number
  readonly savings: number
}

const month = 30 * 86_400_000

const floor = (instanceType: string, minimum: number, regions: number) => {
  const cost = Pricing.ec2InstanceCost(instanceType, month)
  return ((cost.compute + cost.ebs) * minimum * regions) / 1e6
}

export const rows = (
  result: ScenarioResult,
  trace: ReadonlyArray<Oracle.TraceTask>
): ReadonlyArray<SensitivityRow> => {
  const { scenario, ecs, fly } = result
  const regions = scenario.regions.length
  const base = floor(scenario.ecs.instanceType, scenario.ecs.minInstances, regions)
  const out: Array<SensitivityRow> = []
  for (const instanceType of ["t3.medium", "t3.large", "m6i.large"]) {
    // A minimum of 0 is not estimated: every task would wait for a scale-out, which only a simulation can price.
    for (const minimum of [1, 2, 3]) {
      const estimate = Math.max(0, ecs.usdPerMonth - base + floor(instanceType, minimum, regions))
      out.push({
        scenario: scenario.name,
        variable: "ECS instance type × group minimum",
        value: `${instanceType}, min ${minimum}`,
        ecsUsdPerMonth: estimate,
        flyUsdPerMonth: fly.usdPerMonth,
        savings: 1 - fly.usdPerMonth / estimate
      })
    }
  }
  const flyPlatform = PolicyBenchmark.flyPlatform()
  const analytic = (minutes: number) =>
    Oracle.evaluateIdlePolicy(
      trace,
      flyPlatform,
      Effect.runSync(Effect.provide(IdlePolicy.IdlePolicy, IdlePolicies.fixedTimeout(minutes)))
    ).costMicroUsd
  const reference = analytic(scenario.fly.idleTimeoutMinutes)
  for (const minutes of [1, 5, 15, 60]) {
    const estimate = reference === 0 ? fly.usdPerMonth : (fly.usdPerMonth * analytic(minutes)) / reference
    out.push({
      scenario: scenario.name,
      variable: "Fly idle timeout",
      value: `${minutes} min`,
      ecsUsdPerMonth: ecs.usdPerMonth,
      flyUsdPerMonth: estimate,
      savings: 1 - estimate / ecs.usdPerMonth
    })
  }
  return out
}

export const columns: ReadonlyArray<Table.Column<SensitivityRow>> = [
  { header: "Scenario", value: (r) => r.scenario },
  { header: "Varied", value: (r) => r.variable },
  { header: "Value", value: (r) => r.value },
  { header: "ECS $/mo", align: "right", value: (r) => Table.usd(r.ecsUsdPerMonth) },
  { header: "Fly $/mo", align: "right", value: (r) => Table.usd(r.flyUsdPerMonth) },
  { header: "Savings", align: "right", value: (r) => Table.percent(r.savings) }
]
