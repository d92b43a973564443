/** hangar-bench run in this process, as its binary would run it, with what it printed and its exit code. */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { SimulatorCli } from "@hangar/core/simulation"
import { Effect } from "effect"
import * as Cli from "../src/Cli.js"

export interface Outcome {
  readonly code: number
  readonly out: string
  readonly err: string
}

export const run = (args: ReadonlyArray<string>): Promise<Outcome> => {
  const out: Array<string> = []
  const err: Array<string> = []
  return Effect.runPromise(
    Cli.main(args).pipe(
      Effect.withConsole(SimulatorCli.recordingConsole(out, err)),
      Effect.provide(NodeContext.layer),
      Effect.map((code) => ({ code, out: out.join("\n"), err: err.join("\n") }))
    )
  )
}

/** A fresh temporary directory. */
export const temporary = (prefix: string): string => mkdtempSync(join(tmpdir(), `hangar-bench-${prefix}-`))

/** A small two-region workload: a day of Poisson arrivals, cheap to simulate. */
export const smallWorkload = `# yaml-language-server: $schema=../schema/scenario.schema.json
name: small
description: a small test workload
seed: 7
days: 1
repositories: 3
regions: [iad, lhr]
size: dev
arrival: { kind: poisson, perDay: 20 }
duration: { kind: lognormal, medianSeconds: 300, sigma: 0.5, maxSeconds: 3600 }
ecs: { instanceType: t3.large, minInstances: 1, maxInstances: 2, rationale: test }
fly: { idleTimeoutMinutes: 5, sleepsBy: suspend, volumeGb: 10 }
`

/** Writes `text` as `name` in `directory` and answers its path. */
export const file = (directory: string, name: string, text: string): string => {
  const path = join(directory, name)
  writeFileSync(path, text)
  return path
}

/** Runs `args` on the small workload written to a fresh directory, its results under `<directory>/results`. */
export const runSmall = async (prefix: string, args: ReadonlyArray<string>, workload = smallWorkload) => {
  const directory = temporary(prefix)
  const results = join(directory, "results")
  const outcome = await run(["run", file(directory, "small.yaml", workload), "--out", results, ...args])
  return { directory, results, outcome }
}
