/**
 * The JSON Schema of scenario files, generated from the Effect Schema (`Scenario.Scenario`) so that editors can
 * complete and check them (`# yaml-language-server: $schema=…`). Shipped as `schema/scenario.schema.json`,
 * written by `pnpm --filter @hangar/bench schema`; a test regenerates it and compares.
 */
import { JSONSchema } from "effect"
import * as Scenario from "./Scenario.js"

/** Where the schema is shipped, relative to the package. */
export const file = "schema/scenario.schema.json"

/** The schema's text, as the shipped file holds it. */
export const text = (): string =>
  `${JSON.stringify(
    {
      ...JSONSchema.make(Scenario.Scenario),
      title: "hangar-bench scenario",
      description:
        "A workload for hangar-bench run: how tasks arrive, how long they run, their repositories and regions, and how each side (ECS on EC2, Fly.io) is run."
    },
    null,
    2
  )}\n`
