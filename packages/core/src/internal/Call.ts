/**
 * One call of a provider made with core's `make`: a span, failures normalised into `ComputeError`, retries on
 * core's schedule, and the deadline if the plugin gave one.
 */
import { Clock, Context, Effect, FiberRef, Tracer } from "effect"
import { normalise } from "../ComputeError.js"
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
 * (`withParentSpan`, a FiberRef scope).
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
          () => normalise(deadline.onTimeout(method, bound), { module: "ComputeProvider", method, provider })
        )
      }
    )
