/**
 * What the answer depends on (`hangar-bench sensitivity`), by re-simulation: each row is the whole scenario
 * simulated again on the engine with one variable changed from its tuned configuration (tuned.yaml), both sides'
 * bills from their ledgers. The variables: the ECS instance type × the group minimum; the Fly idle timeout; the
 * workspace's size (Fly's volume and the data EFS stores, scaled together); sessions per day (the arrival rate,
 * both sides). A row that changes one side only shows the other side's tuned simulation.
 */
import { Effect } from "effect"
import * as Scenario from "./Scenario.js"
import * as SideRuns from "./SideRuns.js"
import type { SideResult } from "./Sides.js"
import * as Table from "./Table.js"
import * as Tune from "./Tune.js"

/** One configuration of the scenario: what is varied, to which value, and the scenario each side runs. */
export interface Variant {
  readonly variable: string
  readonly value: string
  /** The tuned configuration itself (each variable's row for its tuned value). */
  readonly tuned: boolean
  readonly ecs: Scenario.Scenario
  readonly fly: Scenario.Scenario
}

export interface SensitivityRow {
  readonly scenario: string
  readonly variable: string
  readonly value: string
  readonly tuned: boolean
  readonly ecsUsdPerMonth: number
  readonly ecsP95Seconds: number
  readonly flyUsdPerMonth: number
  readonly flyP95Seconds: number
  readonly savings: number
}

/** A row with both sides' whole results (what tests check; the report shows the row). */
export interface Simulated {
  readonly row: SensitivityRow
  readonly ecs: SideResult
  readonly fly: SideResult
}

export const instanceTypes = ["t3.medium", "t3.large", "m6i.large"] as const
export const minimums = [0, 1, 2, 3] as const
export const idleTimeouts = [1, 5, 15, 60] as const
export const volumesGb = [5, 10, 20, 50] as const
export const sessionFactors = [0.5, 1, 2] as const

const distinct = <A>(values: ReadonlyArray<A>): Array<A> => [...new Set(values)]
const byNumber = (a: number, b: number) => a - b
const mark = (value: string, tuned: boolean) => (tuned ? `${value} (tuned)` : value)

/** The seconds a continuous scenario's session lasts (its median, for a lognormal one). */
const sessionSeconds = (scenario: Scenario.Scenario) =>
  scenario.duration.kind === "fixed" ? scenario.duration.seconds : scenario.duration.medianSeconds

/**
 * The scenario with `factor` times its sessions per day: the arrival rate scaled (Poisson and diurnal: perDay;
 * bursty: bursts per week; periodic: the period). A continuous scenario's repositories already work back to back:
 * fewer sessions lengthen the gap between them, more add repositories that work alike.
 */
export const scaleSessions = (scenario: Scenario.Scenario, factor: number): Scenario.Scenario => {
  const a = scenario.arrival
  switch (a.kind) {
    case "poisson":
    case "diurnal":
      return { ...scenario, arrival: { ...a, perDay: a.perDay * factor } }
    case "bursty":
      return { ...scenario, arrival: { ...a, burstsPerWeek: a.burstsPerWeek * factor } }
    case "periodic":
      return { ...scenario, arrival: { ...a, everyMinutes: a.everyMinutes / factor } }
    case "continuous":
      return factor <= 1
        ? {
            ...scenario,
            arrival: {
              ...a,
              gapSeconds: (sessionSeconds(scenario) + a.gapSeconds) / factor - sessionSeconds(scenario)
            }
          }
        : { ...scenario, repositories: Math.round(scenario.repositories * factor) }
  }
}

/** Sessions a day the scenario's arrival process asks for, on average. */
export const sessionsPerDay = (scenario: Scenario.Scenario): number => {
  const a = scenario.arrival
  switch (a.kind) {
    case "poisson":
    case "diurnal":
      return a.perDay
    case "bursty":
      return (a.burstsPerWeek * a.tasksPerBurst) / 7
    case "periodic":
      return 1440 / a.everyMinutes
    case "continuous":
      return (scenario.repositories * 86_400) / (sessionSeconds(scenario) + a.gapSeconds)
  }
}

const valid = (v: Variant) => Scenario.rules(v.ecs).length === 0 && Scenario.rules(v.fly).length === 0

/** Every configuration the table simulates around the tuned scenario `base` (kept only where it is valid). */
export const variants = (base: Scenario.Scenario): ReadonlyArray<Variant> => {
  const ecsRows = distinct([base.ecs.instanceType, ...instanceTypes])
    .filter((type) => Tune.pricedEverywhere(base, type))
    .flatMap((instanceType) =>
      distinct([...minimums, base.ecs.minInstances])
        .sort(byNumber)
        .map((minInstances) => {
          const tuned = instanceType === base.ecs.instanceType && minInstances === base.ecs.minInstances
          return {
            variable: "ECS instance type × group minimum",
            value: mark(`${instanceType}, min ${minInstances}`, tuned),
            tuned,
            ecs: tuned
              ? base
              : {
                  ...base,
                  ecs: {
                    ...base.ecs,
                    instanceType,
                    minInstances,
                    maxInstances: Math.max(base.ecs.maxInstances, minInstances)
                  }
                },
            fly: base
          }
        })
    )
  const flyRows = distinct([...idleTimeouts, base.fly.idleTimeoutMinutes])
    .sort(byNumber)
    .map((minutes) => {
      const tuned = minutes === base.fly.idleTimeoutMinutes
      return {
        variable: "Fly idle timeout",
        value: mark(`${minutes} min, then ${base.fly.sleepsBy}`, tuned),
        tuned,
        ecs: base,
        fly: tuned ? base : { ...base, fly: { ...base.fly, idleTimeoutMinutes: minutes } }
      }
    })
  const volumeRows = distinct([...volumesGb, base.fly.volumeGb])
    .sort(byNumber)
    .map((volumeGb) => {
      const tuned = volumeGb === base.fly.volumeGb
      const dataGb = (base.workspaceDataGb * volumeGb) / base.fly.volumeGb
      const scenario = tuned ? base : { ...base, workspaceDataGb: dataGb, fly: { ...base.fly, volumeGb } }
      return {
        variable: "Workspace size",
        value: mark(`Fly volume ${volumeGb} GB, EFS data ${Number(dataGb.toFixed(2))} GB`, tuned),
        tuned,
        ecs: scenario,
        fly: scenario
      }
    })
  const sessionRows = sessionFactors.map((factor) => {
    const tuned = factor === 1
    const scenario = tuned ? base : scaleSessions(base, factor)
    const perDay = sessionsPerDay(scenario)
    return {
      variable: "Sessions per day",
      value: mark(`×${factor} (${perDay.toFixed(0)} a day)`, tuned),
      tuned,
      ecs: scenario,
      fly: scenario
    }
  })
  return [...ecsRows, ...flyRows, ...volumeRows, ...sessionRows].filter(valid)
}

/** The simulations the variants need (each distinct side once). */
export const runsOf = (all: ReadonlyArray<Variant>): ReadonlyArray<SideRuns.SideRun> =>
  all.flatMap((v) => [
    { side: "ecs" as const, scenario: v.ecs },
    { side: "fly" as const, scenario: v.fly }
  ])

/** Simulates every variant of each tuned scenario on `workers` threads; rows in the scenarios' order. */
export const simulate = (
  scenarios: ReadonlyArray<Scenario.Scenario>,
  workers: number
): Effect.Effect<ReadonlyArray<Simulated>> =>
  Effect.gen(function* () {
    const all = scenarios.map((s) => ({ scenario: s, variants: variants(s) }))
    const resultOf = yield* SideRuns.simulate(
      all.flatMap((s) => runsOf(s.variants)),
      workers,
      "sensitivity"
    )
    return all.flatMap(({ scenario, variants }) =>
      variants.map((v) => {
        const ecs = resultOf({ side: "ecs", scenario: v.ecs })
        const fly = resultOf({ side: "fly", scenario: v.fly })
        return {
          row: {
            scenario: scenario.name,
            variable: v.variable,
            value: v.value,
            tuned: v.tuned,
            ecsUsdPerMonth: ecs.usdPerMonth,
            ecsP95Seconds: Tune.p95(ecs),
            flyUsdPerMonth: fly.usdPerMonth,
            flyP95Seconds: Tune.p95(fly),
            savings: 1 - fly.usdPerMonth / ecs.usdPerMonth
          },
          ecs,
          fly
        }
      })
    )
  })

export const columns: ReadonlyArray<Table.Column<SensitivityRow>> = [
  { header: "Scenario", value: (r) => r.scenario },
  { header: "Varied", value: (r) => r.variable },
  { header: "Value", value: (r) => r.value },
  { header: "ECS $/mo", align: "right", value: (r) => Table.usd(r.ecsUsdPerMonth) },
  { header: "ECS p95 s", align: "right", value: (r) => r.ecsP95Seconds.toFixed(1) },
  { header: "Fly $/mo", align: "right", value: (r) => Table.usd(r.flyUsdPerMonth) },
  { header: "Fly p95 s", align: "right", value: (r) => r.flyP95Seconds.toFixed(1) },
  { header: "Savings", align: "right", value: (r) => Table.percent(r.savings) }
]
