#!/usr/bin/env node
/**
 * hangar-bench: the cost comparison of the seed's four workloads (default command), a user's own workload
 * (`run FILE`), and the routing × idle policy benchmark (`policies`), all on the engine: the real Router and
 * policies over the simulators' own models in virtual time (`--wire`: through the plugins and the simulators' HTTP).
 */
import { Args, Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Commands from "./Commands.js"

// The bench talks only to in-process simulators: the AWS SDK's notice that its 2027 releases need Node 22 (true,
// and in the README) would otherwise open every report. Workers inherit the environment.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

const seed = Options.integer("seed").pipe(
  Options.withDescription("override every scenario's seed"),
  Options.optional
)
const out = Options.directory("out").pipe(
  Options.withDefault("results"),
  Options.withDescription("where to write results")
)
const days = Options.integer("days").pipe(
  Options.withDescription("simulate this many days instead of each scenario's own"),
  Options.optional
)

const workers = Options.integer("workers").pipe(
  Options.withDescription(
    "worker threads for the simulations (default: one per core; 1 runs in this thread)"
  ),
  Options.optional
)

const wire = Options.boolean("wire").pipe(
  Options.withDescription(
    "simulate through the provider plugins and the simulators' HTTP APIs instead of the engine (slow; the engine's check)"
  )
)

const compare = Command.make("compare", { seed, out, days, workers, wire }, (options) =>
  Commands.compare(options)
).pipe(
  Command.withDescription(
    "The seed's cost table: its four scenarios on ECS + EC2 and on Fly.io, one simulated month each"
  )
)

const run = Command.make(
  "run",
  { file: Args.file({ name: "scenario", exists: "yes" }), seed, out, days, workers, wire },
  (options) => Commands.runFile(options)
).pipe(
  Command.withDescription(
    "Run your own workload file (YAML or JSON; see apps/bench/scenarios/) on both providers"
  )
)

const policies = Command.make(
  "policies",
  {
    seed,
    out,
    days,
    workers,
    waitUsdPerHour: Options.float("wait-usd-per-hour").pipe(
      Options.withDefault(60),
      Options.withDescription("what an hour of waiting for sessions to start is worth")
    )
  },
  (options) => Commands.policies(options)
).pipe(
  Command.withDescription(
    "Every routing × idle policy on every scenario and on Azure-shaped traces, on the engine, against the oracles"
  )
)

const tune = Command.make(
  "tune",
  {
    scenario: Args.text({ name: "scenario" }).pipe(Args.optional),
    sliceDays: Options.integer("slice-days").pipe(
      Options.withDefault(7),
      Options.withDescription(
        "days of the short slices that rank the candidates before the best are run in full"
      )
    ),
    seed,
    out,
    days
  },
  (options) => Commands.tune(options)
).pipe(
  Command.withDescription(
    "Per side, the cheapest configuration meeting the scenario's start-latency target, on the engine; writes tuned.yaml"
  )
)

const bench = Command.make("hangar-bench", { seed, out, days, workers, wire }, (options) =>
  Commands.compare(options)
).pipe(
  Command.withDescription("Hangar's cost and policy benchmarks (default: the cost comparison table)"),
  Command.withSubcommands([compare, run, policies, tune])
)

const cli = Command.run(bench, { name: "hangar-bench", version: "0.1.0" })

cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: false })
)
