/**
 * Idle hand-off: a session whose last task finished goes to the idle policy, which decides when it sleeps (and
 * whether to pre-warm it); `release` puts to sleep every session this router holds.
 */
import type { ComputeError, ComputeProvider, IdlePolicy, Session, TaskSpec } from "@hangar/core"
import { Clock, Duration, Effect, FiberMap, LogLevel, Option } from "effect"
import * as Dispatching from "../Dispatching.js"
import type { SessionStoreError } from "../SessionStore.js"
import { keyOf, logged, type RouterState } from "./RouterState.js"

/** Marks a held session awake or asleep in memory and in the store. */
const markAsleep = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  sessionId: string,
  asleep: boolean
) =>
  Effect.gen(function* () {
    const entry = state.activity.get(keyOf(provider.id, sessionId))
    if (entry !== undefined) entry.asleep = asleep
    yield* state.store.setSessionState(
      provider.id,
      sessionId,
      asleep ? "asleep" : "idle",
      yield* Clock.currentTimeMillis
    )
  })

/** Suspends the session (or stops it where the provider cannot suspend) and records it asleep. */
export const putToSleep = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  sessionId: string,
  action: "stop" | "suspend"
): Effect.Effect<void, ComputeError.ComputeError | SessionStoreError> =>
  Effect.gen(function* () {
    const canSuspend = provider.capabilities.unsupported.suspend === undefined
    yield* action === "suspend" && canSuspend ? provider.suspend(sessionId) : provider.stop(sessionId)
    yield* markAsleep(state, provider, sessionId, true)
  })

/** The idle timer of a session: sleep after the decision's timeout, then pre-warm and sleep again if it says so. */
const idleTimer = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  sessionId: string,
  decision: IdlePolicy.IdleDecision,
  action: "stop" | "suspend"
) =>
  Effect.gen(function* () {
    yield* Effect.sleep(Duration.millis(decision.afterMillis))
    yield* putToSleep(state, provider, sessionId, action)
    if (decision.prewarmAfterMillis === undefined) return
    yield* Effect.sleep(Duration.millis(Math.max(0, decision.prewarmAfterMillis - decision.afterMillis)))
    yield* provider.start(sessionId)
    yield* markAsleep(state, provider, sessionId, false)
    yield* Effect.sleep(Duration.millis(decision.prewarmKeepAliveMillis ?? 0))
    yield* putToSleep(state, provider, sessionId, action)
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning("idle transition failed").pipe(
        Effect.annotateLogs({ provider: provider.id, session: sessionId, error: error.message })
      )
    )
  )

/** Hands an idle session to the idle policy: sleep after its timeout, pre-warm if it says so. */
export const scheduleIdle = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  session: Session.Session,
  task: TaskSpec.TaskSpec
) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const decision = yield* state.idle.onIdle(Dispatching.idleInput(provider, session.id, task, now))
    yield* logged(LogLevel.Debug, "idle decision", {
      provider: provider.id,
      session: session.id,
      action: decision.action,
      reason: decision.reason
    })
    if (decision.action === "keep" || decision.action === "platform") return
    const timer = idleTimer(state, provider, session.id, decision, decision.action)
    yield* FiberMap.run(state.timers, keyOf(provider.id, session.id), timer)
  })

/** Puts every session this router holds to sleep and cancels idle timers. */
export const release = (state: RouterState) =>
  Effect.gen(function* () {
    yield* FiberMap.clear(state.timers)
    for (const [key, entry] of state.activity) {
      if (entry.asleep) continue
      const [providerId = "", ...rest] = key.split("/")
      const sessionId = rest.join("/")
      const provider = yield* Effect.option(state.registry.get(providerId))
      if (Option.isNone(provider)) continue
      yield* putToSleep(state, provider.value, sessionId, "suspend").pipe(
        Effect.catchAll((error) => Effect.logWarning(`could not release ${key}: ${error.message}`))
      )
    }
  })
