#!/usr/bin/env node
/** hangar-serve: parses flags and serves until interrupted; a usage error exits 2 with one line. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { SimulatorCli } from "@hangar/core/simulation"
import { Effect } from "effect"
import * as Cli from "./Cli.js"

SimulatorCli.run(
  Cli.command,
  Cli.info
)(process.argv.slice(2)).pipe(
  Effect.flatMap((code) => Effect.sync(() => process.exit(code))),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain
)
