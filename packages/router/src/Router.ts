/**
 * `Router.dispatch(task)`: decide where the task runs, create or reuse its session, make sure it runs, execute
 * the command, then hand the idle machine to the idle policy. Retryable and capacity failures fail over to the
 * next feasible provider, with the history kept on the final error. Every decision is logged with its reason;
 * each provider has a concurrency limit; closing the Router's scope (graceful shutdown) interrupts idle timers
 * and puts to sleep what this router started.
 *
 * Nothing runs that no record owns: before a provider is asked for compute, the dispatch writes an intent (the
 * task id, the provider, this router and the time) to the SessionStore, and creation is idempotent by task id
 * (core's `make` within a process, the plugin across restarts: it finds the compute carrying the task id).
 * `reconcile()` runs at start-up and on a schedule: intents whose create never completed are resolved (the
 * compute is adopted if the provider lists one for the task, else the intent is marked failed), records a
 * previous router left mid-dispatch are adopted, and compute no record owns is destroyed (or put to sleep) once
 * it has stayed unowned for a grace period. What a dispatch of this router has under way is never touched.
 */
import type {
  ComputeError,
  IdlePolicy,
  ProviderRegistry,
  RoutingPolicy,
  Session,
  TaskResult,
  TaskSpec
} from "@hangar/core"
import { Context, type Duration, Effect, Layer, type Scope } from "effect"
import * as Failover from "./internal/Failover.js"
import * as IdleHandOff from "./internal/IdleHandOff.js"
import * as Reconciliation from "./internal/Reconciliation.js"
import * as RouterState from "./internal/RouterState.js"
import type { SessionStore, SessionStoreError } from "./SessionStore.js"

export interface DispatchResult {
  readonly taskId: string
  readonly provider: string
  readonly sessionId: string
  readonly decision: RoutingPolicy.RouteDecision
  readonly result: TaskResult.TaskResult
  readonly failoverHistory: ReadonlyArray<ComputeError.FailoverAttempt>
  /**
   * Milliseconds from the dispatch to a running session: what the task waited, including the time failed
   * attempts on other providers took and queueing for a concurrency slot.
   */
  readonly startLatencyMillis: number
  /** Whether the machine had to be created or woken (it was not running or idle-warm). */
  readonly coldStart: boolean
  readonly startedAtMillis: number
  readonly finishedAtMillis: number
}

export interface SessionRef {
  readonly provider: string
  readonly sessionId: string
}

export interface Orphan extends SessionRef {
  /** The task id the provider reports for the compute. */
  readonly taskId: string
  readonly status: Session.SessionStatus
  /** How long this router has seen it unowned. */
  readonly unownedForMillis: number
}

export interface ReconcileReport {
  /** Orphans put to sleep (the `sleep` orphan policy). */
  readonly stopped: ReadonlyArray<SessionRef>
  /** Task ids of records a previous router left (mid-dispatch or idle), adopted and handed to the idle policy. */
  readonly adopted: ReadonlyArray<string>
  /** Compute the providers list that no record owns, as found this round. */
  readonly orphans: ReadonlyArray<Orphan>
  /** Orphans destroyed (the `destroy` orphan policy, the default). */
  readonly destroyed: ReadonlyArray<SessionRef>
  /** Orphans left for a later round: inside the grace period, or a create was under way on their provider. */
  readonly deferred: ReadonlyArray<SessionRef>
  /** Intents whose create never completed, whose compute the provider lists: adopted. */
  readonly intentsAdopted: ReadonlyArray<SessionRef & { readonly taskId: string }>
  /** Intents whose create never completed and left no compute: marked failed. */
  readonly intentsFailed: ReadonlyArray<{ readonly taskId: string; readonly provider: string }>
  /** Task ids of records whose compute is gone: released. */
  readonly released: ReadonlyArray<string>
}

export type DispatchError = ComputeError.ComputeError | SessionStoreError

export interface Service {
  readonly dispatch: (
    task: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec
  ) => Effect.Effect<DispatchResult, DispatchError>
  /** One reconciliation round now (rounds never overlap); the Router also runs them on its own schedule. */
  readonly reconcile: () => Effect.Effect<ReconcileReport, DispatchError>
  /** Puts every session this router holds to sleep (stops ECS tasks) and cancels idle timers. */
  readonly release: () => Effect.Effect<void>
}

export class Router extends Context.Tag("@hangar/router/Router")<Router, Service>() {}

/**
 * The steps of a dispatch attempt, in order: `intent` (recorded; the provider not yet asked), `created` (the
 * provider answered; the session not yet recorded), `started` (running, recorded), `exec` (the command is being
 * sent), `idle` (finished, handed to the idle policy).
 */
export type DispatchStep = "intent" | "created" | "started" | "exec" | "idle"

export interface DispatchProgress {
  readonly step: DispatchStep
  readonly taskId: string
  readonly provider: string
  /** Known from `created` on. */
  readonly sessionId?: string
}

export interface ReconcileOptions {
  /** Reconcile as soon as the Router is built (default true). */
  readonly atStartup?: boolean
  /** Time between rounds (default 10 minutes; `Duration.infinity` for none after the start-up one). */
  readonly interval?: Duration.DurationInput
  /** How long compute must stay unowned before the orphan policy acts on it (default 15 minutes). */
  readonly gracePeriod?: Duration.DurationInput
  /** What happens to an orphan after the grace period: `destroy` (default) or `sleep` (suspend or stop). */
  readonly orphans?: "destroy" | "sleep"
  /** Called with the report of every round, the scheduled ones included. */
  readonly onReport?: (report: ReconcileReport) => Effect.Effect<void>
}

export interface RouterOptions {
  /** Concurrent dispatches per provider (default 32). */
  readonly concurrencyPerProvider?: number
  readonly execTimeoutSeconds?: number
  /** This router's identity in the session store (default: a random id). */
  readonly instanceId?: string
  /** Reconciliation at start-up and on a schedule (see `ReconcileOptions`); `false`: only when called. */
  readonly reconcile?: ReconcileOptions | false
  /** Called as a dispatch attempt reaches each step (tracing; the crash test stops the process here). */
  readonly onDispatchStep?: (progress: DispatchProgress) => Effect.Effect<void>
  /**
   * Task ids another live router instance holds (several instances on one store): read at the start of each
   * reconciliation round, their records are neither adopted nor closed and compute reporting them is no orphan.
   */
  readonly heldElsewhere?: () => Effect.Effect<ReadonlySet<string>, SessionStoreError>
}

export const defaultReconcileInterval: Duration.Duration = RouterState.defaultReconcileInterval
export const defaultGracePeriod: Duration.Duration = RouterState.defaultGracePeriod

/** What a Router is built from: the providers, the two policies, a session store, and the scope it lives in. */
export type Requirements =
  | ProviderRegistry.ProviderRegistry
  | RoutingPolicy.RoutingPolicy
  | IdlePolicy.IdlePolicy
  | SessionStore
  | Scope.Scope

/**
 * Builds the Router's state and wires the functions that act on it: dispatch (attempts with failover,
 * `internal/Failover`, `internal/DispatchAttempt`), reconciliation (`internal/Reconciliation`) and the idle
 * hand-off (`internal/IdleHandOff`).
 */
export const make = (options: RouterOptions = {}): Effect.Effect<Service, never, Requirements> =>
  Effect.gen(function* () {
    const state = yield* RouterState.make(options)

    // ---- dispatch

    const dispatch = (input: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec) => Failover.dispatch(state, input)

    // ---- reconciliation

    const reconcile = () => Reconciliation.reconcile(state)

    // ---- idle hand-off

    const release = () => IdleHandOff.release(state)

    // ---- lifecycle

    yield* Effect.addFinalizer(() => release())
    // Started after the finalizer above, so that closing the scope interrupts rounds before releasing.
    yield* Reconciliation.startSchedule(state)
    return { dispatch, reconcile, release } satisfies Service
  })

export const layer = (options: RouterOptions = {}) => Layer.scoped(Router, make(options))
