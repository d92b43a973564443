/**
 * The flags both simulator CLIs share (`--host --port --seed --clock real|virtual --exec scripted|process`),
 * parsed with node:util's parseArgs and checked, with a clear message naming the flag on bad input.
 */
import { parseArgs } from "node:util"
import * as ExecBackend from "./ExecBackend.js"
import * as VirtualClock from "./VirtualClock.js"

export interface SimulatorFlags {
  readonly host: string
  readonly port: number
  readonly seed: number
  readonly clockName: "real" | "virtual"
  readonly clock: VirtualClock.SimulationClock
  readonly exec: ExecBackend.ExecBackend
  /** Values of the repeatable extra flag (`--token` for fly-sim, `--access-key` for ecs-sim). */
  readonly extra: ReadonlyArray<string> | undefined
}

export const parse = (
  name: string,
  defaultPort: number,
  extraFlag: string,
  args: ReadonlyArray<string> = process.argv.slice(2)
): SimulatorFlags => {
  const { values } = parseArgs({
    args: [...args],
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: String(defaultPort) },
      seed: { type: "string", default: "1" },
      clock: { type: "string", default: "real" },
      exec: { type: "string", default: "scripted" },
      [extraFlag]: { type: "string", multiple: true }
    },
    strict: true
  })
  const fail = (message: string): never => {
    throw new Error(`${name}: ${message}`)
  }
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, got ${values.port}`)
  const seed = Number(values.seed)
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`)
  if (values.clock !== "real" && values.clock !== "virtual")
    fail(`--clock must be real or virtual, got ${values.clock}`)
  if (values.exec !== "scripted" && values.exec !== "process")
    fail(`--exec must be scripted or process, got ${values.exec}`)
  const clockName = values.clock as "real" | "virtual"
  return {
    host: String(values.host),
    port,
    seed,
    clockName,
    clock: clockName === "virtual" ? new VirtualClock.VirtualClock() : new VirtualClock.RealClock(),
    exec: values.exec === "process" ? ExecBackend.processBackend() : ExecBackend.scripted(),
    extra: values[extraFlag] as ReadonlyArray<string> | undefined
  }
}
