/**
 * Whole simulations of one side of a scenario each, for `compare` (both sides of each scenario), `sensitivity`
 * and `reproduce` (a configuration, a workload change): each becomes its jobs (Jobs.ts: the Fly side as one job,
 * the ECS side as one job per region), run on the worker pool, and each side's result is put together from its
 * jobs. The same side of the same scenario is simulated once however many rows ask for it.
 */
import { Effect } from "effect"
import * as Jobs from "./Jobs.js"
import type { Scenario } from "./Scenario.js"
import { combineEcs, type EcsRegionResult, type SideResult } from "./Sides.js"
import * as Trace from "./Trace.js"

/** One side of a scenario, simulated over the scenario's whole horizon. */
export interface SideRun {
  readonly side: "fly" | "ecs"
  readonly scenario: Scenario
}

/** Two runs with the same key are the same simulation (same side, same scenario in every field). */
export const keyOf = (run: SideRun): string => `${run.side} ${JSON.stringify(run.scenario)}`

/** The side's jobs among the scenario's (Fly's one; ECS's one per region). */
const jobsOf = (run: SideRun, path: Jobs.Path): ReadonlyArray<Jobs.Job> =>
  Jobs.jobsOf(run.scenario, path).filter((job) => job.kind === run.side)

/** Each run once (the first of those with its key), in order. */
export const distinct = (runs: ReadonlyArray<SideRun>): ReadonlyArray<SideRun> => [
  ...new Map(runs.map((r) => [keyOf(r), r] as const)).values()
]

/**
 * Simulates every distinct run on `workers` threads (a progress bar labelled `label` on stderr), on the engine
 * or the wire path, and answers a lookup from a run to its side's result.
 */
export const simulate = (
  runs: ReadonlyArray<SideRun>,
  workers: number,
  label: string,
  path: Jobs.Path = "engine"
): Effect.Effect<(run: SideRun) => SideResult> =>
  Effect.gen(function* () {
    const distinctRuns = distinct(runs)
    const perRun = distinctRuns.map((run) => jobsOf(run, path))
    const jobs = perRun.flat()
    const outputs = yield* Jobs.runWithProgress(jobs, workers, label)
    const results = new Map<string, SideResult>()
    let at = 0
    for (const [i, run] of distinctRuns.entries()) {
      const mine = outputs.slice(at, at + perRun[i]!.length)
      at += perRun[i]!.length
      if (run.side === "fly") {
        const [only] = mine
        if (only?.kind !== "fly") return yield* Effect.die(new Error("a Fly job came back out of order"))
        results.set(keyOf(run), only.result)
      } else {
        const regions = mine.flatMap(
          (o): ReadonlyArray<EcsRegionResult> => (o.kind === "ecs" ? [o.result] : [])
        )
        if (regions.length !== run.scenario.regions.length)
          return yield* Effect.die(new Error("an ECS job came back out of order"))
        results.set(keyOf(run), combineEcs(run.scenario, Trace.generate(run.scenario).length, regions))
      }
    }
    return (run: SideRun) => {
      const result = results.get(keyOf(run))
      if (result === undefined) throw new Error(`${run.side} side of ${run.scenario.name} was not simulated`)
      return result
    }
  })
