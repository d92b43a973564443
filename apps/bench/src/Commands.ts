/** What each hangar-bench command does: run, print, write results. */
import { join } from "node:path"
import type { ComputeError } from "@hangar/core"
import { Console, Effect, Option } from "effect"
import * as AzureTraces from "./AzureTraces.js"
import * as Charts from "./Charts.js"
import * as PolicyBenchmark from "./PolicyBenchmark.js"
import * as PolicyReport from "./PolicyReport.js"
import * as Progress from "./Progress.js"
import * as Results from "./Results.js"
import type * as Scenario from "./Scenario.js"
import * as Scenarios from "./Scenarios.js"
import * as Trace from "./Trace.js"

export interface CommonOptions {
  readonly seed: Option.Option<number>
  readonly out: string
  readonly days?: Option.Option<number>
}

export const withOverrides = (scenario: Scenario.Scenario, options: CommonOptions): Scenario.Scenario => ({
  ...scenario,
  seed: Option.getOrElse(options.seed, () => scenario.seed),
  days: Option.getOrElse(options.days ?? Option.none(), () => scenario.days)
})

export const policies = (
  options: CommonOptions & { readonly waitUsdPerHour: number }
): Effect.Effect<void, ComputeError.InvalidRequest> =>
  Effect.gen(function* () {
    const started = performance.now()
    const scenarios = (yield* Scenarios.seedScenarios).map((s) => withOverrides(s, options))
    const seed = Option.getOrElse(options.seed, () => 1)
    const traces = [
      ...scenarios.map((s) => [s.name, Trace.generate(s)] as const),
      ...[1, 2, 3].map(
        (n) =>
          [
            `azure-shaped-${n}`,
            AzureTraces.generate({ seed: seed * 1000 + n, repositories: 20, days: 7 })
          ] as const
      )
    ]
    const progress = Progress.make("policies")
    const { bounds, rows } = PolicyBenchmark.run(
      traces,
      { waitUsdPerSecond: options.waitUsdPerHour / 3600, seed },
      progress.update
    )
    yield* Console.log(PolicyReport.text(bounds, rows))
    const chart = yield* Effect.promise(() =>
      Charts.costVersusLatency(rows.map((r) => ({ ...r, policy: `${r.routing} × ${r.idle}` })))
    )
    const written = Results.write(options.out, {
      "policies.json": Results.stableJson({
        schemaVersion: Results.schemaVersion,
        kind: "policies",
        seed,
        bounds,
        rows
      }),
      "policies.md": PolicyReport.markdown(bounds, rows, options.waitUsdPerHour),
      "policies-cost-vs-p95.svg": chart
    })
    const seconds = (performance.now() - started) / 1000
    yield* Console.log(
      `\n${rows.length} policy runs over ${traces.length} traces (${traces.reduce((n, [, t]) => n + t.length, 0)} tasks) in ${seconds.toFixed(1)} s wall`
    )
    yield* Console.log(`wrote ${written.map((p) => join(p)).join(", ")}`)
  })
