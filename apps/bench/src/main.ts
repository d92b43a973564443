#!/usr/bin/env node
/**
 * hangar-bench: the cost comparison of the seed's four workloads through the real providers, router and both
 * simulators in virtual time (default command), a user's own workload (`run FILE`), and the routing × idle policy
 * benchmark (`policies`).
 */
import { Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Commands from "./Commands.js"

const seed = Options.integer("seed").pipe(
  Options.withDescription("override every scenario's seed"),
  Options.optional
)
const out = Options.directory("out").pipe(
  Options.withDefault("results"),
  Options.withDescription("where to write results")
)
const policies = Command.make(
  "policies",
  {
    seed,
    out,
    waitUsdPerHour: Options.float("wait-usd-per-hour").pipe(
      Options.withDefault(60),
      Options.withDescription("what an hour of waiting for sessions to start is worth")
    )
  },
  (options) => Commands.policies(options)
).pipe(
  Command.withDescription(
    "Every routing × idle policy on every scenario and on Azure-shaped traces, against the oracles"
  )
)

const bench = Command.make("hangar-bench").pipe(Command.withSubcommands([policies]))

const cli = Command.run(bench, { name: "hangar-bench", version: "0.1.0" })

cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: false })
)
