/**
 * Commands on a machine through core's detached-job protocol (`DetachedJob`), so a command may run for longer than
 * Fly lets one exec request last (408 `deadline_exceeded` past ~30 s, reference §2.6).
 *
 * The first exec starts the command as a background job under `/tmp/hangar-jobs/<jobId>/` and waits up to
 * `waitMillis` (25 s, below Fly's deadline) for it: a command that ends by then costs that one request. Otherwise
 * the provider polls with further execs that each wait up to `waitMillis` again, until the job is done; the done
 * answer carries the job's stdout, stderr and exit code, and removes the job's directory. A 300 s command costs
 * 12 execs (the start and 11 polls).
 *
 * - The command's own limit (`timeoutSeconds`, else 3600 s as before) is enforced on the machine by the job's
 *   watchdog (SIGKILL); a job killed so is reported as a `Timeout` (core's own timer at `timeoutSeconds` normally
 *   ends the call first, since the job starts after the call does).
 * - The reported duration is the machine's: from the job's start to its end as `date +%s.%N` measured them in
 *   the script; where `date` gives no time, the provider's clock from the start request to the done answer.
 * - Once the job may be running, it is not started again: a poll failing with a retryable error is polled again
 *   (backing off, up to 2 minutes of failures), and what cannot be resolved fails with a non-retryable
 *   `ProviderUnavailable` (so core's retry does not send the command twice). A start answered 408 is polled: the
 *   job is then either found, or missing (it never ran) and reported so, not sent again. A start that failed
 *   otherwise (a 5xx) goes back to core, which retries it with the same job id (`withJobId`): if it had run, the
 *   retry finds the job and waits for it. Only a start whose answer was lost after the job had already ended and
 *   been collected runs the command again.
 */
import { randomBytes } from "node:crypto"
import { ComputeError, TaskResult } from "@hangar/core"
import { DetachedJob } from "@hangar/core/protocols"
import { Clock, type Duration, Effect, FiberRef, Schedule } from "effect"
import type * as FlyClient from "./FlyClient.js"
import * as FlySchemas from "./FlySchemas.js"
import { origin, timeoutError } from "./internal/Provenance.js"

export interface Settings {
  /** How long each exec waits on the machine for the job (default 25 s, below Fly's ~30 s exec deadline). */
  readonly waitMillis?: number
  /** How long polls may keep failing in a row before the job is given up on (default 2 minutes). */
  readonly pollFailureBudget?: Duration.DurationInput
}

export const defaultWaitMillis = 25_000

/** A command's limit when the caller gives none (Fly's exec allows an hour). */
export const defaultLimitSeconds = 3600

/** An exec that failed in a way Fly's status does not explain (not retried by core). */
const execFailed = (detail: string) =>
  new ComputeError.ProviderUnavailable({ ...origin("exec"), reason: "Unknown", detail })

const unknownFate = (jobId: string, detail: string) =>
  execFailed(`job ${jobId}: ${detail}; it is not sent again`)

/** A fresh job id ([0-9a-f], as the scripts accept). */
const newJobId = () => randomBytes(9).toString("hex")

/** The job id of the provider call in progress (see `withJobId`). */
export const currentJobId: FiberRef.FiberRef<string | undefined> = FiberRef.unsafeMake<string | undefined>(
  undefined
)

/**
 * Gives the provider call one job id for all its attempts: when core retries a start whose answer was lost after
 * it ran (a 5xx), the start finds its job on the machine and waits for it instead of starting it again.
 */
export const withJobId = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => Effect.locally(effect, currentJobId, newJobId()))

type ExecAnswer = typeof FlySchemas.ExecResponse.Type

/** Runs `command` on the machine as a detached job and waits for its end, however long it runs. */
export const run = (
  client: FlyClient.Service,
  machinePath: string,
  command: ReadonlyArray<string>,
  timeoutSeconds: number | undefined,
  settings: Settings = {}
): Effect.Effect<TaskResult.TaskResult, ComputeError.ComputeError> =>
  Effect.gen(function* () {
    const waitMillis = settings.waitMillis ?? defaultWaitMillis
    const limitSeconds = Math.max(1, Math.ceil(timeoutSeconds ?? defaultLimitSeconds))
    const jobId = (yield* FiberRef.get(currentJobId)) ?? newJobId()
    // The exec's own timeout: the script's wait plus a margin (the job itself is detached, so not bound by it).
    const requestTimeout = Math.max(1, Math.ceil(waitMillis / 1000) + 5)
    const exec = (argv: ReadonlyArray<string>) =>
      client.request("POST", `${machinePath}/exec`, FlySchemas.ExecResponse, {
        body: { command: argv, timeout: requestTimeout }
      })
    const startedAt = yield* Clock.currentTimeMillis

    const finish = (answer: ExecAnswer, report: DetachedJob.Report | undefined, where: "start" | "poll") =>
      Effect.gen(function* () {
        if (report === undefined) {
          // No status line: the script did not run. 137 with no status is the machine stopping under the exec,
          // which kills the job with it (as a plain exec reported before).
          if (answer.exit_code === 137)
            return new TaskResult.TaskResult({
              exitCode: 137,
              stdout: "",
              stderr: answer.stderr,
              durationMs: (yield* Clock.currentTimeMillis) - startedAt
            })
          return yield* where === "start"
            ? execFailed(
                `the machine did not run Hangar's job script (exit ${answer.exit_code}: ${answer.stderr.trim().slice(0, 200)}); commands run through /bin/sh, which the image must have`
              )
            : unknownFate(jobId, `the poll answered no status (exit ${answer.exit_code})`)
        }
        switch (report._tag) {
          case "Done": {
            if (report.timedOut)
              return yield* timeoutError(
                "exec",
                limitSeconds * 1000,
                `the command ran past its ${limitSeconds} s limit and was killed`
              )
            const measured =
              report.startedAtMillis !== undefined && report.endedAtMillis !== undefined
                ? report.endedAtMillis - report.startedAtMillis
                : undefined
            return new TaskResult.TaskResult({
              exitCode: report.exitCode,
              stdout: report.stdout,
              stderr: report.stderr,
              durationMs:
                measured !== undefined && measured >= 0
                  ? measured
                  : (yield* Clock.currentTimeMillis) - startedAt
            })
          }
          case "Missing":
            return yield* unknownFate(
              jobId,
              "the machine has no such job (it never started, or the machine stopped or restarted and lost it)"
            )
          case "Error":
            return yield* where === "start"
              ? execFailed(`the job script refused to start the command: ${report.detail}`)
              : unknownFate(jobId, `the poll failed: ${report.detail}`)
          case "Running":
            return undefined
        }
      })

    /** One poll, retried on retryable failures; anything else ends the job's watch without a second start. */
    const poll = Effect.retry(
      exec(DetachedJob.pollCommand(jobId, waitMillis)),
      Schedule.exponential("500 millis").pipe(
        Schedule.either(Schedule.spaced("10 seconds")),
        Schedule.upTo(settings.pollFailureBudget ?? "2 minutes"),
        Schedule.whileInput((e: ComputeError.ComputeError) => e.isRetryable)
      )
    ).pipe(
      Effect.catchIf(
        (e) => e.isRetryable,
        (e) => Effect.fail(unknownFate(jobId, `polls kept failing (${e.message})`))
      )
    )

    const pollUntilDone = Effect.gen(function* () {
      for (;;) {
        const answer = yield* poll
        const result = yield* finish(answer, DetachedJob.parse(answer.stdout, answer.stderr), "poll")
        if (result !== undefined) return result
      }
    })

    const started = yield* exec(DetachedJob.startCommand({ jobId, waitMillis, limitSeconds, command })).pipe(
      Effect.map((answer) => ({ answered: true as const, answer })),
      // Fly's exec deadline passed on the start itself (it waits below it, so a slow machine): the job may run;
      // the polls find it, or find that it never started.
      Effect.catchTag("Timeout", () => Effect.succeed({ answered: false as const }))
    )
    if (started.answered) {
      const result = yield* finish(
        started.answer,
        DetachedJob.parse(started.answer.stdout, started.answer.stderr),
        "start"
      )
      if (result !== undefined) return result
    }
    return yield* pollUntilDone
  })
