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
import {
  ComputeError,
  ComputeProvider,
  IdlePolicy,
  ProviderRegistry,
  RoutingPolicy,
  Session,
  TaskResult,
  TaskSpec
} from "@hangar/core"
import { Clock, Context, Duration, Effect, FiberMap, Layer, Option, Schedule, type Scope } from "effect"
import * as CostModel from "./CostModel.js"
import { type SessionRecord, SessionStore, type SessionStoreError } from "./SessionStore.js"

export interface DispatchResult {
  readonly taskId: string
  readonly provider: string
  readonly sessionId: string
  readonly decision: RoutingPolicy.RouteDecision
  readonly result: TaskResult.TaskResult
  readonly failoverHistory: ReadonlyArray<ComputeError.FailoverAttempt>
  /** Milliseconds from dispatch to a running session (queueing for a concurrency slot excluded). */
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
  /** Prices for idle decisions, by provider id (defaults: `fly` and `ecs` models of CostModel). */
  readonly models?: Readonly<Record<string, CostModel.ProviderModel>>
  /** This router's identity in the session store (default: a random id). */
  readonly instanceId?: string
  /** Reconciliation at start-up and on a schedule (see `ReconcileOptions`); `false`: only when called. */
  readonly reconcile?: ReconcileOptions | false
  /** Called as a dispatch attempt reaches each step (tracing; the crash test stops the process here). */
  readonly onDispatchStep?: (progress: DispatchProgress) => Effect.Effect<void>
}

export const defaultReconcileInterval: Duration.Duration = Duration.minutes(10)
export const defaultGracePeriod: Duration.Duration = Duration.minutes(15)

const failsOver = (error: ComputeError.ComputeError): boolean =>
  error.isRetryable || error._tag === "CapacityUnavailable" || error._tag === "ProviderUnavailable"

const isGone = (status: Session.SessionStatus): boolean => status === "destroyed" || status === "failed"

interface SessionActivity {
  active: number
  /** When the last task on the session finished (for the idle gap seen by the next arrival). */
  idleSince: number | undefined
  asleep: boolean
  lastTask: TaskSpec.TaskSpec
}

/**
 * Per provider: creates under way (from just before the provider is asked until the session is recorded), and a
 * gate reconciliation closes while it destroys an orphan, so that no create can pick that compute up meanwhile.
 */
interface CreateGate {
  creates: number
  closed: boolean
  readonly latch: Effect.Latch
}

export const make = (
  options: RouterOptions = {}
): Effect.Effect<
  Service,
  never,
  | ProviderRegistry.ProviderRegistry
  | RoutingPolicy.RoutingPolicy
  | IdlePolicy.IdlePolicy
  | SessionStore
  | Scope.Scope
> =>
  Effect.gen(function* () {
    const registry = yield* ProviderRegistry.ProviderRegistry
    const routing = yield* RoutingPolicy.RoutingPolicy
    const idle = yield* IdlePolicy.IdlePolicy
    const store = yield* SessionStore
    const instanceId = options.instanceId ?? `router-${Math.random().toString(36).slice(2, 10)}`
    const models = options.models ?? { fly: CostModel.defaultFly, ecs: CostModel.defaultEcs }
    const permits = new Map(
      yield* Effect.forEach(registry.all, (p) =>
        Effect.map(Effect.makeSemaphore(options.concurrencyPerProvider ?? 32), (s) => [p.id, s] as const)
      )
    )
    const timers = yield* FiberMap.make<string>()
    const activity = new Map<string, SessionActivity>()
    const keyOf = (provider: string, sessionId: string) => `${provider}/${sessionId}`
    /** Task ids with a dispatch attempt of this router under way (their intents and compute are not touched). */
    const inFlight = new Map<string, number>()
    const gates = new Map<string, CreateGate>()
    for (const p of registry.all) {
      gates.set(p.id, { creates: 0, closed: false, latch: yield* Effect.makeLatch(true) })
    }
    const reconcileOptions = options.reconcile === false ? undefined : (options.reconcile ?? {})
    const gracePeriodMillis = Duration.toMillis(reconcileOptions?.gracePeriod ?? defaultGracePeriod)
    const orphanPolicy = reconcileOptions?.orphans ?? "destroy"
    /** When each unowned session was first seen unowned (by provider/session), for the grace period. */
    const unownedSince = new Map<string, number>()
    const reconcileLock = yield* Effect.makeSemaphore(1)
    const reportStep = (progress: DispatchProgress) =>
      options.onDispatchStep === undefined ? Effect.void : options.onDispatchStep(progress)

    // ---- idle

    const idleInput = (
      provider: ComputeProvider.ComputeProvider,
      session: Session.Session,
      task: TaskSpec.TaskSpec,
      since: number
    ) => {
      const model =
        models[provider.id] ?? (provider.id.startsWith("fly") ? CostModel.defaultFly : CostModel.defaultEcs)
      const prices = CostModel.idlePrices(model, task)
      return {
        repository: task.repository,
        provider: provider.id,
        sessionId: session.id,
        idleSinceMillis: since,
        runningMicroUsdPerSecond: prices.running,
        sleepingMicroUsdPerSecond: prices.sleeping,
        wakeCostMicroUsd: prices.wakeCost,
        wakeSeconds: prices.wakeSeconds,
        canSuspend: provider.capabilities.unsupported.suspend === undefined
      } satisfies IdlePolicy.IdleInput
    }

    const putToSleep = (
      provider: ComputeProvider.ComputeProvider,
      sessionId: string,
      action: "stop" | "suspend"
    ) =>
      Effect.gen(function* () {
        const canSuspend = provider.capabilities.unsupported.suspend === undefined
        yield* action === "suspend" && canSuspend ? provider.suspend(sessionId) : provider.stop(sessionId)
        const entry = activity.get(keyOf(provider.id, sessionId))
        if (entry !== undefined) entry.asleep = true
        yield* store.setSessionState(provider.id, sessionId, "asleep", yield* Clock.currentTimeMillis)
      })

    /** Hands an idle session to the idle policy: sleep after its timeout, pre-warm if it says so. */
    const scheduleIdle = (
      provider: ComputeProvider.ComputeProvider,
      session: Session.Session,
      task: TaskSpec.TaskSpec
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const decision = yield* idle.onIdle(idleInput(provider, session, task, now))
        yield* Effect.logDebug("idle decision").pipe(
          Effect.annotateLogs({
            provider: provider.id,
            session: session.id,
            action: decision.action,
            reason: decision.reason
          })
        )
        if (decision.action === "keep" || decision.action === "platform") return
        const action = decision.action
        const timer = Effect.gen(function* () {
          yield* Effect.sleep(Duration.millis(decision.afterMillis))
          yield* putToSleep(provider, session.id, action)
          if (decision.prewarmAfterMillis !== undefined) {
            yield* Effect.sleep(
              Duration.millis(Math.max(0, decision.prewarmAfterMillis - decision.afterMillis))
            )
            yield* provider.start(session.id)
            const entry = activity.get(keyOf(provider.id, session.id))
            if (entry !== undefined) entry.asleep = false
            yield* store.setSessionState(provider.id, session.id, "idle", yield* Clock.currentTimeMillis)
            yield* Effect.sleep(Duration.millis(decision.prewarmKeepAliveMillis ?? 0))
            yield* putToSleep(provider, session.id, action)
          }
        }).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("idle transition failed").pipe(
              Effect.annotateLogs({ provider: provider.id, session: session.id, error: error.message })
            )
          )
        )
        yield* FiberMap.run(timers, keyOf(provider.id, session.id), timer)
      })

    // ---- dispatch

    const taskBegins = (taskId: string) =>
      Effect.sync(() => inFlight.set(taskId, (inFlight.get(taskId) ?? 0) + 1))
    const taskEnds = (taskId: string) =>
      Effect.sync(() => {
        const left = (inFlight.get(taskId) ?? 1) - 1
        if (left === 0) inFlight.delete(taskId)
        else inFlight.set(taskId, left)
      })

    /** Enters the provider's create phase, waiting while reconciliation holds its gate closed. */
    const enterCreate = (gate: CreateGate): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (gate.closed) return Effect.zipRight(gate.latch.await, enterCreate(gate))
        gate.creates++
        return Effect.void
      })
    const leaveCreate = (gate: CreateGate) => Effect.sync(() => void gate.creates--)

    /**
     * Records the intent, then creates (inside the provider's create phase, which ends once the session is
     * recorded). A create that fails marks the intent failed.
     */
    const createRecorded = (
      provider: ComputeProvider.ComputeProvider,
      task: TaskSpec.TaskSpec,
      record: Omit<SessionRecord, "sessionId" | "state" | "updatedAtMillis">,
      dispatchedAt: number
    ) =>
      Effect.gen(function* () {
        const intent = { ...record, sessionId: "", state: "creating" as const, updatedAtMillis: dispatchedAt }
        yield* store.put(intent)
        yield* reportStep({ step: "intent", taskId: task.taskId, provider: provider.id })
        const gate = gates.get(provider.id)
        const create = Effect.gen(function* () {
          const created = yield* provider.create(task).pipe(
            Effect.locally(ComputeProvider.sleepManagedByHangar, idle.name !== "platform"),
            Effect.tapError(() =>
              Effect.flatMap(Clock.currentTimeMillis, (now) =>
                store.put({ ...intent, state: "failed", updatedAtMillis: now })
              ).pipe(Effect.catchAll((e) => Effect.logWarning(e.message)))
            )
          )
          yield* reportStep({
            step: "created",
            taskId: task.taskId,
            provider: provider.id,
            sessionId: created.id
          })
          yield* store.put({
            ...record,
            sessionId: created.id,
            state: "dispatching",
            updatedAtMillis: dispatchedAt
          })
          return created
        })
        return yield* gate === undefined
          ? create
          : Effect.acquireUseRelease(
              enterCreate(gate),
              () => create,
              () => leaveCreate(gate)
            )
      })

    const attempt = (
      provider: ComputeProvider.ComputeProvider,
      task: TaskSpec.TaskSpec,
      decision: RoutingPolicy.RouteDecision,
      dispatchedAt: number
    ) =>
      Effect.gen(function* () {
        const base = {
          taskId: task.taskId,
          provider: provider.id,
          repository: task.repository,
          region: task.region,
          owner: instanceId
        }
        const created = yield* createRecorded(provider, task, base, dispatchedAt)
        const record = { ...base, sessionId: created.id }
        const key = keyOf(provider.id, created.id)
        yield* FiberMap.remove(timers, key)
        const known = activity.get(key)
        const coldStart = known === undefined || known.asleep || created.status !== "running"
        if (known?.idleSince !== undefined && known.active === 0) {
          yield* idle.onArrival({
            repository: task.repository,
            provider: provider.id,
            idleGapMillis: Math.max(0, dispatchedAt - known.idleSince),
            atMillis: dispatchedAt
          })
        }
        const entry: SessionActivity = known ?? {
          active: 0,
          idleSince: undefined,
          asleep: false,
          lastTask: task
        }
        entry.active++
        entry.lastTask = task
        activity.set(key, entry)
        const finish = Effect.gen(function* () {
          entry.active--
          const now = yield* Clock.currentTimeMillis
          yield* store.put({ ...record, state: "idle", updatedAtMillis: now })
          if (entry.active === 0) {
            entry.idleSince = now
            yield* scheduleIdle(provider, created, task)
          }
          yield* reportStep({
            step: "idle",
            taskId: task.taskId,
            provider: provider.id,
            sessionId: created.id
          })
        })
        return yield* Effect.gen(function* () {
          const session = created.status === "running" ? created : yield* provider.start(created.id)
          entry.asleep = false
          const startedAt = yield* Clock.currentTimeMillis
          yield* store.put({ ...record, state: "running", updatedAtMillis: startedAt })
          yield* reportStep({
            step: "started",
            taskId: task.taskId,
            provider: provider.id,
            sessionId: session.id
          })
          const result =
            task.command === undefined
              ? new TaskResult.TaskResult({ exitCode: 0, stdout: "", stderr: "", durationMs: 0 })
              : yield* Effect.zipRight(
                  reportStep({
                    step: "exec",
                    taskId: task.taskId,
                    provider: provider.id,
                    sessionId: session.id
                  }),
                  provider.exec(
                    session.id,
                    task.command,
                    options.execTimeoutSeconds === undefined
                      ? {}
                      : { timeoutSeconds: options.execTimeoutSeconds }
                  )
                )
          const finishedAt = yield* Clock.currentTimeMillis
          return {
            taskId: task.taskId,
            provider: provider.id,
            sessionId: session.id,
            decision,
            result,
            failoverHistory: [] as ReadonlyArray<ComputeError.FailoverAttempt>,
            startLatencyMillis: startedAt - dispatchedAt,
            coldStart,
            startedAtMillis: startedAt,
            finishedAtMillis: finishedAt
          } satisfies DispatchResult
        }).pipe(Effect.ensuring(Effect.orDie(finish)))
      })

    /** An attempt, registered as under way for its whole length (reconciliation leaves its task alone). */
    const registeredAttempt = (
      provider: ComputeProvider.ComputeProvider,
      task: TaskSpec.TaskSpec,
      decision: RoutingPolicy.RouteDecision,
      dispatchedAt: number
    ) =>
      Effect.acquireUseRelease(
        taskBegins(task.taskId),
        () => attempt(provider, task, decision, dispatchedAt),
        () => taskEnds(task.taskId)
      )

    const dispatch = (input: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec) =>
      Effect.gen(function* () {
        const task =
          input instanceof TaskSpec.TaskSpec
            ? input
            : yield* TaskSpec.decodeUnknown(input).pipe(
                Effect.mapError((e) =>
                  ComputeError.fromParseError(e, { module: "Router", method: "dispatch" })
                )
              )
        const history: Array<ComputeError.FailoverAttempt> = []
        const excluded: Array<TaskSpec.ProviderId> = []
        for (;;) {
          const candidates = registry.all.map((p) => ({
            provider: p.id,
            capabilities: p.capabilities,
            available: true
          }))
          const decided = yield* Effect.either(routing.decide({ task, candidates, excluded }))
          if (decided._tag === "Left") {
            const error = decided.left
            if (history.length === 0) return yield* error
            return yield* new ComputeError.CapacityUnavailable({
              module: "Router",
              method: "dispatch",
              reason: "NoFeasibleProvider",
              region: task.region,
              detail: `every feasible provider failed for task ${task.taskId}`,
              failoverHistory: history
            })
          }
          const decision = decided.right
          yield* Effect.logInfo("route").pipe(
            Effect.annotateLogs({
              task: task.taskId,
              provider: decision.provider,
              policy: decision.policy,
              reason: decision.reason
            })
          )
          const provider = yield* registry.get(decision.provider)
          const dispatchedAt = yield* Clock.currentTimeMillis
          const permit = permits.get(provider.id)
          const run = registeredAttempt(provider, task, decision, dispatchedAt)
          const outcome = yield* Effect.either(permit === undefined ? run : permit.withPermits(1)(run))
          const at = yield* Clock.currentTimeMillis
          if (outcome._tag === "Right") {
            yield* routing.observe({ provider: provider.id, ok: true, atMillis: at })
            return { ...outcome.right, failoverHistory: history }
          }
          const error = outcome.left
          if (error._tag === "SessionStoreError") return yield* error
          yield* routing.observe({ provider: provider.id, ok: false, error: error._tag, atMillis: at })
          history.push({ provider: provider.id, error: error._tag, message: error.message })
          yield* Effect.logWarning("dispatch attempt failed").pipe(
            Effect.annotateLogs({ task: task.taskId, provider: provider.id, error: error.message })
          )
          if (!failsOver(error)) {
            return yield* error._tag === "CapacityUnavailable"
              ? new ComputeError.CapacityUnavailable({ ...error, failoverHistory: history })
              : error
          }
          excluded.push(provider.id)
        }
      }).pipe(Effect.withSpan("Router.dispatch", { captureStackTrace: false }))

    // ---- reconciliation

    /** Each provider's sessions; a provider whose listing fails is left out of this round (and logged). */
    const listAll = Effect.gen(function* () {
      const listed = new Map<string, ReadonlyArray<Session.Session>>()
      for (const provider of registry.all) {
        const sessions = yield* Effect.either(provider.list())
        if (sessions._tag === "Right") listed.set(provider.id, sessions.right)
        else
          yield* Effect.logWarning("reconcile: could not list sessions").pipe(
            Effect.annotateLogs({ provider: provider.id, error: sessions.left.message })
          )
      }
      return listed
    })

    const taskOf = (record: SessionRecord) =>
      new TaskSpec.TaskSpec({
        taskId: record.taskId as TaskSpec.TaskId,
        repository: record.repository as TaskSpec.Repository,
        region: record.region as TaskSpec.TaskSpec["region"]
      })

    /** Takes over a session a previous router left: owned by this router, asleep or handed to the idle policy. */
    const adopt = (
      provider: ComputeProvider.ComputeProvider,
      record: SessionRecord,
      session: Session.Session
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const asleep = Session.isAsleep(session.status)
        yield* store.put({
          ...record,
          sessionId: session.id,
          state: asleep ? "asleep" : "idle",
          owner: instanceId,
          updatedAtMillis: now
        })
        const key = keyOf(provider.id, session.id)
        if (activity.has(key)) return
        const task = taskOf(record)
        activity.set(key, { active: 0, idleSince: now, asleep, lastTask: task })
        if (!asleep) yield* scheduleIdle(provider, session, task)
      })

    /** Intents no dispatch of this router has under way: the create never completed. */
    const resolveIntents = (
      records: ReadonlyArray<SessionRecord>,
      listed: ReadonlyMap<string, ReadonlyArray<Session.Session>>
    ) =>
      Effect.gen(function* () {
        const adopted: Array<SessionRef & { taskId: string }> = []
        const failed: Array<{ taskId: string; provider: string }> = []
        for (const record of records) {
          if (record.state !== "creating" || inFlight.has(record.taskId)) continue
          const provider = Option.getOrUndefined(yield* Effect.option(registry.get(record.provider)))
          const sessions = listed.get(record.provider)
          // A provider this router cannot ask now: the intent waits for a round where it can.
          if (provider !== undefined && sessions === undefined) continue
          const found = sessions?.find((s) => s.taskId === record.taskId && !isGone(s.status))
          if (provider !== undefined && found !== undefined) {
            yield* adopt(provider, record, found)
            adopted.push({ taskId: record.taskId, provider: record.provider, sessionId: found.id })
          } else {
            const now = yield* Clock.currentTimeMillis
            yield* store.put({ ...record, state: "failed", owner: instanceId, updatedAtMillis: now })
            failed.push({ taskId: record.taskId, provider: record.provider })
          }
        }
        return { adopted, failed }
      })

    /** Records a previous router left mid-dispatch or idle: adopted if the compute is there, else released. */
    const adoptRecords = (records: ReadonlyArray<SessionRecord>) =>
      Effect.gen(function* () {
        const adopted: Array<string> = []
        const released: Array<string> = []
        for (const record of records) {
          if (record.state === "creating" || record.state === "asleep" || inFlight.has(record.taskId))
            continue
          if (activity.has(keyOf(record.provider, record.sessionId))) continue
          const provider = Option.getOrUndefined(yield* Effect.option(registry.get(record.provider)))
          if (provider === undefined) continue
          const session = yield* Effect.either(provider.get(record.sessionId))
          if (session._tag === "Left" && session.left._tag !== "SessionNotFound") continue
          if (session._tag === "Left" || isGone(session.right.status)) {
            const now = yield* Clock.currentTimeMillis
            yield* store.put({ ...record, state: "released", owner: instanceId, updatedAtMillis: now })
            released.push(record.taskId)
            continue
          }
          yield* adopt(provider, record, session.right)
          adopted.push(record.taskId)
        }
        return { adopted, released }
      })

    const ownedKeys = Effect.map(
      store.live(),
      (live) => new Set(live.filter((r) => r.sessionId !== "").map((r) => keyOf(r.provider, r.sessionId)))
    )

    /**
     * Applies the orphan policy to one session, with the provider's create gate closed: skipped (deferred) while a
     * create is under way there, and if a record owns it by now.
     */
    const actOnOrphan = (provider: ComputeProvider.ComputeProvider, session: Session.Session) => {
      const gate = gates.get(provider.id)
      const close = Effect.sync(() => {
        if (gate === undefined) return true
        if (gate.creates > 0 || gate.closed) return false
        gate.closed = true
        gate.latch.unsafeClose()
        return true
      })
      const open = Effect.sync(() => {
        if (gate === undefined) return
        gate.closed = false
        gate.latch.unsafeOpen()
      })
      const act = Effect.gen(function* () {
        if ((yield* ownedKeys).has(keyOf(provider.id, session.id)) || inFlight.has(session.taskId))
          return "owned" as const
        if (orphanPolicy === "sleep") {
          if (Session.isAsleep(session.status)) return "asleep" as const
          yield* provider.sleep(session.id)
          return "stopped" as const
        }
        yield* provider.destroy(session.id)
        return "destroyed" as const
      })
      return Effect.acquireUseRelease(
        close,
        (closed) => (closed ? act : Effect.succeed("deferred" as const)),
        (closed) => (closed ? open : Effect.void)
      )
    }

    /** Compute no record owns: destroyed (or put to sleep) once it has been unowned for the grace period. */
    const sweepOrphans = (listed: ReadonlyMap<string, ReadonlyArray<Session.Session>>) =>
      Effect.gen(function* () {
        const owned = yield* ownedKeys
        const now = yield* Clock.currentTimeMillis
        const seen = new Set<string>()
        const orphans: Array<Orphan> = []
        const destroyed: Array<SessionRef> = []
        const stopped: Array<SessionRef> = []
        const deferred: Array<SessionRef> = []
        for (const provider of registry.all) {
          for (const session of listed.get(provider.id) ?? []) {
            const key = keyOf(provider.id, session.id)
            if (isGone(session.status) || owned.has(key) || inFlight.has(session.taskId)) continue
            seen.add(key)
            const since = unownedSince.get(key) ?? now
            unownedSince.set(key, since)
            const ref = { provider: provider.id, sessionId: session.id }
            orphans.push({
              ...ref,
              taskId: session.taskId,
              status: session.status,
              unownedForMillis: now - since
            })
            if (now - since < gracePeriodMillis) {
              deferred.push(ref)
              continue
            }
            const outcome = yield* Effect.either(actOnOrphan(provider, session))
            if (outcome._tag === "Left") {
              yield* Effect.logWarning("reconcile: could not act on an orphan").pipe(
                Effect.annotateLogs({
                  provider: provider.id,
                  session: session.id,
                  error: outcome.left.message
                })
              )
              deferred.push(ref)
            } else if (outcome.right === "destroyed") destroyed.push(ref)
            else if (outcome.right === "stopped") stopped.push(ref)
            else if (outcome.right === "deferred") deferred.push(ref)
            if (outcome._tag === "Right" && outcome.right !== "deferred") unownedSince.delete(key)
          }
        }
        for (const [provider] of listed) {
          for (const key of unownedSince.keys())
            if (key.startsWith(`${provider}/`) && !seen.has(key)) unownedSince.delete(key)
        }
        return { orphans, destroyed, stopped, deferred }
      })

    const reconcile = () =>
      reconcileLock.withPermits(1)(
        Effect.gen(function* () {
          const listed = yield* listAll
          const intents = yield* resolveIntents(yield* store.live(), listed)
          const records = yield* adoptRecords(yield* store.live())
          const sweep = yield* sweepOrphans(listed)
          const report: ReconcileReport = {
            stopped: sweep.stopped,
            adopted: [...intents.adopted.map((i) => i.taskId), ...records.adopted],
            orphans: sweep.orphans,
            destroyed: sweep.destroyed,
            deferred: sweep.deferred,
            intentsAdopted: intents.adopted,
            intentsFailed: intents.failed,
            released: records.released
          }
          yield* Effect.logInfo("reconciled").pipe(
            Effect.annotateLogs({
              orphans: report.orphans.length,
              destroyed: report.destroyed.length,
              stopped: report.stopped.length,
              deferred: report.deferred.length,
              adopted: report.adopted.length,
              intentsAdopted: report.intentsAdopted.length,
              intentsFailed: report.intentsFailed.length,
              released: report.released.length
            })
          )
          return report
        })
      )

    /** A round on the Router's own schedule: its report to `onReport`, its failure logged. */
    const scheduledRound = Effect.gen(function* () {
      const report = yield* reconcile()
      if (reconcileOptions?.onReport !== undefined) yield* reconcileOptions.onReport(report)
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logWarning("reconcile failed; the next round tries again").pipe(Effect.annotateLogs({ cause }))
      )
    )

    const release = () =>
      Effect.gen(function* () {
        yield* FiberMap.clear(timers)
        for (const [key, entry] of activity) {
          if (entry.asleep) continue
          const [providerId = "", ...rest] = key.split("/")
          const sessionId = rest.join("/")
          const provider = yield* Effect.option(registry.get(providerId))
          if (Option.isNone(provider)) continue
          yield* putToSleep(provider.value, sessionId, "suspend").pipe(
            Effect.catchAll((error) => Effect.logWarning(`could not release ${key}: ${error.message}`))
          )
        }
      })

    // ---- lifecycle

    yield* Effect.addFinalizer(() => release())
    // Forked after the finalizer above, so that closing the scope interrupts rounds before releasing.
    if (reconcileOptions !== undefined) {
      const interval = Duration.decode(reconcileOptions.interval ?? defaultReconcileInterval)
      const periodic = Duration.isFinite(interval)
        ? Effect.repeat(Effect.delay(scheduledRound, interval), Schedule.forever)
        : Effect.void
      yield* Effect.forkScoped(
        reconcileOptions.atStartup === false ? periodic : Effect.zipRight(scheduledRound, periodic)
      )
    }
    return { dispatch, reconcile, release } satisfies Service
  })

export const layer = (options: RouterOptions = {}) => Layer.scoped(Router, make(options))
