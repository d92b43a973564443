/**
 * How simulators run a command inside a simulated machine or task. Both simulators use the same two backends:
 *
 * - `scripted` (default, deterministic): a rule table by program name gives each command's output, exit code and
 *   duration in simulated time. `sleep 30` takes 30 s of machine time and no wall time on a virtual clock.
 * - `process` (opt-in): runs argv without a shell in the machine's workspace directory, with a timeout, killed when
 *   the machine stops (abort signal). Real processes take real time.
 */
import { spawn } from "node:child_process"
import type { SimulationClock } from "./VirtualClock.js"

export interface ExecRequest {
  readonly command: ReadonlyArray<string>
  readonly timeoutMillis?: number
  /** Working directory for the process backend (the machine's workspace). */
  readonly workspace?: string
  readonly env?: Readonly<Record<string, string>>
  /** Aborted when the machine stops or is destroyed. */
  readonly signal?: AbortSignal
}

export interface ExecOutcome {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  readonly durationMillis: number
  readonly timedOut: boolean
}

export interface ExecBackend {
  readonly kind: "scripted" | "process"
  readonly run: (request: ExecRequest, clock: SimulationClock) => Promise<ExecOutcome>
}

/** What a scripted command does: output, exit code and how long it takes in simulated time. */
export interface ScriptedEffect {
  readonly stdout?: string
  readonly stderr?: string
  readonly exitCode?: number
  readonly durationMillis?: number
}

export type ScriptedRule = (args: ReadonlyArray<string>) => ScriptedEffect

const seconds = (text: string | undefined): number => {
  const n = Number(text ?? "0")
  return Number.isFinite(n) && n >= 0 ? Math.round(n * 1000) : 0
}

/** The default rule table. A command not in the table exits 127, as a shell would. */
export const defaultRules: Readonly<Record<string, ScriptedRule>> = {
  echo: (args) => ({ stdout: `${args.join(" ")}\n`, durationMillis: 5 }),
  true: () => ({ durationMillis: 1 }),
  false: () => ({ exitCode: 1, durationMillis: 1 }),
  exit: (args) => ({ exitCode: Number.parseInt(args[0] ?? "0", 10) || 0, durationMillis: 1 }),
  sleep: (args) => ({ durationMillis: seconds(args[0]) }),
  /** `work SECONDS [EXIT]`: an agent task that runs for SECONDS and prints a summary. */
  work: (args) => ({
    stdout: `worked ${args[0] ?? "0"}s\n`,
    exitCode: Number.parseInt(args[1] ?? "0", 10) || 0,
    durationMillis: seconds(args[0])
  }),
  /** `stderr TEXT…`: writes its arguments to stderr and exits 2. */
  stderr: (args) => ({ stderr: `${args.join(" ")}\n`, exitCode: 2, durationMillis: 1 }),
  /** `yes-lines N`: prints N numbered lines (large outputs). */
  "yes-lines": (args) => {
    const n = Math.min(Number.parseInt(args[0] ?? "0", 10) || 0, 1_000_000)
    return { stdout: Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join(""), durationMillis: 10 }
  }
}

export const scripted = (rules: Readonly<Record<string, ScriptedRule>> = defaultRules): ExecBackend => ({
  kind: "scripted",
  run: async (request, clock) => {
    const [program = "", ...args] = request.command
    const rule = rules[program]
    const effect: ScriptedEffect =
      rule === undefined
        ? { stderr: `${program}: command not found\n`, exitCode: 127, durationMillis: 1 }
        : rule(args)
    const wanted = effect.durationMillis ?? 0
    const limit = request.timeoutMillis ?? Number.POSITIVE_INFINITY
    const duration = Math.min(wanted, limit)
    const started = clock.now()
    const aborted = await clock.idle(
      new Promise<boolean>((resolve) => {
        if (request.signal?.aborted) return resolve(true)
        const onAbort = () => resolve(true)
        request.signal?.addEventListener("abort", onAbort, { once: true })
        clock.sleepUntil(started + duration).then(() => {
          request.signal?.removeEventListener("abort", onAbort)
          resolve(false)
        })
      })
    )
    const durationMillis = clock.now() - started
    if (aborted)
      return {
        exitCode: 137,
        stdout: "",
        stderr: "killed: the machine stopped\n",
        durationMillis,
        timedOut: false
      }
    if (wanted > limit)
      return { exitCode: 124, stdout: "", stderr: "timed out\n", durationMillis, timedOut: true }
    return {
      exitCode: effect.exitCode ?? 0,
      stdout: effect.stdout ?? "",
      stderr: effect.stderr ?? "",
      durationMillis,
      timedOut: false
    }
  }
})

/** Runs argv as a real process, without a shell, in `request.workspace`. */
export const processBackend = (): ExecBackend => ({
  kind: "process",
  run: (request) =>
    new Promise<ExecOutcome>((resolve) => {
      const [program = "", ...args] = request.command
      const started = Date.now()
      const stdout: Array<Buffer> = []
      const stderr: Array<Buffer> = []
      let timedOut = false
      let settled = false
      const finish = (exitCode: number, extra = "") => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve({
          exitCode,
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderr: Buffer.concat(stderr).toString("utf8") + extra,
          durationMillis: Date.now() - started,
          timedOut
        })
      }
      const child = spawn(program, args, {
        cwd: request.workspace,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...request.env },
        shell: false,
        stdio: ["ignore", "pipe", "pipe"],
        ...(request.signal === undefined ? {} : { signal: request.signal })
      })
      const timer =
        request.timeoutMillis === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true
              child.kill("SIGKILL")
            }, request.timeoutMillis)
      child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
      child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
      child.on("error", (error: NodeJS.ErrnoException) =>
        finish(
          error.code === "ENOENT" ? 127 : error.name === "AbortError" ? 137 : 126,
          `${program}: ${error.message}\n`
        )
      )
      child.on("close", (code, signal) => finish(timedOut ? 124 : (code ?? (signal === null ? 1 : 137))))
    })
})
