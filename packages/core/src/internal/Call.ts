/**
 * One call of a provider made with core's `make`: a span, failures normalised into `ComputeError`, retries on
 * core's schedule, and the deadline if the plugin gave one.
 */
import { Clock, Context, Effect, FiberRef, Tracer } from "effect"
import { type ComputeError, normalise } from "../ComputeError.js"
import { withCallDeadline } from "./Deadline.js"
import { type RetryPolicy, retry } from "./Retry.js"

export interface Deadline {
  readonly millis: number
  readonly onTimeout: (method: string, millis: number) => unknown
}

/**
 * A call: a span, retries, and the deadline if there is one. With a deadline the call runs on a fiber of its
 * own (`withCallDeadline`), where the span is made the parent of what the call does by setting it there:
 * nothing needs restoring, as the fiber ends with the call. Without one, the span is installed around the call
 * (`withParentSpan`, a FiberRef scope). With the tracer disabled there is no span at all.
 */
export const make =
  (provider: string, policy: RetryPolicy, deadline: Deadline | undefined) =>
  <A>(
    method: string,
    effect: () => Effect.Effect<A, unknown>,
    attributes: Record<string, unknown> = {},
    {
      bound = deadline?.millis ?? 0,
      parent
    }: { readonly bound?: number | undefined; readonly parent?: Tracer.AnySpan } = {}
  ): Effect.Effect<A, ComputeError> => {
    const attempts = Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
      const attempt = Effect.suspend(effect).pipe(
        Effect.mapError((u) => normalise(u, { module: "ComputeProvider", method, provider }))
      )
      return retry(attempt, policy, startedAt)
    })
    const bounded = (work: Effect.Effect<A, ComputeError>) =>
      deadline === undefined
        ? work
        : withCallDeadline(work, bound, () =>
            normalise(deadline.onTimeout(method, bound), { module: "ComputeProvider", method, provider })
          )
    const traced = Effect.useSpan(
      `ComputeProvider.${method}`,
      { attributes: { provider, ...attributes }, captureStackTrace: false, ...(parent ? { parent } : {}) },
      (span) =>
        deadline === undefined
          ? Effect.withParentSpan(attempts, span)
          : bounded(
              Effect.zipRight(
                FiberRef.update(FiberRef.currentContext, Context.add(Tracer.ParentSpan, span)),
                attempts
              )
            )
    )
    // With the tracer off (the bench engine) a span would be a no-op that still costs a context per call.
    return Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (enabled) =>
      enabled ? traced : bounded(attempts)
    )
  }
