/**
 * Which policy runs need not be simulated: a routing policy that, asked everything another run's routing policy
 * is asked, answers the same every time would make an identical run.
 *
 * Why that holds: an engine run is deterministic, and the only thing a routing policy gives the Router is its
 * answer to `decide`: a provider, or an error (the Router uses nothing else of a decision but to log it). So if
 * policy B, asked each of run A's `decide` calls at the moment A's policy is (same input, same virtual time)
 * and told each of its `observe` outcomes, picks the provider A's policy picks at every `decide` (or fails with
 * the same error tag), then by induction over the calls B's run is A's run step for step, and its bills, start
 * latencies and cold starts are A's. `shadowed` runs such policies (`Shadow`) beside a run's own, each until it
 * first answers otherwise. A policy reading anything else (randomness, real time), or taking virtual time to
 * answer (a shadow's answer is awaited inside the run), would break the argument; none of the routing policies
 * does, and the test holds taken-over rows to fresh simulations.
 */
import { RoutingPolicy } from "@hangar/core"
import { Context, Effect, Either, Layer } from "effect"

/** A routing policy asked what a run's own is asked; `alike` until it first answers otherwise. */
export interface Shadow {
  readonly name: string
  readonly policy: Layer.Layer<RoutingPolicy.RoutingPolicy>
  alike: boolean
}

const answerOf = (decided: Either.Either<RoutingPolicy.RouteDecision, { readonly _tag: string }>) =>
  Either.isRight(decided) ? `provider:${decided.right.provider}` : `error:${decided.left._tag}`

/**
 * `policy`, answering as it does; every `decide` and `observe` it gets also goes to each shadow still alike,
 * and a shadow that answers a `decide` otherwise is marked not alike and asked nothing more.
 */
export const shadowed = (
  policy: Layer.Layer<RoutingPolicy.RoutingPolicy>,
  shadows: ReadonlyArray<Shadow>
): Layer.Layer<RoutingPolicy.RoutingPolicy> =>
  Layer.scoped(
    RoutingPolicy.RoutingPolicy,
    Effect.gen(function* () {
      const own = yield* RoutingPolicy.RoutingPolicy
      const others = yield* Effect.forEach(shadows, (shadow) =>
        Effect.map(Layer.build(shadow.policy), (context) => ({
          shadow,
          service: Context.get(context, RoutingPolicy.RoutingPolicy)
        }))
      )
      const alike = () => others.filter(({ shadow }) => shadow.alike)
      return {
        name: own.name,
        decide: (input) =>
          Effect.flatMap(Effect.either(own.decide(input)), (decided) => {
            const answer = answerOf(decided)
            return Effect.zipRight(
              Effect.forEach(
                alike(),
                ({ shadow, service }) =>
                  Effect.map(Effect.either(service.decide(input)), (theirs) => {
                    if (answerOf(theirs) !== answer) shadow.alike = false
                  }),
                { discard: true }
              ),
              decided
            )
          }),
        observe: (outcome) =>
          Effect.zipRight(
            Effect.forEach(alike(), ({ service }) => service.observe(outcome), { discard: true }),
            own.observe(outcome)
          )
      } satisfies RoutingPolicy.Service
    })
  ).pipe(Layer.provide(policy))
