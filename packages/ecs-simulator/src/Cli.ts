/**
 * ecs-sim's flags: the ones both simulators share (core's `SimulatorFlags`: --host --port --seed --clock --exec,
 * plus repeatable --access-key) and --data-dir, all parsed by node:util's parseArgs.
 */
import { parseArgs } from "node:util"
import { SimulatorFlags } from "@hangar/core"
import type * as EcsSimulator from "./EcsSimulator.js"

export interface Flags {
  readonly host: string
  readonly port: number
  readonly clockName: "real" | "virtual"
  readonly seed: number
  readonly options: EcsSimulator.Options
}

export const defaultPort = 4281

export const parse = (args: ReadonlyArray<string>): Flags => {
  const { tokens } = parseArgs({
    args: [...args],
    options: {
      host: { type: "string" },
      port: { type: "string" },
      seed: { type: "string" },
      clock: { type: "string" },
      exec: { type: "string" },
      "access-key": { type: "string", multiple: true },
      "data-dir": { type: "string" }
    },
    strict: true,
    allowPositionals: false,
    tokens: true
  })
  let dataDir: string | undefined
  const shared: Array<string> = []
  for (const token of tokens) {
    if (token.kind !== "option") continue
    if (token.name === "data-dir") {
      if (token.value === undefined || token.value === "")
        throw new Error("ecs-sim: --data-dir needs a directory")
      dataDir = token.value
    } else shared.push(`--${token.name}`, token.value ?? "")
  }
  const flags = SimulatorFlags.parse("ecs-sim", defaultPort, "access-key", shared)
  return {
    host: flags.host,
    port: flags.port,
    clockName: flags.clockName,
    seed: flags.seed,
    options: {
      clock: flags.clock,
      seed: flags.seed,
      exec: flags.exec,
      ...(flags.extra === undefined ? {} : { accessKeys: flags.extra }),
      ...(dataDir === undefined ? {} : { dataDir })
    }
  }
}
