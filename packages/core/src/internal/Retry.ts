/**
 * Core's retries: the schedule every provider call retries on (exponential with jitter, honouring retry-after,
 * bounded by attempts and a deadline), built lazily on a call's first failure.
 */
import { Clock, Duration, Effect, Random, Schedule } from "effect"
import type { ComputeError } from "../ComputeError.js"

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

/** One decision of the retry schedule: the error retried, how many retries came before, and the wait. */
export interface RetryStep {
  readonly error: ComputeError
  readonly attempt: number
  readonly delayMillis: number
}

/**
 * The wait before retry number `attempt + 1` (0 for the first retry) after `error`: exponential from `baseDelay`,
 * capped at `maxDelay`, times `jitter` (drawn from [0.8, 1.2)), and never shorter than a `retryAfterMillis` the
 * error carries. Whole milliseconds.
 */
export const retryDelayMillis = (
  policy: RetryPolicy,
  error: ComputeError,
  attempt: number,
  jitter: number
): number => {
  const backoff = Math.min(
    Duration.toMillis(policy.maxDelay),
    Duration.toMillis(policy.baseDelay) * 2 ** attempt
  )
  const retryAfter = error._tag === "RateLimited" ? (error.retryAfterMillis ?? 0) : 0
  return Math.round(Math.max(backoff * jitter, retryAfter))
}

/**
 * The retry schedule for one call started now: exponential from `baseDelay` capped at `maxDelay`, jittered by
 * ±20%, never shorter than a `retryAfterMillis` the error carries, at most `maxRetries` times, and never a wait
 * that would end past the deadline. It continues only while the error is retryable.
 */
export const retrySchedule = (
  policy: RetryPolicy,
  startedAt: number
): Schedule.Schedule<RetryStep, ComputeError> => {
  const deadlineAt = startedAt + Duration.toMillis(policy.deadline)
  return Schedule.identity<ComputeError>().pipe(
    Schedule.intersect(Schedule.count),
    Schedule.whileInput((error: ComputeError) => error.isRetryable),
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.mapEffect(([[error, attempt]]) =>
      Effect.map(
        Random.nextRange(0.8, 1.2),
        (jitter): RetryStep => ({
          error,
          attempt,
          delayMillis: retryDelayMillis(policy, error, attempt, jitter)
        })
      )
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
  schedule: () => Schedule.Schedule<X, E, R2>
): Effect.Effect<A, E, R | R2> =>
  Effect.catchAll(effect, (first) => {
    let fed = false
    const again = Effect.suspend(() => {
      if (fed) return effect
      fed = true
      return Effect.fail(first)
    })
    return Effect.retry(again, schedule())
  })

/** `effect` retried on `retrySchedule(policy, startedAt)`, the schedule built only on a failure. */
export const retry = <A, R>(
  effect: Effect.Effect<A, ComputeError, R>,
  policy: RetryPolicy,
  startedAt: number
): Effect.Effect<A, ComputeError, R> => retryLazily(effect, () => retrySchedule(policy, startedAt))
