#!/usr/bin/env node
/** hangar-serve: parses flags and serves until interrupted; a usage error exits 2 with one line. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { SimulatorCli } from "@hangar/core/simulation"
import * as Cli from "./Cli.js"

SimulatorCli.main(Cli.command, Cli.info, { layer: NodeContext.layer, runMain: NodeRuntime.runMain })
