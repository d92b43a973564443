/** The seed's global deployment: the repository's machine in each of several regions, in one call. */
import { ComputeError, type ComputeProvider, type TaskSpec } from "@hangar/core"
import { Effect } from "effect"
import type { GlobalDeployment } from "../FlyProvider.js"
import type { FlyEnvironment } from "./FlyEnvironment.js"
import { origin } from "./Provenance.js"

/** Creates `<taskId>-<region>` in every region at once; regions that fail are reported, not fatal. */
export const deployGlobal = (
  env: FlyEnvironment,
  provider: ComputeProvider.ComputeProvider,
  input: TaskSpec.TaskSpecInput,
  wantedRegions: ReadonlyArray<string>
): Effect.Effect<GlobalDeployment, ComputeError.ComputeError> =>
  Effect.gen(function* () {
    const regions = env.settings.regions
    const unknown = wantedRegions.filter((r) => !regions.includes(r))
    if (unknown.length > 0 || wantedRegions.length === 0) {
      return yield* new ComputeError.InvalidRequest({
        ...origin("deployGlobal"),
        field: "regions",
        expected: `one or more of ${regions.join(", ")}`,
        actual: wantedRegions.length === 0 ? "none" : unknown.join(", ")
      })
    }
    const outcomes = yield* Effect.forEach(
      [...new Set(wantedRegions)],
      (region) =>
        Effect.either(provider.create({ ...input, taskId: `${input.taskId}-${region}`, region })).pipe(
          Effect.map((outcome) => ({ region, outcome }))
        ),
      { concurrency: "unbounded" }
    )
    return {
      sessions: outcomes.flatMap((o) => (o.outcome._tag === "Right" ? [o.outcome.right] : [])),
      failed: outcomes.flatMap((o) =>
        o.outcome._tag === "Left" ? [{ region: o.region, error: o.outcome.left }] : []
      )
    }
  })
