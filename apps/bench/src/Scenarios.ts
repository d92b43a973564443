/** The seed's four scenarios, shipped as data files beside the package (apps/bench/scenarios/). */
import { existsSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import type * as InputIssues from "./InputIssues.js"
import * as Scenario from "./Scenario.js"

/** The scenarios directory, from the sources (tests), the build (dist/) or a benchmark's build (dist/bench/). */
const here = dirname(fileURLToPath(import.meta.url))
export const directory =
  [join(here, "..", "scenarios"), join(here, "..", "..", "scenarios")].find((d) => existsSync(d)) ??
  join(here, "..", "scenarios")

export const seedScenarios: Effect.Effect<
  ReadonlyArray<Scenario.Scenario>,
  InputIssues.InvalidInput
> = Effect.forEach(
  readdirSync(directory)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".json"))
    .sort(),
  (file) => Scenario.load(join(directory, file))
)

/** Where `hangar-bench tune` keeps each scenario's chosen configuration per side (beside the scenarios). */
export const tunedFile = join(directory, "..", "tuned.yaml")

/** Where `hangar-bench reproduce` keeps, per seed row, the nearest configuration under which it reproduces. */
export const reproduceFile = join(directory, "..", "reproduce.yaml")
