/**
 * The provider contract. A plugin implements the narrow `Spi` (what only it can do); core `make` turns it into
 * the `ComputeProvider` every caller uses, adding once for all providers: a span per call, normalisation of
 * failures into the `ComputeError` union, capability checks, retries of retryable errors on a `Schedule`
 * (exponential with jitter, honouring retry-after, bounded by attempts and a deadline), idempotent session
 * creation by task id, and, when the plugin asks for one, a deadline on every call.
 */
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  FiberId,
  FiberRef,
  Option,
  Random,
  Schedule,
  Tracer
} from "effect"
import * as Capabilities from "./Capabilities.js"
import {
  type ComputeError,
  fromParseError,
  InvalidRequest,
  normalise,
  Timeout,
  Unsupported
} from "./ComputeError.js"
import type { Session } from "./Session.js"
import type { TaskResult } from "./TaskResult.js"
import * as TaskSpec from "./TaskSpec.js"
import type { Usage } from "./Usage.js"
import type { SimulationClock } from "./VirtualClock.js"

export interface ExecOptions {
  /** How long the command may run before it is killed and the call fails with `Timeout`. */
  readonly timeoutSeconds?: number
}

/** What a plugin implements. Failures may be anything; `make` normalises them. */
export interface Spi {
  readonly id: TaskSpec.ProviderId
  readonly capabilities: Capabilities.Capabilities
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

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number
  readonly baseDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
  /** No retry is started that would wait past this much time from the first attempt. */
  readonly deadline: Duration.DurationInput
}

export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 5,
  baseDelay: "200 millis",
  maxDelay: "20 seconds",
  deadline: "2 minutes"
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

/** Inside a call of a provider made with a `deadline`: the instant (clock millis) the call must end by. */
export const callDeadlineAt: FiberRef.FiberRef<number> = FiberRef.unsafeMake(Number.POSITIVE_INFINITY)

/**
 * The retry schedule for one call started now: exponential from `baseDelay` capped at `maxDelay`, jittered by
 * ±20%, never shorter than a `retryAfterMillis` the error carries, at most `maxRetries` times, and never a wait
 * that would end past the deadline. It continues only while the error is retryable.
 */
export const retrySchedule = (
  policy: RetryPolicy,
  startedAt: number
): Schedule.Schedule<RetryStep, ComputeError> => {
  const base = Duration.toMillis(policy.baseDelay)
  const cap = Duration.toMillis(policy.maxDelay)
  const deadlineAt = startedAt + Duration.toMillis(policy.deadline)
  return Schedule.identity<ComputeError>().pipe(
    Schedule.intersect(Schedule.count),
    Schedule.whileInput((error: ComputeError) => error.isRetryable),
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.mapEffect(([[error, attempt]]) =>
      Effect.map(Random.nextRange(0.8, 1.2), (jitter): RetryStep => {
        const backoff = Math.min(cap, base * 2 ** attempt) * jitter
        const retryAfter = error._tag === "RateLimited" ? (error.retryAfterMillis ?? 0) : 0
        return { error, attempt, delayMillis: Math.round(Math.max(backoff, retryAfter)) }
      })
    ),
    Schedule.checkEffect((_input, step: RetryStep) =>
      Effect.map(Clock.currentTimeMillis, (now) => now + step.delayMillis <= deadlineAt)
    ),
    Schedule.addDelay((step) => Duration.millis(step.delayMillis))
  )
}

/**
 * `Effect.retry(effect, schedule)`, but the schedule is built only once an attempt has failed (most calls succeed
 * at once, and a schedule driver per call is not free). It is fed that first failure as if it had run from the
 * start, so its decisions (delays, limits, the errors it continues on) are the same.
 */
export const retryLazily = <A, E, R, X, R2>(
  effect: Effect.Effect<A, E, R>,
  schedule: Schedule.Schedule<X, E, R2>
): Effect.Effect<A, E, R | R2> =>
  Effect.catchAll(effect, (first) => {
    let fed = false
    const again = Effect.suspend(() => {
      if (fed) return effect
      fed = true
      return Effect.fail(first)
    })
    return Effect.retry(again, schedule)
  })

/** `effect` retried on `retrySchedule(policy, startedAt)`, the schedule built only on a failure. */
export const retry = <A, R>(
  effect: Effect.Effect<A, ComputeError, R>,
  policy: RetryPolicy,
  startedAt: number
): Effect.Effect<A, ComputeError, R> => retryLazily(effect, retrySchedule(policy, startedAt))

/**
 * `effect`, or a failure with `onTimeout()` once `millis` have passed on the fiber's clock. The caller gets the
 * failure at once and the work is interrupted in the background, as `Effect.disconnect` then
 * `Effect.timeoutFail` do, but with one forked fiber and one timer instead of three fibers: this bounds every
 * call of a provider, so its cost is paid per call. A `SimulationClock` (virtual or real) schedules the timer
 * itself; any other clock sleeps on a fiber of its own.
 */
export const withDeadline = <A, E, E2, R>(
  effect: Effect.Effect<A, E, R>,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.clockWith((clock) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.forkDaemon(restore(effect)), (fiber) =>
        restore(
          Effect.async<A, E | E2>((resume) => {
            let settled = false
            const fire = () => {
              if (settled) return
              settled = true
              fiber.unsafeInterruptAsFork(FiberId.none)
              resume(Effect.fail(onTimeout()))
            }
            const cancel = timer(clock, millis, fire)
            fiber.addObserver((exit) => {
              if (settled) return
              settled = true
              cancel()
              resume(exit)
            })
            return Effect.sync(() => {
              if (settled) return
              settled = true
              cancel()
              fiber.unsafeInterruptAsFork(FiberId.none)
            })
          })
        )
      )
    )
  )

/**
 * `withDeadline`, with the instant set in `callDeadlineAt` on the fiber the work runs on, for the waits inside it to
 * see (that fiber ends with the work, so nothing needs restoring).
 */
export const withCallDeadline = <A, E, E2, R>(
  effect: Effect.Effect<A, E, R>,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    withDeadline(Effect.zipRight(FiberRef.set(callDeadlineAt, now + millis), effect), millis, onTimeout)
  )

/** The class of Effect's own clock, whose `sleep` is a `setTimeout`. */
const LiveClock = Clock.make().constructor
/** The longest delay `setTimeout` takes (about 24.8 days). */
const maxTimeoutMillis = 2_147_483_647

/**
 * Calls `fire` after `millis` on `clock`; returns a cancel function. Effect's own clock gets a `setTimeout`, as its
 * `sleep` would use: running that `sleep` on a fiber of its own cost more than the rest of a provider call.
 */
const timer = (clock: Clock.Clock, millis: number, fire: () => void): (() => void) => {
  const scheduler = clock as Partial<Pick<SimulationClock, "schedule">>
  if (typeof scheduler.schedule === "function") {
    return scheduler.schedule(clock.unsafeCurrentTimeMillis() + millis, fire)
  }
  if (clock.constructor === LiveClock && millis <= maxTimeoutMillis) {
    const handle = setTimeout(fire, millis)
    return () => clearTimeout(handle)
  }
  const sleeper = Effect.runFork(clock.sleep(Duration.millis(millis)))
  sleeper.addObserver((exit) => {
    if (exit._tag === "Success") fire()
  })
  return () => sleeper.unsafeInterruptAsFork(FiberId.none)
}

/** One decision of the retry schedule: the error retried, how many retries came before, and the wait. */
export interface RetryStep {
  readonly error: ComputeError
  readonly attempt: number
  readonly delayMillis: number
}

/** Builds the caller-facing provider from a plugin's SPI. */
export const make = (spi: Spi, options: MakeOptions = {}): Effect.Effect<ComputeProvider> =>
  Effect.sync(() => {
    const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry }
    const provider = spi.id
    /** One entry per task id: concurrent and repeated creates for a task share one session. */
    const byTask = new Map<
      string,
      { readonly deferred: Deferred.Deferred<Session, ComputeError>; sessionId?: string }
    >()

    const deadline = options.deadline
    /**
     * A call: a span, retries, and the deadline if there is one. With a deadline the call runs on a fiber of its
     * own (`withCallDeadline`), where the span is made the parent of what the call does by setting it there:
     * nothing needs restoring, as the fiber ends with the call. Without one, the span is installed around the call
     * (`withParentSpan`, a FiberRef scope).
     */
    const call = <A>(
      method: string,
      effect: () => Effect.Effect<A, unknown>,
      attributes: Record<string, unknown> = {},
      {
        bound = deadline?.millis ?? 0,
        parent
      }: { readonly bound?: number | undefined; readonly parent?: Tracer.AnySpan } = {}
    ) =>
      Effect.useSpan(
        `ComputeProvider.${method}`,
        { attributes: { provider, ...attributes }, captureStackTrace: false, ...(parent ? { parent } : {}) },
        (span) => {
          const attempts = Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
            const attempt = Effect.suspend(effect).pipe(
              Effect.mapError((u) => normalise(u, { module: "ComputeProvider", method, provider }))
            )
            return retry(attempt, policy, startedAt)
          })
          if (deadline === undefined) return Effect.withParentSpan(attempts, span)
          return withCallDeadline(
            Effect.zipRight(
              FiberRef.update(FiberRef.currentContext, Context.add(Tracer.ParentSpan, span)),
              attempts
            ),
            bound,
            () =>
              normalise(deadline.onTimeout(method, bound), { module: "ComputeProvider", method, provider })
          )
        }
      )

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
      return timeoutSeconds === undefined
        ? run
        : run.pipe(
            Effect.timeoutFail({
              duration: Duration.seconds(timeoutSeconds),
              onTimeout: () =>
                new Timeout({
                  module: "ComputeProvider",
                  method: "exec",
                  provider,
                  reason: "Deadline",
                  timeoutMillis: timeoutSeconds * 1000
                })
            })
          )
    }

    const service: ComputeProvider = {
      id: provider,
      capabilities: spi.capabilities,
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
      usage: (sessionId) => call("usage", () => spi.usage(sessionId), { sessionId })
    }
    return service
  })
