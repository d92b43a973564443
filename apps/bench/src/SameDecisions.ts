/**
 * Which policy runs need not be simulated: a routing policy that, asked what another run's routing policy was
 * asked, answers the same at every call would make an identical run.
 *
 * Why that holds: an engine run is deterministic, and the only thing a routing policy gives the Router is its
 * answer to `decide`: a provider, or an error (the Router uses nothing else of a decision but to log it). So if
 * policy B, fed run A's calls in A's order at A's virtual times (`decide` with the same inputs, `observe` with
 * the same outcomes), picks the provider A's policy picked at every `decide` (or fails with the same error tag),
 * then by induction over the calls B's run is A's run step for step, and its bills, start latencies and cold
 * starts are A's. `recording` wraps the policy of a simulated run to keep its calls; `answersAlike` replays
 * them against another policy. Policies reading anything else (randomness, real time) would break the argument;
 * none of the routing policies does, and the test holds reused rows to fresh simulations.
 */
import { RoutingPolicy } from "@hangar/core"
import { Clock, Context, Effect, Either, Layer } from "effect"
import { EngineClock } from "./engine/EngineClock.js"
import { start } from "./Sides.js"

/** One call a run's routing policy answered, with what it answered, at the run's virtual time. */
export type Call =
  | {
      readonly kind: "decide"
      readonly atMillis: number
      readonly input: RoutingPolicy.RouteInput
      /** The provider picked, or the tag of the error. */
      readonly answer: string
    }
  | { readonly kind: "observe"; readonly atMillis: number; readonly outcome: RoutingPolicy.Outcome }

const picked = (decision: RoutingPolicy.RouteDecision) => `provider:${decision.provider}`
const failed = (error: { readonly _tag: string }) => `error:${error._tag}`

/** `policy`, answering as it does, with every call it answers appended to `calls`. */
export const recording = (
  policy: Layer.Layer<RoutingPolicy.RoutingPolicy>,
  calls: Array<Call>
): Layer.Layer<RoutingPolicy.RoutingPolicy> =>
  Layer.effect(
    RoutingPolicy.RoutingPolicy,
    Effect.map(RoutingPolicy.RoutingPolicy, (inner) => ({
      name: inner.name,
      decide: (input) =>
        Effect.flatMap(Clock.currentTimeMillis, (atMillis) => {
          // The Router adds to `excluded` as it fails over: the call is kept as it was made.
          const asCalled = { ...input, excluded: [...input.excluded] }
          const record = (answer: string) =>
            Effect.sync(() => calls.push({ kind: "decide", atMillis, input: asCalled, answer }))
          return Effect.tapBoth(inner.decide(input), {
            onSuccess: (decision) => record(picked(decision)),
            onFailure: (error) => record(failed(error))
          })
        }),
      observe: (outcome) =>
        Effect.flatMap(Clock.currentTimeMillis, (atMillis) => {
          calls.push({ kind: "observe", atMillis, outcome })
          return inner.observe(outcome)
        })
    }))
  ).pipe(Layer.provide(policy))

/** Whether `policy`, built afresh and fed `calls` at their times, answers every `decide` as recorded. */
export const answersAlike = (
  calls: ReadonlyArray<Call>,
  policy: Layer.Layer<RoutingPolicy.RoutingPolicy>
): boolean => {
  const clock = new EngineClock(start)
  return Effect.runSync(
    Effect.scoped(
      Effect.gen(function* () {
        const built = Context.get(yield* Layer.build(policy), RoutingPolicy.RoutingPolicy)
        for (const call of calls) {
          clock.runTimersUntil(call.atMillis)
          if (call.kind === "observe") {
            yield* built.observe(call.outcome)
            continue
          }
          const decided = yield* Effect.either(built.decide(call.input))
          if ((Either.isRight(decided) ? picked(decided.right) : failed(decided.left)) !== call.answer)
            return false
        }
        return true
      })
    ).pipe(Effect.withClock(clock))
  )
}
