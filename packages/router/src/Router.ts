/**
 * `Router.dispatch(task)`: decide where the task runs, create or reuse its session, make sure it runs, execute
 * the command, then hand the idle machine to the idle policy. Retryable and capacity failures fail over to the
 * next feasible provider, with the history kept on the final error. Every decision is logged with its reason;
 * each provider has a concurrency limit; `reconcile()` stops compute no live session owns; closing the Router's
 * scope (graceful shutdown) interrupts idle timers and puts to sleep what this router started.
 */
import {
  ComputeError,
  ComputeProvider,
  IdlePolicy,
  ProviderRegistry,
  RoutingPolicy,
  type Session,
  TaskResult,
  TaskSpec
} from "@hangar/core"
import { Clock, Context, Duration, Effect, FiberMap, Layer, Option, type Scope } from "effect"
import * as CostModel from "./CostModel.js"
import { SessionStore, type SessionStoreError } from "./SessionStore.js"

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

export interface ReconcileReport {
  /** Sessions found on providers that no live record owns, which were stopped. */
  readonly stopped: ReadonlyArray<{ readonly provider: string; readonly sessionId: string }>
  /** Records left mid-dispatch by an earlier router, adopted and handed to the idle policy. */
  readonly adopted: ReadonlyArray<string>
}

export type DispatchError = ComputeError.ComputeError | SessionStoreError

export interface Service {
  readonly dispatch: (
    task: TaskSpec.TaskSpecInput | TaskSpec.TaskSpec
  ) => Effect.Effect<DispatchResult, DispatchError>
  readonly reconcile: () => Effect.Effect<ReconcileReport, DispatchError>
  /** Puts every session this router holds to sleep (stops ECS tasks) and cancels idle timers. */
  readonly release: () => Effect.Effect<void>
}

export class Router extends Context.Tag("@hangar/router/Router")<Router, Service>() {}

export interface RouterOptions {
  /** Concurrent dispatches per provider (default 32). */
  readonly concurrencyPerProvider?: number
  readonly execTimeoutSeconds?: number
  /** Prices for idle decisions, by provider id (defaults: `fly` and `ecs` models of CostModel). */
  readonly models?: Readonly<Record<string, CostModel.ProviderModel>>
  /** This router's identity in the session store (default: a random id). */
  readonly instanceId?: string
}

const failsOver = (error: ComputeError.ComputeError): boolean =>
  error.isRetryable || error._tag === "CapacityUnavailable" || error._tag === "ProviderUnavailable"

interface SessionActivity {
  active: number
  /** When the last task on the session finished (for the idle gap seen by the next arrival). */
  idleSince: number | undefined
  asleep: boolean
  lastTask: TaskSpec.TaskSpec
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

    const attempt = (
      provider: ComputeProvider.ComputeProvider,
      task: TaskSpec.TaskSpec,
      decision: RoutingPolicy.RouteDecision,
      dispatchedAt: number
    ) =>
      Effect.gen(function* () {
        const created = yield* provider
          .create(task)
          .pipe(Effect.locally(ComputeProvider.sleepManagedByHangar, idle.name !== "platform"))
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
        const record = {
          taskId: task.taskId,
          sessionId: created.id,
          provider: provider.id,
          repository: task.repository,
          region: task.region,
          owner: instanceId
        }
        const finish = Effect.gen(function* () {
          entry.active--
          const now = yield* Clock.currentTimeMillis
          yield* store.put({ ...record, state: "idle", updatedAtMillis: now })
          if (entry.active === 0) {
            entry.idleSince = now
            yield* scheduleIdle(provider, created, task)
          }
        })
        return yield* Effect.gen(function* () {
          yield* store.put({ ...record, state: "dispatching", updatedAtMillis: dispatchedAt })
          const session = created.status === "running" ? created : yield* provider.start(created.id)
          entry.asleep = false
          const startedAt = yield* Clock.currentTimeMillis
          yield* store.put({ ...record, state: "running", updatedAtMillis: startedAt })
          const result =
            task.command === undefined
              ? new TaskResult.TaskResult({ exitCode: 0, stdout: "", stderr: "", durationMs: 0 })
              : yield* provider.exec(
                  session.id,
                  task.command,
                  options.execTimeoutSeconds === undefined
                    ? {}
                    : { timeoutSeconds: options.execTimeoutSeconds }
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
          const run = attempt(provider, task, decision, dispatchedAt)
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

    const reconcile = () =>
      Effect.gen(function* () {
        const live = yield* store.live()
        const owned = new Set(live.map((r) => keyOf(r.provider, r.sessionId)))
        const stopped: Array<{ provider: string; sessionId: string }> = []
        for (const provider of registry.all) {
          const sessions = yield* provider.list()
          for (const session of sessions) {
            if (owned.has(keyOf(provider.id, session.id))) continue
            if (session.status === "stopped" || session.status === "destroyed" || session.status === "failed")
              continue
            yield* provider.stop(session.id)
            stopped.push({ provider: provider.id, sessionId: session.id })
          }
        }
        const adopted: Array<string> = []
        for (const record of live) {
          if (record.owner === instanceId || record.state === "asleep") continue
          const provider = yield* registry.get(record.provider)
          const session = yield* Effect.option(provider.get(record.sessionId))
          const now = yield* Clock.currentTimeMillis
          if (Option.isNone(session)) {
            yield* store.put({ ...record, state: "released", owner: instanceId, updatedAtMillis: now })
            continue
          }
          yield* store.put({ ...record, state: "idle", owner: instanceId, updatedAtMillis: now })
          const task = new TaskSpec.TaskSpec({
            taskId: record.taskId as TaskSpec.TaskId,
            repository: record.repository as TaskSpec.Repository,
            region: record.region as TaskSpec.TaskSpec["region"]
          })
          activity.set(keyOf(provider.id, record.sessionId), {
            active: 0,
            idleSince: now,
            asleep: false,
            lastTask: task
          })
          yield* scheduleIdle(provider, session.value, task)
          adopted.push(record.taskId)
        }
        yield* Effect.logInfo("reconciled").pipe(
          Effect.annotateLogs({ stopped: stopped.length, adopted: adopted.length })
        )
        return { stopped, adopted } satisfies ReconcileReport
      })

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

    yield* Effect.addFinalizer(() => release())
    return { dispatch, reconcile, release } satisfies Service
  })

export const layer = (options: RouterOptions = {}) => Layer.scoped(Router, make(options))
