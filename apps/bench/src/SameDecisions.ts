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
import { Cause, Context, Effect, Exit, Layer, Option } from "effect"
import { atOnce } from "./engine/Kernel.js"

/** A routing policy asked what a run's own is asked; `alike` until it first answers otherwise. */
export interface Shadow {
  readonly name: string
  readonly policy: Layer.Layer<RoutingPolicy.RoutingPolicy>
  alike: boolean
}

type Answer = Exit.Exit<RoutingPolicy.RouteDecision, { readonly _tag: string }>

/**
 * What the Router takes of an answer: the provider, or the error's tag. (A shadow that dies is not alike: its run
 * is simulated on its own, and fails there.)
 */
const answerOf = (decided: Answer) => {
  if (Exit.isSuccess(decided)) return `provider:${decided.value.provider}`
  const error = Cause.failureOption(decided.cause)
  return Option.isSome(error) ? `error:${error.value._tag}` : `defect:${Cause.pretty(decided.cause)}`
}

/**
 * `policy`, answering as it does; every `decide` and `observe` it gets also goes to each shadow still alike,
 * and a shadow that answers a `decide` otherwise is marked not alike and asked nothing more. Answers a policy
 * gives at once (an `Exit`, as the stateless policies do) are compared at once, and the own answer is then
 * given as it is, so that a caller can take it without running an effect.
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
      /** Each shadow still alike, asked `input`: compared at once where it answers at once, else later. */
      const compare = (input: RoutingPolicy.RouteInput, answer: string) => {
        const later: Array<Effect.Effect<void>> = []
        for (const { shadow, service } of alike()) {
          const theirs = service.decide(input)
          const judge = (decided: Answer) => {
            if (answerOf(decided) !== answer) shadow.alike = false
          }
          if (atOnce(theirs)) judge(theirs)
          else later.push(Effect.map(Effect.exit(theirs), judge))
        }
        return later
      }
      return {
        name: own.name,
        decide: (input) => {
          const decided = own.decide(input)
          if (atOnce(decided)) {
            const later = compare(input, answerOf(decided))
            return later.length === 0
              ? decided
              : Effect.zipRight(Effect.all(later, { discard: true }), decided)
          }
          return Effect.flatMap(Effect.exit(decided), (exit) =>
            Effect.zipRight(Effect.all(compare(input, answerOf(exit)), { discard: true }), exit)
          )
        },
        observe: (outcome) => {
          const told = [...alike().map(({ service }) => service.observe(outcome)), own.observe(outcome)]
          const later = told.filter((effect) => !atOnce(effect))
          return later.length === 0 ? Effect.void : Effect.all(later, { discard: true })
        }
      } satisfies RoutingPolicy.Service
    })
  ).pipe(Layer.provide(policy))
