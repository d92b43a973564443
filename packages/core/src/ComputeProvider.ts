/**
 * The provider contract. A plugin implements the narrow `Spi` (what only it can do); core `make` turns it into
 * the `ComputeProvider` every caller uses, adding once for all providers: a span per call, normalisation of
 * failures into the `ComputeError` union, capability checks, retries of retryable errors on a `Schedule`
 * (exponential with jitter, honouring retry-after, bounded by attempts and a deadline), idempotent session
 * creation by task id, and, when the plugin asks for one, a deadline on every call.
 */
import { Deferred, Effect, FiberRef, Option } from "effect"
import * as Capabilities from "./Capabilities.js"
import { type ComputeError, fromParseError, InvalidRequest, Timeout, Unsupported } from "./ComputeError.js"
import type { CostModel } from "./CostModel.js"
import * as Call from "./internal/Call.js"
import * as Deadline from "./internal/Deadline.js"
import * as Retry from "./internal/Retry.js"
import type { Session } from "./Session.js"
import type { TaskResult } from "./TaskResult.js"
import * as TaskSpec from "./TaskSpec.js"
import type { Usage } from "./Usage.js"

export interface ExecOptions {
  /** How long the command may run before it is killed and the call fails with `Timeout`. */
  readonly timeoutSeconds?: number
}

/** What a plugin implements. Failures may be anything; `make` normalises them. */
export interface Spi {
  readonly id: TaskSpec.ProviderId
  readonly capabilities: Capabilities.Capabilities
  /** What a task, an idle machine and a dedicated machine cost here (see `CostModel`). */
  readonly costModel: CostModel
  /** Get or create the compute for a task and bring it to `running`. */
  readonly create: (task: TaskSpec.TaskSpec) => Effect.Effect<Session, unknown>
  readonly get: (sessionId: string) => Effect.Effect<Session, unknown>
  /** Wake a stopped or suspended session and wait until it runs. */
  readonly start: (sessionId: string) => Effect.Effect<Session, unknown>
  readonly stop: (sessionId: string) => Effect.Effect<Session, unknown>
  /** Only called when `capabilities` does not list `suspend` as unsupported. */
  readonly suspend?: (sessionId: string) => Effect.Effect<Session, unknown>
  readonly destroy: (sessionId: string) => Effect.Effect<void, unknown>
  readonly exec: (
    sessionId: string,
    command: ReadonlyArray<string>,
    options: ExecOptions
  ) => Effect.Effect<TaskResult, unknown>
  /** Every session this provider holds compute for, including ones no caller remembers (for reconciliation). */
  readonly list: () => Effect.Effect<ReadonlyArray<Session>, unknown>
  readonly usage: (sessionId: string) => Effect.Effect<Usage, unknown>
}

/** What callers use. Every method fails only with `ComputeError`. */
export interface ComputeProvider {
  readonly id: TaskSpec.ProviderId
  readonly capabilities: Capabilities.Capabilities
  readonly costModel: CostModel
  /** Decodes `task` (an `InvalidRequest` names the bad field) and returns the task's one session. */
  readonly create: (task: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec) => Effect.Effect<Session, ComputeError>
  readonly get: (sessionId: string) => Effect.Effect<Session, ComputeError>
  readonly start: (sessionId: string) => Effect.Effect<Session, ComputeError>
  readonly stop: (sessionId: string) => Effect.Effect<Session, ComputeError>
  readonly suspend: (sessionId: string) => Effect.Effect<Session, ComputeError>
  /** Suspends where supported, stops otherwise. */
  readonly sleep: (sessionId: string) => Effect.Effect<Session, ComputeError>
  readonly destroy: (sessionId: string) => Effect.Effect<void, ComputeError>
  readonly exec: (
    sessionId: string,
    command: ReadonlyArray<string>,
    options?: ExecOptions
  ) => Effect.Effect<TaskResult, ComputeError>
  readonly list: () => Effect.Effect<ReadonlyArray<Session>, ComputeError>
  readonly usage: (sessionId: string) => Effect.Effect<Usage, ComputeError>
}

/**
 * True while a Hangar idle policy (not the platform) decides when this session's compute sleeps: the router
 * sets it around `create`, and a provider with its own autostop (Fly Proxy) turns that off for the machine.
 */
export const sleepManagedByHangar: FiberRef.FiberRef<boolean> = FiberRef.unsafeMake(false)

export type RetryPolicy = Retry.RetryPolicy
export type RetryStep = Retry.RetryStep
export const defaultRetryPolicy: RetryPolicy = Retry.defaultRetryPolicy

/**
 * Core's retry schedule for one call started at `startedAt`: exponential from `baseDelay` capped at `maxDelay`,
 * jittered by ±20%, never shorter than a `retryAfterMillis` the error carries, at most `maxRetries` times, never
 * a wait past the deadline, and only while the error is retryable (for a plugin's own HTTP client).
 */
export const retrySchedule = Retry.retrySchedule

/** The schedule's wait before a retry, for callers that retry without a schedule (the bench's kernel). */
export const retryDelayMillis = Retry.retryDelayMillis

/** Inside a call of a provider made with a `deadline`: the instant (clock millis) the call must end by. */
export const callDeadlineAt: FiberRef.FiberRef<number> = Deadline.callDeadlineAt

/**
 * Runs one of a plugin's own operations (metrics, cluster cost, a clean-up) as core runs the contract's
 * methods: in a span named after `method`, its failures normalised into `ComputeError`, retried on retryable
 * ones, and bounded by the deadline the plugin gave `make`.
 */
export type Operation = <A>(
  method: string,
  effect: () => Effect.Effect<A, unknown>,
  attributes?: Record<string, unknown>
) => Effect.Effect<A, ComputeError>

/** What `make` returns: the provider callers use, and the way the plugin runs its extra operations. */
export interface Made extends ComputeProvider {
  readonly operation: Operation
}

export interface MakeOptions {
  readonly retry?: Partial<RetryPolicy>
  /**
   * Bounds every call, its retries included (`withDeadline`): at the deadline the caller gets `onTimeout(method,
   * millis)` at once and the work is interrupted in the background. The call then runs on a fiber of its own,
   * where `callDeadlineAt` holds the instant, for the waits inside it to respect.
   */
  readonly deadline?: {
    readonly millis: number
    /** An exec's bound when it has no timeout of its own (with one, that timeout plus `millis`). */
    readonly execMillis?: number
    readonly onTimeout: (method: string, millis: number) => unknown
  }
}

/** Builds the caller-facing provider from a plugin's SPI. */
export const make = (spi: Spi, options: MakeOptions = {}): Effect.Effect<Made> =>
  Effect.sync(() => {
    const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry }
    const provider = spi.id
    /** One entry per task id: concurrent and repeated creates for a task share one session. */
    const byTask = new Map<
      string,
      { readonly deferred: Deferred.Deferred<Session, ComputeError>; sessionId?: string }
    >()

    const deadline = options.deadline
    const call = Call.make(provider, policy, deadline)

    const decode = (input: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec) =>
      input instanceof TaskSpec.TaskSpec
        ? Effect.succeed(input)
        : TaskSpec.decodeUnknown(input).pipe(
            Effect.mapError((e) =>
              fromParseError(e, { module: "ComputeProvider", method: "create", provider })
            )
          )

    // The span is handed to the create call as its parent, not installed around the whole (a FiberRef scope).
    const create = (input: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec) =>
      Effect.useSpan(
        "ComputeProvider.createSession",
        { attributes: { provider }, captureStackTrace: false },
        (span) =>
          Effect.gen(function* () {
            const task = yield* decode(input)
            const problem = Capabilities.check(provider, spi.capabilities, task, "create")
            if (Option.isSome(problem)) return yield* problem.value
            const existing = byTask.get(task.taskId)
            if (existing !== undefined) return yield* Deferred.await(existing.deferred)
            const entry: { readonly deferred: Deferred.Deferred<Session, ComputeError>; sessionId?: string } =
              {
                deferred: yield* Deferred.make<Session, ComputeError>()
              }
            byTask.set(task.taskId, entry)
            const result = yield* Effect.exit(
              call("create", () => spi.create(task), { taskId: task.taskId }, { parent: span })
            )
            if (result._tag === "Failure") byTask.delete(task.taskId)
            else entry.sessionId = result.value.id
            yield* Deferred.done(entry.deferred, result)
            return yield* result
          })
      )

    /** A destroyed session no longer answers for its task: a later create makes a new one. */
    const forget = (sessionId: string) => {
      for (const [taskId, entry] of byTask) if (entry.sessionId === sessionId) byTask.delete(taskId)
    }

    const unsupported = (method: string, feature: Capabilities.Feature) =>
      Option.map(
        Capabilities.unsupportedReason(spi.capabilities, feature),
        (providerReason) =>
          new Unsupported({ module: "ComputeProvider", method, provider, feature, providerReason })
      )

    const suspend = (sessionId: string) => {
      const missing = Option.orElse(unsupported("suspend", "sleep"), () => unsupported("suspend", "suspend"))
      if (Option.isSome(missing) || spi.suspend === undefined) {
        return Effect.fail(
          Option.getOrElse(
            missing,
            () =>
              new Unsupported({
                module: "ComputeProvider",
                method: "suspend",
                provider,
                feature: "suspend",
                providerReason: "the plugin does not implement suspend"
              })
          )
        )
      }
      const run = spi.suspend
      return call("suspend", () => run(sessionId), { sessionId })
    }

    const stop = (sessionId: string) => call("stop", () => spi.stop(sessionId), { sessionId })

    const exec = (sessionId: string, command: ReadonlyArray<string>, execOptions: ExecOptions = {}) => {
      const missing = unsupported("exec", "exec")
      if (Option.isSome(missing)) return Effect.fail(missing.value)
      if (command.length === 0) {
        return Effect.fail(
          new InvalidRequest({
            module: "ComputeProvider",
            method: "exec",
            provider,
            field: "command",
            expected: "a non-empty argv array"
          })
        )
      }
      const timeoutSeconds = execOptions.timeoutSeconds
      const bound =
        timeoutSeconds === undefined
          ? (deadline?.execMillis ?? deadline?.millis)
          : timeoutSeconds * 1000 + (deadline?.millis ?? 0)
      const run = call("exec", () => spi.exec(sessionId, command, execOptions), { sessionId }, { bound })
      // Core's deadline rather than `Effect.timeoutFail`: one forked fiber and a timer on the fiber's clock instead
      // of a race of two, on every exec; the caller hears of the timeout at once and the command is killed behind it.
      return timeoutSeconds === undefined
        ? run
        : Deadline.withDeadline(
            run,
            timeoutSeconds * 1000,
            () =>
              new Timeout({
                module: "ComputeProvider",
                method: "exec",
                provider,
                reason: "Deadline",
                timeoutMillis: timeoutSeconds * 1000
              })
          )
    }

    const service: Made = {
      id: provider,
      capabilities: spi.capabilities,
      costModel: spi.costModel,
      create,
      get: (sessionId) => call("get", () => spi.get(sessionId), { sessionId }),
      start: (sessionId) => call("start", () => spi.start(sessionId), { sessionId }),
      stop,
      suspend,
      sleep: (sessionId) =>
        Capabilities.supports(spi.capabilities, "suspend") ? suspend(sessionId) : stop(sessionId),
      destroy: (sessionId) =>
        call("destroy", () => spi.destroy(sessionId), { sessionId }).pipe(
          Effect.tap(() => Effect.sync(() => forget(sessionId)))
        ),
      exec,
      list: () => call("list", () => spi.list()),
      usage: (sessionId) => call("usage", () => spi.usage(sessionId), { sessionId }),
      operation: (method, effect, attributes) => call(method, effect, attributes)
    }
    return service
  })
