#!/usr/bin/env node
/** ecs-sim: parses flags and serves the ECS simulator until interrupted; a usage error exits 2 with one line. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { SimulatorCli } from "@hangar/core/simulation"
import * as Cli from "./Cli.js"

SimulatorCli.main(Cli.command, Cli.info, { layer: NodeContext.layer, runMain: NodeRuntime.runMain })
