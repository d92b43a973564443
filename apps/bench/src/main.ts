#!/usr/bin/env node
/** hangar-bench: see Cli.ts. Exit codes: 0 success, 1 a failed run, 2 a usage or input error. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cli from "./Cli.js"

// The bench talks only to in-process simulators: the AWS SDK's notice that its 2027 releases need Node 22 (true,
// and in the README) would otherwise open every report. Workers inherit the environment.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

Cli.main(process.argv.slice(2)).pipe(
  Effect.tap((code) =>
    Effect.sync(() => {
      process.exitCode = code
    })
  ),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
