/**
 * fly-sim's flags: the ones both simulators share (core's `SimulatorFlags`: --host --port --seed --clock --exec,
 * and the repeatable --token here), plus --data-dir, --rate-limits on|off, --autostop-period SECONDS,
 * --exec-deadline SECONDS (an exec running longer answers 408 deadline_exceeded; default 30) and the
 * repeatable --fault JSON (a `/_sim/faults` rule active from the start), all parsed by node:util's parseArgs.
 */
import { parseArgs } from "node:util"
import { SimulatorFlags } from "@hangar/core"
import { Schema } from "effect"
import { FaultRule } from "./Faults.js"
import type * as FlySimulator from "./FlySimulator.js"

export interface Flags {
  readonly host: string
  readonly port: number
  readonly clockName: "real" | "virtual"
  readonly seed: number
  /** True when no --token was given and a development token was generated. */
  readonly generatedToken: boolean
  readonly options: FlySimulator.Options
}

export const defaultPort = 4280

const own = new Set(["data-dir", "rate-limits", "autostop-period", "exec-deadline", "fault"])

export const parse = (args: ReadonlyArray<string>): Flags => {
  const { tokens } = parseArgs({
    args: [...args],
    options: {
      host: { type: "string" },
      port: { type: "string" },
      seed: { type: "string" },
      clock: { type: "string" },
      exec: { type: "string" },
      token: { type: "string", multiple: true },
      "data-dir": { type: "string" },
      "rate-limits": { type: "string" },
      "autostop-period": { type: "string" },
      "exec-deadline": { type: "string" },
      fault: { type: "string", multiple: true }
    },
    strict: true,
    allowPositionals: false,
    tokens: true
  })
  const fail = (message: string): never => {
    throw new Error(`fly-sim: ${message}`)
  }
  let dataDir: string | undefined
  let rateLimits = true
  let autostopPeriodMillis: number | undefined
  let execDeadlineSeconds: number | undefined
  const faults: Array<FaultRule> = []
  const shared: Array<string> = []
  for (const token of tokens) {
    if (token.kind !== "option") continue
    const value = token.value ?? ""
    if (!own.has(token.name)) {
      shared.push(`--${token.name}`, value)
    } else if (token.name === "data-dir") {
      if (value === "") fail("--data-dir needs a directory")
      dataDir = value
    } else if (token.name === "rate-limits") {
      if (value !== "on" && value !== "off") fail(`--rate-limits must be on or off, got ${value}`)
      rateLimits = value === "on"
    } else if (token.name === "autostop-period") {
      const seconds = Number(value)
      if (!Number.isInteger(seconds) || seconds < 1)
        fail(`--autostop-period must be a whole number of seconds ≥ 1, got ${value}`)
      autostopPeriodMillis = seconds * 1000
    } else if (token.name === "exec-deadline") {
      const seconds = Number(value)
      if (!Number.isFinite(seconds) || seconds <= 0 || value.trim() === "")
        fail(`--exec-deadline must be a number of seconds > 0, got ${value}`)
      execDeadlineSeconds = seconds
    } else {
      const decoded = Schema.decodeUnknownEither(Schema.parseJson(FaultRule))(value)
      if (decoded._tag === "Left") fail(`--fault must be a JSON fault rule: ${decoded.left.message}`)
      else faults.push(decoded.right)
    }
  }
  const flags = SimulatorFlags.parse("fly-sim", defaultPort, "token", shared)
  return {
    host: flags.host,
    port: flags.port,
    clockName: flags.clockName,
    seed: flags.seed,
    generatedToken: flags.extra === undefined,
    options: {
      clock: flags.clock,
      seed: flags.seed,
      ...(flags.exec.kind === "process" ? { exec: flags.exec } : {}),
      ...(flags.extra === undefined ? {} : { tokens: flags.extra.map((token) => ({ token })) }),
      ...(dataDir === undefined ? {} : { dataDir }),
      rateLimits,
      ...(autostopPeriodMillis === undefined ? {} : { autostopPeriodMillis }),
      ...(execDeadlineSeconds === undefined ? {} : { execDeadlineSeconds }),
      ...(faults.length === 0 ? {} : { faults })
    }
  }
}
