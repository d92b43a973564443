/**
 * The Router's state, built once by `Router.make` and passed to every part of it (dispatch attempts, failover,
 * idle hand-off, reconciliation, create gates): the services it uses, its options, and what it tracks in memory.
 */
import { IdlePolicy, ProviderRegistry, RoutingPolicy, type TaskSpec } from "@hangar/core"
import { Duration, Effect, FiberMap, type LogLevel, type Scope } from "effect"
import type { DispatchProgress, ReconcileOptions, RouterOptions } from "../Router.js"
import { SessionStore, type Service as SessionStoreService } from "../SessionStore.js"
import * as CreateGate from "./CreateGate.js"

export const defaultReconcileInterval: Duration.Duration = Duration.minutes(10)
export const defaultGracePeriod: Duration.Duration = Duration.minutes(15)

/** What this router knows of a session it holds. */
export interface SessionActivity {
  active: number
  /** When the last task on the session finished (for the idle gap seen by the next arrival). */
  idleSince: number | undefined
  asleep: boolean
  lastTask: TaskSpec.TaskSpec
}

export interface RouterState {
  readonly registry: ProviderRegistry.Registry
  readonly routing: RoutingPolicy.Service
  readonly idle: IdlePolicy.Service
  readonly store: SessionStoreService
  readonly options: RouterOptions
  /** This router's identity in the session store. */
  readonly instanceId: string
  /** Concurrency limit per provider id. */
  readonly permits: ReadonlyMap<string, Effect.Semaphore>
  /** Idle timers by session key (`provider/sessionId`). */
  readonly timers: FiberMap.FiberMap<string>
  /** Sessions this router holds, by session key. */
  readonly activity: Map<string, SessionActivity>
  /** Task ids with a dispatch attempt of this router under way (their intents and compute are not touched). */
  readonly inFlight: Map<string, number>
  /** Create gates by provider id. */
  readonly gates: ReadonlyMap<string, CreateGate.CreateGate>
  /** Reconciliation options; undefined when the schedule is off (`reconcile: false`). */
  readonly reconcileOptions: ReconcileOptions | undefined
  readonly gracePeriodMillis: number
  readonly orphanPolicy: "destroy" | "sleep"
  /** When each unowned session was first seen unowned (by session key), for the grace period. */
  readonly unownedSince: Map<string, number>
  /** Keeps reconciliation rounds from overlapping. */
  readonly reconcileLock: Effect.Semaphore
}

/** The key of a session in the state's maps. */
export const keyOf = (provider: string, sessionId: string): string => `${provider}/${sessionId}`

/** The services the Router is built from. */
export type Services =
  | ProviderRegistry.ProviderRegistry
  | RoutingPolicy.RoutingPolicy
  | IdlePolicy.IdlePolicy
  | SessionStore
  | Scope.Scope

export const make = (options: RouterOptions): Effect.Effect<RouterState, never, Services> =>
  Effect.gen(function* () {
    const registry = yield* ProviderRegistry.ProviderRegistry
    const permits = new Map(
      yield* Effect.forEach(registry.all, (p) =>
        Effect.map(Effect.makeSemaphore(options.concurrencyPerProvider ?? 32), (s) => [p.id, s] as const)
      )
    )
    const gates = new Map(
      yield* Effect.forEach(registry.all, (p) => Effect.map(CreateGate.make, (gate) => [p.id, gate] as const))
    )
    const reconcileOptions = options.reconcile === false ? undefined : (options.reconcile ?? {})
    return {
      registry,
      routing: yield* RoutingPolicy.RoutingPolicy,
      idle: yield* IdlePolicy.IdlePolicy,
      store: yield* SessionStore,
      options,
      instanceId: options.instanceId ?? `router-${Math.random().toString(36).slice(2, 10)}`,
      permits,
      timers: yield* FiberMap.make<string>(),
      activity: new Map(),
      inFlight: new Map(),
      gates,
      reconcileOptions,
      gracePeriodMillis: Duration.toMillis(reconcileOptions?.gracePeriod ?? defaultGracePeriod),
      orphanPolicy: reconcileOptions?.orphans ?? "destroy",
      unownedSince: new Map(),
      reconcileLock: yield* Effect.makeSemaphore(1)
    } satisfies RouterState
  })

/** Tells `onDispatchStep` (if any) that an attempt reached a step. */
export const reportStep = (state: RouterState, progress: DispatchProgress): Effect.Effect<void> =>
  state.options.onDispatchStep === undefined ? Effect.void : state.options.onDispatchStep(progress)

/**
 * A log line of the dispatch path, built only when `level` is enabled: its annotations cost more than the line
 * when nothing is logged, and every dispatch writes some (its route, its idle decision, each failed attempt).
 */
export const logged = (
  level: LogLevel.LogLevel,
  message: string,
  annotations: Record<string, unknown>
): Effect.Effect<void> =>
  Effect.asVoid(
    Effect.whenLogLevel(Effect.logWithLevel(level, message).pipe(Effect.annotateLogs(annotations)), level)
  )
