/**
 * Whether a seed row reproduces, and under which configuration it would (`hangar-bench reproduce`). A row
 * reproduces when both monthly figures are within 15% of the seed's and the savings within 10 points.
 *
 * The search runs on the engine over tune's candidate space (Tune.ts: ECS instance type, group minimum and maximum,
 * managed scaling's targetCapacity; Fly idle timeout, suspend vs stop), each candidate a whole simulation of the
 * scenario. A side's bill depends on its own configuration alone, so each side's candidates are simulated once
 * and every pair is judged from those results.
 *
 * "Nearest" to the tuned configuration (tuned.yaml): fewest fields changed across both sides, then the smallest
 * dollar error (|ECS − seed's ECS| + |Fly − seed's Fly|). When no pair reproduces, the closest pair is the one
 * whose worst criterion is least off (each as a multiple of its tolerance), then whose three criteria are least
 * off together, then with fewest fields changed.
 * `reproduce.yaml` keeps each seed row's answer; `compare` prints it under the table.
 */
import { writeFileSync } from "node:fs"
import { type Effect, Schema } from "effect"
import { Document, isMap, type YAMLMap, type YAMLSeq } from "yaml"
import * as Scenario from "./Scenario.js"
import type { SideResult } from "./Sides.js"
import * as Tune from "./Tune.js"

// ---- the criterion

/** How far a monthly figure may be from the seed's (relative), and the savings (percentage points). */
export const dollarTolerance = 0.15
export const pointsTolerance = 10

export const Claim = Schema.Struct({
  ecsUsdPerMonth: Schema.Number,
  flyUsdPerMonth: Schema.Number,
  savingsPercent: Schema.Number
})
export type Claim = typeof Claim.Type

export interface Judgement {
  /** (ours − seed's) / seed's, per side. */
  readonly ecsOff: number
  readonly flyOff: number
  readonly savingsPercent: number
  /** Our savings − the seed's, percentage points. */
  readonly points: number
  readonly reproduces: boolean
  /** The worst of the three as a multiple of its tolerance (at most 1 when the row reproduces). */
  readonly miss: number
  /** The three's multiples of their tolerances, summed. */
  readonly totalMiss: number
}

export const judge = (claim: Claim, ecsUsdPerMonth: number, flyUsdPerMonth: number): Judgement => {
  const ecsOff = (ecsUsdPerMonth - claim.ecsUsdPerMonth) / claim.ecsUsdPerMonth
  const flyOff = (flyUsdPerMonth - claim.flyUsdPerMonth) / claim.flyUsdPerMonth
  const savingsPercent = (1 - flyUsdPerMonth / ecsUsdPerMonth) * 100
  const points = savingsPercent - claim.savingsPercent
  const reproduces =
    Math.abs(ecsOff) <= dollarTolerance &&
    Math.abs(flyOff) <= dollarTolerance &&
    Math.abs(points) <= pointsTolerance
  const misses = [
    Math.abs(ecsOff) / dollarTolerance,
    Math.abs(flyOff) / dollarTolerance,
    Math.abs(points) / pointsTolerance
  ]
  return {
    ecsOff,
    flyOff,
    savingsPercent,
    points,
    reproduces,
    miss: Math.max(...misses),
    totalMiss: misses.reduce((a, b) => a + b, 0)
  }
}

// ---- the nearest choice

/** What a candidate's simulation gave, beside its configuration. */
const Outcome = Schema.Struct({
  usdPerMonth: Schema.Number,
  p95Seconds: Schema.Number,
  failed: Schema.Int,
  meetsTarget: Schema.Boolean
})
const EvaluatedEcs = Schema.Struct({ config: Tune.EcsConfig, ...Outcome.fields })
const EvaluatedFly = Schema.Struct({ config: Tune.FlyConfig, ...Outcome.fields })
/** A candidate configuration of one side and what its simulation gave. */
export type Evaluated<C> = typeof Outcome.Type & { readonly config: C }

export const Choice = Schema.Struct({
  ecs: EvaluatedEcs,
  fly: EvaluatedFly,
  /** Fields of both sides' configurations that differ from the tuned ones. */
  changedFields: Schema.Int,
  savingsPercent: Schema.Number
})
export type Choice = typeof Choice.Type

/** How many of `from`'s fields `to` changes. */
export const changedFields = <C extends object>(from: C, to: C): number =>
  (Object.keys(from) as Array<keyof C>).filter((k) => from[k] !== to[k]).length

/**
 * The pair nearest to `from` under which the claim reproduces (fewest changed fields, then the smallest dollar
 * error), or, when none does, the closest pair (least worst miss, then least total miss, then fewest changed
 * fields); undefined when a side has no candidate.
 */
export const nearest = (
  claim: Claim,
  from: { readonly ecs: Tune.EcsConfig; readonly fly: Tune.FlyConfig },
  ecs: ReadonlyArray<Evaluated<Tune.EcsConfig>>,
  fly: ReadonlyArray<Evaluated<Tune.FlyConfig>>
): { readonly reproduces: boolean; readonly choice: Choice } | undefined => {
  interface Pair {
    readonly choice: Choice
    readonly judgement: Judgement
    readonly dollarError: number
  }
  let best: Pair | undefined
  const better = (a: Pair, b: Pair) => {
    if (a.judgement.reproduces !== b.judgement.reproduces) return a.judgement.reproduces
    if (a.judgement.reproduces)
      return a.choice.changedFields !== b.choice.changedFields
        ? a.choice.changedFields < b.choice.changedFields
        : a.dollarError < b.dollarError
    if (a.judgement.miss !== b.judgement.miss) return a.judgement.miss < b.judgement.miss
    if (a.judgement.totalMiss !== b.judgement.totalMiss) return a.judgement.totalMiss < b.judgement.totalMiss
    return a.choice.changedFields < b.choice.changedFields
  }
  for (const e of ecs)
    for (const f of fly) {
      const judgement = judge(claim, e.usdPerMonth, f.usdPerMonth)
      const pair: Pair = {
        choice: {
          ecs: e,
          fly: f,
          changedFields: changedFields(from.ecs, e.config) + changedFields(from.fly, f.config),
          savingsPercent: Math.round(judgement.savingsPercent * 100) / 100
        },
        judgement,
        dollarError:
          Math.abs(e.usdPerMonth - claim.ecsUsdPerMonth) + Math.abs(f.usdPerMonth - claim.flyUsdPerMonth)
      }
      if (best === undefined || better(pair, best)) best = pair
    }
  return best === undefined ? undefined : { reproduces: best.judgement.reproduces, choice: best.choice }
}

// ---- the search on the engine

/** A side's candidate as its simulation came out. */
export const evaluate = <C>(scenario: Scenario.Scenario, config: C, side: SideResult): Evaluated<C> => ({
  config,
  // To the micro-dollar, as the ledgers count.
  usdPerMonth: Math.round(side.usdPerMonth * 1e6) / 1e6,
  p95Seconds: Tune.p95(side),
  failed: side.failed,
  meetsTarget: Tune.meets(scenario, side)
})

/** The candidates of each side of `scenario`: tune's space (Fly's kept where the scenario allows them). */
export const candidates = (scenario: Scenario.Scenario) => ({
  ecs: Tune.ecsCandidates(scenario).map((config) => ({ config, scenario: Tune.withEcs(scenario, config) })),
  fly: Tune.flyCandidates
    .map((config) => ({ config, scenario: Tune.withFly(scenario, config) }))
    .filter((c) => Scenario.rules(c.scenario).length === 0)
})

// ---- reproduce.yaml

export const Entry = Schema.Struct({
  seedClaim: Claim,
  /** Simulated days of each candidate. */
  days: Schema.Number,
  /** The tuned configuration the changed fields are counted from. */
  tuned: Schema.Struct({ ecs: Tune.EcsConfig, fly: Tune.FlyConfig }),
  /** Every configuration of each side that was simulated, with its result (what the choice was made from). */
  searched: Schema.Struct({ ecs: Schema.Array(EvaluatedEcs), fly: Schema.Array(EvaluatedFly) }),
  /** Whether some pair in the searched space reproduces the row. */
  reproduces: Schema.Boolean,
  /** The nearest reproducing pair, or (`reproduces: false`) the closest pair. */
  configuration: Choice
})
export type Entry = typeof Entry.Type

/** `reproduce.yaml`: per seed scenario, its search's answer. */
export const File = Schema.Record({ key: Schema.String, value: Entry })
export type File = typeof File.Type

/** Reads `reproduce.yaml` (an empty record when there is none). */
export const read = (path: string): Effect.Effect<File, Error> => Tune.readYaml(File, path, {})

/** Writes the entries, merged into the file's others. */
export const write = (path: string, previous: File, entries: Readonly<Record<string, Entry>>): void => {
  const next = { ...previous, ...entries }
  const document = new Document(Schema.encodeSync(File)(next), { aliasDuplicateObjects: false })
  // Each candidate's configuration on one line.
  for (const name of Object.keys(next))
    for (const side of ["ecs", "fly"])
      for (const item of (document.getIn([name, "searched", side]) as YAMLSeq<YAMLMap>).items) {
        const config = item.get("config", true)
        if (isMap(config)) config.flow = true
      }
  writeFileSync(
    path,
    `# Written by \`hangar-bench reproduce\`: per seed row, the configuration nearest to the tuned one (fewest fields\n# changed, then the smallest dollar error) under which the row reproduces (both $/mo within 15% of the seed's,\n# savings within 10 points), or with \`reproduces: false\` the closest the searched space came (least worst miss, as a\n# multiple of its tolerance, then least total miss); \`searched\` holds every candidate simulated. \`compare\` reads it.\n${document.toString({ lineWidth: 0 })}`
  )
}

// ---- as text

const describeChoice = (c: Choice) =>
  `ECS ${Tune.describeEcs(c.ecs.config)} ($${c.ecs.usdPerMonth.toFixed(2)}/mo, p95 ${c.ecs.p95Seconds.toFixed(1)} s${c.ecs.meetsTarget ? "" : ", misses the target"}), Fly ${Tune.describeFly(c.fly.config)} ($${c.fly.usdPerMonth.toFixed(2)}/mo, p95 ${c.fly.p95Seconds.toFixed(1)} s${c.fly.meetsTarget ? "" : ", misses the target"}), savings ${c.savingsPercent.toFixed(0)}%`

/** What `compare` prints under a seed row: the nearest reproducing configuration, or the closest. */
export const describe = (entry: Entry): string =>
  entry.reproduces
    ? `nearest configuration that reproduces (${entry.configuration.changedFields} field${entry.configuration.changedFields === 1 ? "" : "s"} changed from tuned): ${describeChoice(entry.configuration)}`
    : `none in the searched space (${entry.searched.ecs.length} ECS × ${entry.searched.fly.length} Fly configurations); closest: ${describeChoice(entry.configuration)}`
