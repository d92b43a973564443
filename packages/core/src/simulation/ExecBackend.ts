/**
 * How simulators run a command inside a simulated machine or task. Both simulators use the same two backends:
 *
 * - `scripted` (default, deterministic): a rule table by program name gives each command's output, exit code and
 *   duration in simulated time. `sleep 30` takes 30 s of machine time and no wall time on a virtual clock. It also
 *   understands Hangar's detached-job scripts (`DetachedJob`: `sh -c <start or poll script> hangar-job …`): the
 *   wrapped command runs as a background job of this backend instance, keyed by job id, on the simulation clock.
 *   Any other `sh` command exits 127 with a message saying so.
 * - `process` (opt-in): runs argv without a shell in the machine's workspace directory, with a timeout, killed when
 *   the machine stops (abort signal). Real processes take real time; the job scripts run through the real `sh`.
 */
import { spawn } from "node:child_process"
import * as DetachedJob from "../protocols/DetachedJob.js"
import type { SimulationClock } from "../VirtualClock.js"

export interface ExecRequest {
  readonly command: ReadonlyArray<string>
  readonly timeoutMillis?: number
  /** Working directory for the process backend (the machine's workspace). */
  readonly workspace?: string
  readonly env?: Readonly<Record<string, string>>
  /** Aborted when the machine stops or is destroyed. */
  readonly signal?: AbortSignal
  /**
   * Resolves when nobody waits for the answer any more (the API answered 408 at its exec deadline): the command
   * runs on, but its wait on the clock no longer counts as a request blocked on simulated time.
   */
  readonly released?: Promise<void>
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

const notFound = (program: string): ScriptedEffect =>
  program === "sh"
    ? {
        stderr:
          "sh: the scripted exec backend runs only Hangar's detached-job scripts; use the process backend for other shell commands\n",
        exitCode: 127,
        durationMillis: 1
      }
    : { stderr: `${program}: command not found\n`, exitCode: 127, durationMillis: 1 }

/** What the scripted backend does with `command` under `rules` (a program it has no rule for: 127, not found). */
export const effectOf = (
  rules: Readonly<Record<string, ScriptedRule>>,
  command: ReadonlyArray<string>
): ScriptedEffect => {
  const [program = "", ...args] = command
  const rule = rules[program]
  return rule === undefined ? notFound(program) : rule(args)
}

/** A timer on `clock` that can be cancelled, so a wait cut short leaves nothing behind to move virtual time. */
const onClockAt = (clock: SimulationClock, at: number, fire: () => void): (() => void) => {
  if (at <= clock.now()) {
    let live = true
    queueMicrotask(() => {
      if (live) fire()
    })
    return () => {
      live = false
    }
  }
  return clock.schedule(at, fire)
}

/**
 * Resolves at `at` on the clock (false), when `signal` aborts (true), or when `also` settles (false), whichever
 * comes first. Not marked idle here: callers blocked on it inside a tracked request wrap it in `clock.idle`.
 */
const sleepOrAbort = (
  clock: SimulationClock,
  at: number,
  signal: AbortSignal | undefined,
  also?: Promise<void>
): Promise<boolean> =>
  new Promise<boolean>((resolve) => {
    if (signal?.aborted) return resolve(true)
    let cancel: () => void = () => undefined
    const settle = (aborted: boolean) => {
      cancel()
      signal?.removeEventListener("abort", onAbort)
      resolve(aborted)
    }
    const onAbort = () => settle(true)
    signal?.addEventListener("abort", onAbort, { once: true })
    cancel = onClockAt(clock, at, () => settle(false))
    also?.then(() => settle(false))
  })

/** `clock.idle(promise)` until `promise` settles or the request is released, whichever comes first. */
const blockedOn = <A>(clock: SimulationClock, request: ExecRequest, promise: Promise<A>): Promise<A> =>
  request.released === undefined
    ? clock.idle(promise)
    : clock.idle(Promise.race([promise.then(() => undefined), request.released])).then(() => promise)

/** What a command killed by its machine stopping reports. */
export const killedByStop = (durationMillis: number): ExecOutcome => ({
  exitCode: 137,
  stdout: "",
  stderr: "killed: the machine stopped\n",
  durationMillis,
  timedOut: false
})

/** What a command past the exec's own timeout reports. */
const pastTimeout = (durationMillis: number): ExecOutcome => ({
  exitCode: 124,
  stdout: "",
  stderr: "timed out\n",
  durationMillis,
  timedOut: true
})

/** A background job of the scripted backend: what it prints and when it ends, on the simulation clock. */
interface Job {
  readonly startedAt: number
  endsAt: number
  exitCode: number
  stdout: string
  stderr: string
  timedOut: boolean
  /** Resolves when the job ends (its time comes, or the machine stops). */
  readonly ended: Promise<void>
}

export const scripted = (rules: Readonly<Record<string, ScriptedRule>> = defaultRules): ExecBackend => {
  const jobs = new Map<string, Job>()

  const startJob = (
    request: ExecRequest,
    clock: SimulationClock,
    start: { readonly jobId: string; readonly limitSeconds: number; readonly command: ReadonlyArray<string> }
  ): Job => {
    const effect = effectOf(rules, start.command)
    const startedAt = clock.now()
    const wanted = effect.durationMillis ?? 0
    const limit = start.limitSeconds > 0 ? start.limitSeconds * 1000 : Number.POSITIVE_INFINITY
    const timedOut = wanted > limit
    let finish: () => void = () => undefined
    const job: Job = {
      startedAt,
      endsAt: startedAt + Math.min(wanted, limit),
      exitCode: timedOut ? 137 : (effect.exitCode ?? 0),
      stdout: timedOut ? "" : (effect.stdout ?? ""),
      stderr: timedOut ? "" : (effect.stderr ?? ""),
      timedOut,
      ended: new Promise<void>((resolve) => {
        finish = resolve
      })
    }
    jobs.set(start.jobId, job)
    // The job outlives the exec that started it; only the machine stopping (the request's signal) ends it early.
    void sleepOrAbort(clock, job.endsAt, request.signal).then((aborted) => {
      if (aborted && clock.now() < job.endsAt) {
        job.endsAt = clock.now()
        job.exitCode = 137
        job.stdout = ""
        job.stderr = "killed: the machine stopped\n"
        job.timedOut = false
      }
      finish()
    })
    return job
  }

  /** What a start or poll exec does: waits for the job up to its wait limit, then reports as the script does. */
  const runJobScript = async (
    request: ExecRequest,
    clock: SimulationClock,
    recognised: DetachedJob.Request
  ): Promise<ExecOutcome> => {
    const started = clock.now()
    const answer = (stdout: string, stderr = ""): ExecOutcome => ({
      exitCode: 0,
      stdout,
      stderr,
      durationMillis: clock.now() - started,
      timedOut: false
    })
    if (recognised._tag === "Invalid")
      return { ...answer(DetachedJob.errorLine(recognised.reason)), exitCode: 2 }
    let job = jobs.get(recognised.jobId)
    // A start of a job that exists (sent again after a lost answer) starts nothing: it waits, as a poll does.
    if (recognised._tag === "Start") job ??= startJob(request, clock, recognised)
    else if (job === undefined) return answer(DetachedJob.missingLine)
    const current = job
    const waitUntil = started + recognised.waitMillis
    const execLimit = request.timeoutMillis ?? Number.POSITIVE_INFINITY
    const until = Math.min(waitUntil, started + execLimit)
    // Blocks until the job ends or the wait (or the exec's own timeout) runs out, or the machine stops.
    const aborted = await blockedOn(clock, request, sleepOrAbort(clock, until, request.signal, current.ended))
    if (aborted) return killedByStop(clock.now() - started)
    if (clock.now() >= current.endsAt) {
      jobs.delete(recognised.jobId)
      return answer(
        DetachedJob.formatDone({
          exitCode: current.exitCode,
          timedOut: current.timedOut,
          startedAtMillis: current.startedAt,
          endedAtMillis: current.endsAt,
          stdout: current.stdout
        }),
        current.stderr
      )
    }
    if (execLimit < recognised.waitMillis) return pastTimeout(clock.now() - started)
    return answer(DetachedJob.runningLine)
  }

  return {
    kind: "scripted",
    run: async (request, clock) => {
      if (rules.sh === undefined) {
        const recognised = DetachedJob.recognise(request.command)
        if (recognised !== undefined) return runJobScript(request, clock, recognised)
      }
      const effect = effectOf(rules, request.command)
      const wanted = effect.durationMillis ?? 0
      const limit = request.timeoutMillis ?? Number.POSITIVE_INFINITY
      const duration = Math.min(wanted, limit)
      const started = clock.now()
      const aborted = await blockedOn(clock, request, sleepOrAbort(clock, started + duration, request.signal))
      const durationMillis = clock.now() - started
      if (aborted) return killedByStop(durationMillis)
      if (wanted > limit) return pastTimeout(durationMillis)
      return {
        exitCode: effect.exitCode ?? 0,
        stdout: effect.stdout ?? "",
        stderr: effect.stderr ?? "",
        durationMillis,
        timedOut: false
      }
    }
  }
}

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
