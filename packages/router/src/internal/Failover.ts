/**
 * `dispatch`: decode the task, ask the routing policy, run an attempt within the provider's concurrency limit,
 * and fail over to the next feasible provider on retryable and capacity failures, keeping the history.
 */
import { ComputeError, type ComputeProvider, type RoutingPolicy, TaskSpec } from "@hangar/core"
import { Clock, Effect, type Either, LogLevel } from "effect"
import * as Dispatching from "../Dispatching.js"
import type { DispatchError, DispatchResult } from "../Router.js"
import { registeredAttempt } from "./DispatchAttempt.js"
import { logged, type RouterState } from "./RouterState.js"

const decodeTask = (input: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec) =>
  input instanceof TaskSpec.TaskSpec
    ? Effect.succeed(input)
    : TaskSpec.decodeUnknown(input).pipe(
        Effect.mapError((e) => ComputeError.fromParseError(e, { module: "Router", method: "dispatch" }))
      )

/** The routing policy's pick among every provider, the failed ones excluded. */
const decide = (
  state: RouterState,
  task: TaskSpec.TaskSpec,
  excluded: ReadonlyArray<TaskSpec.ProviderId>
) => {
  const candidates = Dispatching.candidatesOf(state.registry.all)
  return Effect.either(state.routing.decide({ task, candidates, excluded }))
}

/** One attempt on the decided provider, within its concurrency limit; the routing policy observes the outcome. */
const attemptOn = (
  state: RouterState,
  task: TaskSpec.TaskSpec,
  decision: RoutingPolicy.RouteDecision
): Effect.Effect<
  {
    readonly provider: ComputeProvider.ComputeProvider
    readonly outcome: Either.Either<Dispatching.AttemptResult, DispatchError>
  },
  ComputeError.ComputeError
> =>
  Effect.gen(function* () {
    yield* logged(LogLevel.Info, "route", {
      task: task.taskId,
      provider: decision.provider,
      policy: decision.policy,
      reason: decision.reason
    })
    const provider = yield* state.registry.get(decision.provider)
    const dispatchedAt = yield* Clock.currentTimeMillis
    const permit = state.permits.get(provider.id)
    const run = registeredAttempt(state, provider, task, decision, dispatchedAt)
    const outcome = yield* Effect.either(permit === undefined ? run : permit.withPermits(1)(run))
    const at = yield* Clock.currentTimeMillis
    if (outcome._tag === "Right")
      yield* state.routing.observe({ provider: provider.id, ok: true, atMillis: at })
    else if (outcome.left._tag !== "SessionStoreError")
      yield* state.routing.observe({
        provider: provider.id,
        ok: false,
        error: outcome.left._tag,
        atMillis: at
      })
    return { provider, outcome }
  })

export const dispatch = (
  state: RouterState,
  input: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec
): Effect.Effect<DispatchResult, DispatchError> =>
  Effect.gen(function* () {
    const task = yield* decodeTask(input)
    const requestedAt = yield* Clock.currentTimeMillis
    const history: Array<ComputeError.FailoverAttempt> = []
    const excluded: Array<TaskSpec.ProviderId> = []
    for (;;) {
      const decided = yield* decide(state, task, excluded)
      if (decided._tag === "Left") return yield* Dispatching.noProviderLeft(task, decided.left, history)
      const { provider, outcome } = yield* attemptOn(state, task, decided.right)
      if (outcome._tag === "Right")
        // The task waited from the dispatch on: the time its failed attempts took counts as start latency.
        return {
          ...outcome.right,
          failoverHistory: history,
          startLatencyMillis: outcome.right.startedAtMillis - requestedAt
        }
      const error = outcome.left
      if (error._tag === "SessionStoreError") return yield* error
      history.push({ provider: provider.id, error: error._tag, message: error.message })
      yield* logged(LogLevel.Warning, "dispatch attempt failed", {
        task: task.taskId,
        provider: provider.id,
        error: error.message
      })
      if (!Dispatching.failsOver(error)) return yield* Dispatching.finalError(error, history)
      excluded.push(provider.id)
    }
  }).pipe(Effect.withSpan("Router.dispatch", { captureStackTrace: false }))
