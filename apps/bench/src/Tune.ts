/**
 * The configuration search (`hangar-bench tune`): per side, the cheapest configuration that meets the scenario's
 * start-latency target (p95 of task start latency, no failed task), found on the engine. ECS is searched over
 * instance type (every 2-vCPU type priced in all the scenario's regions, Graviton peers included), the group's
 * minimum and maximum, and managed scaling's targetCapacity; Fly over the idle timeout and suspend vs stop.
 *
 * Pruned cheapest-first: candidates are ranked by a lower bound on their monthly cost (ECS: the group minimum's
 * instances all month; Fly: the workspace volumes) and simulated on a short slice in that order; one that meets
 * the target on the slice and is cheaper than the best so far is simulated over the whole scenario at once, and
 * the search stops when a candidate's bound exceeds the best confirmed cost. `tuned.yaml` keeps the choice per
 * scenario, which `compare` reads.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { Money, Pricing, PricingCatalog } from "@hangar/core"
import type { Oracle } from "@hangar/router"
import { Effect, Schema } from "effect"
import { parse as parseYaml, stringify } from "yaml"
import * as Engine from "./engine/Engine.js"
import type { Scenario } from "./Scenario.js"
import { combineEcs, type SideResult } from "./Sides.js"
import * as Trace from "./Trace.js"

export const EcsConfig = Schema.Struct({
  instanceType: Schema.String,
  minInstances: Schema.Int.pipe(Schema.nonNegative()),
  maxInstances: Schema.Int.pipe(Schema.positive()),
  targetCapacity: Schema.Int.pipe(Schema.between(1, 100))
})
export type EcsConfig = typeof EcsConfig.Type

export const FlyConfig = Schema.Struct({
  idleTimeoutMinutes: Schema.Number.pipe(Schema.nonNegative()),
  sleepsBy: Schema.Literal("suspend", "stop")
})
export type FlyConfig = typeof FlyConfig.Type

/** `tuned.yaml`: each scenario's chosen configuration per side. */
export const Tuned = Schema.Record({
  key: Schema.String,
  value: Schema.Struct({ ecs: EcsConfig, fly: FlyConfig })
})
export type Tuned = typeof Tuned.Type

/** The instance types searched: the issue's four and their Graviton peers, where every region prices them. */
export const instanceTypes = [
  "t3.medium",
  "t3.large",
  "m6i.large",
  "c6i.large",
  "t4g.medium",
  "t4g.large",
  "m6g.large",
  "c6g.large"
] as const

/** The scenario with a side's configuration applied. */
export const withEcs = (scenario: Scenario, ecs: EcsConfig): Scenario => ({
  ...scenario,
  ecs: { ...scenario.ecs, ...ecs }
})
export const withFly = (scenario: Scenario, fly: FlyConfig): Scenario => ({
  ...scenario,
  fly: { ...scenario.fly, ...fly }
})

/** A scenario's configuration of each side as its file sets it (what `withEcs` and `withFly` set). */
export const configOf = (scenario: Scenario): { readonly ecs: EcsConfig; readonly fly: FlyConfig } => ({
  ecs: {
    instanceType: scenario.ecs.instanceType,
    minInstances: scenario.ecs.minInstances,
    maxInstances: scenario.ecs.maxInstances,
    targetCapacity: scenario.ecs.targetCapacity
  },
  fly: { idleTimeoutMinutes: scenario.fly.idleTimeoutMinutes, sleepsBy: scenario.fly.sleepsBy }
})

/** Whether every region of the scenario prices the instance type (and what its bill needs beside it). */
export const pricedEverywhere = (scenario: Scenario, instanceType: string): boolean =>
  scenario.regions.every((region) => {
    try {
      Pricing.ec2PricingStrict(region, Engine.ecsPriceKeys(instanceType))
      return true
    } catch {
      return false
    }
  })

/** ECS candidates: types priced everywhere × minimum 0-2 × targetCapacity 100 or 75, the scenario's maximum. */
export const ecsCandidates = (scenario: Scenario): ReadonlyArray<EcsConfig> =>
  instanceTypes
    .filter((t) => pricedEverywhere(scenario, t))
    .flatMap((instanceType) =>
      [0, 1, 2].flatMap((minInstances) =>
        [100, 75].map((targetCapacity) => ({
          instanceType,
          minInstances,
          maxInstances: Math.max(scenario.ecs.maxInstances, minInstances),
          targetCapacity
        }))
      )
    )

/** Fly candidates: the idle timeout × suspend or stop. */
export const flyCandidates: ReadonlyArray<FlyConfig> = [1, 2, 5, 10, 15, 30, 60].flatMap(
  (idleTimeoutMinutes) => (["suspend", "stop"] as const).map((sleepsBy) => ({ idleTimeoutMinutes, sleepsBy }))
)

/** A lower bound on an ECS configuration's monthly cost: its minimum's instances, all month, in every region. */
export const ecsLowerBound = (scenario: Scenario, config: EcsConfig): number =>
  scenario.regions.reduce((sum, region) => {
    const catalog = Pricing.ec2PricingStrict(region).catalog
    return (
      sum +
      Money.cost(
        Money.scale(Pricing.ec2InstanceRate(config.instanceType, catalog), config.minInstances),
        30 * 86_400_000
      ) /
        1e6
    )
  }, 0)

/** A lower bound on a Fly configuration's monthly cost: the repositories' workspace volumes, all month. */
export const flyLowerBound = (scenario: Scenario): number =>
  Money.cost(
    Money.scale(
      PricingCatalog.rate(PricingCatalog.fly, "volume"),
      scenario.fly.volumeGb * scenario.repositories
    ),
    30 * 86_400_000
  ) / 1e6

export const p95 = (side: SideResult): number => {
  const sorted = [...side.startLatencySeconds].sort((a, b) => a - b)
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!
}

export const meets = (scenario: Scenario, side: SideResult): boolean =>
  side.failed === 0 && p95(side) <= scenario.startLatencyP95Seconds

/** One side of a scenario on the engine, in this process. */
export const simulate = (
  scenario: Scenario,
  side: "ecs" | "fly",
  trace: ReadonlyArray<Oracle.TraceTask>
): SideResult =>
  side === "fly"
    ? Engine.runFly(scenario, trace)
    : combineEcs(
        scenario,
        trace.length,
        scenario.regions.map((region) => Engine.runEcsRegion(scenario, trace, region))
      )

export interface Tried<C> {
  readonly config: C
  readonly phase: "slice" | "month"
  readonly usdPerMonth: number
  readonly p95Seconds: number
  readonly failed: number
  readonly meets: boolean
}

/** The cheapest-first search of one side; `tried` lists every simulation with its cost and p95. */
const search = <C>(
  scenario: Scenario,
  candidates: ReadonlyArray<C>,
  lowerBound: (c: C) => number,
  apply: (s: Scenario, c: C) => Scenario,
  side: "ecs" | "fly",
  sliceDays: number,
  onTried: (t: Tried<C>) => void
): { readonly chosen: C | undefined; readonly tried: ReadonlyArray<Tried<C>> } => {
  const tried: Array<Tried<C>> = []
  const run = (config: C, days: number, phase: "slice" | "month") => {
    const s = apply({ ...scenario, days }, config)
    const result = simulate(s, side, Trace.generate(s))
    const t = {
      config,
      phase,
      usdPerMonth: result.usdPerMonth,
      p95Seconds: p95(result),
      failed: result.failed,
      meets: meets(s, result)
    }
    tried.push(t)
    onTried(t)
    return t
  }
  const ranked = [...candidates].sort((a, b) => lowerBound(a) - lowerBound(b))
  let best: Tried<C> | undefined
  for (const config of ranked) {
    // No candidate from here on can be cheaper than the best confirmed: stop.
    if (best !== undefined && lowerBound(config) > best.usdPerMonth) break
    const slice = run(config, Math.min(sliceDays, scenario.days), "slice")
    if (!slice.meets || (best !== undefined && slice.usdPerMonth >= best.usdPerMonth)) continue
    // A slice that meets the target is confirmed over the whole scenario at once.
    const month = sliceDays >= scenario.days ? slice : run(config, scenario.days, "month")
    if (month.meets && (best === undefined || month.usdPerMonth < best.usdPerMonth)) best = month
  }
  return { chosen: best?.config, tried }
}

export interface TuneResult {
  readonly scenario: string
  readonly ecs: { readonly chosen: EcsConfig | undefined; readonly tried: ReadonlyArray<Tried<EcsConfig>> }
  readonly fly: { readonly chosen: FlyConfig | undefined; readonly tried: ReadonlyArray<Tried<FlyConfig>> }
}

export const describeEcs = (c: EcsConfig) =>
  `${c.instanceType} min ${c.minInstances} max ${c.maxInstances} target ${c.targetCapacity}%`
export const describeFly = (c: FlyConfig) => `${c.sleepsBy} after ${c.idleTimeoutMinutes} min`

/** Tunes both sides of `scenario` (slices of `sliceDays`), reporting each simulation as it finishes. */
export const tune = (
  scenario: Scenario,
  sliceDays: number,
  onLine: (line: string) => void = () => undefined
): TuneResult => {
  const line = (side: string, what: string) => (t: Tried<unknown>) =>
    onLine(
      `${scenario.name}  ${side}  ${what.padEnd(38)} ${t.phase.padEnd(5)} ${`$${t.usdPerMonth.toFixed(2)}/mo`.padStart(11)}  p95 ${t.p95Seconds.toFixed(1).padStart(6)} s${t.failed > 0 ? `  ${t.failed} failed` : ""}  ${t.meets ? "meets" : "misses"} p95 ≤ ${scenario.startLatencyP95Seconds} s`
    )
  const ecs = search(
    scenario,
    ecsCandidates(scenario),
    (c) => ecsLowerBound(scenario, c),
    withEcs,
    "ecs",
    sliceDays,
    (t) => line("ecs", describeEcs(t.config))(t)
  )
  const fly = search(
    scenario,
    flyCandidates,
    () => flyLowerBound(scenario),
    withFly,
    "fly",
    sliceDays,
    (t) => line("fly", describeFly(t.config))(t)
  )
  return { scenario: scenario.name, ecs, fly }
}

/** Reads a committed YAML file of the bench's (tuned.yaml, reproduce.yaml): an empty record when there is none. */
export const readYaml = <A, I>(
  schema: Schema.Schema<A, I>,
  path: string,
  empty: A
): Effect.Effect<A, Error> =>
  Effect.try({
    try: () => {
      let text: string
      try {
        text = readFileSync(path, "utf8")
      } catch {
        return empty
      }
      return Schema.decodeUnknownSync(schema)(parseYaml(text) ?? {})
    },
    catch: (e) => new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`)
  })

/** Reads `tuned.yaml` (an empty record when there is none). */
export const readTuned = (path: string): Effect.Effect<Tuned, Error> => readYaml(Tuned, path, {})

/** Writes the chosen configurations, merged into the file's others. */
export const writeTuned = (path: string, previous: Tuned, results: ReadonlyArray<TuneResult>): void => {
  const next: Record<string, Tuned[string]> = { ...previous }
  for (const r of results)
    if (r.ecs.chosen !== undefined && r.fly.chosen !== undefined)
      next[r.scenario] = { ecs: r.ecs.chosen, fly: r.fly.chosen }
  writeFileSync(
    path,
    `# Written by \`hangar-bench tune\`: per scenario, each side's cheapest configuration meeting its start-latency\n# target on the engine. \`compare\` reads it; rerun tune after changing a scenario, a price or the engine.\n${stringify(next, { aliasDuplicateObjects: false })}`
  )
}
