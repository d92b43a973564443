/** The seed's four scenarios, shipped as data files beside the package (apps/bench/scenarios/). */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ComputeError } from "@hangar/core"
import { Effect } from "effect"
import * as Scenario from "./Scenario.js"

/** The scenarios directory, from the sources (tests) or the build (dist/). */
export const directory = join(dirname(fileURLToPath(import.meta.url)), "..", "scenarios")

export const seedScenarios: Effect.Effect<
  ReadonlyArray<Scenario.Scenario>,
  ComputeError.InvalidRequest
> = Effect.forEach(
  readdirSync(directory)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".json"))
    .sort(),
  (file) => Scenario.load(join(directory, file))
)
