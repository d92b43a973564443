/**
 * One dispatch attempt on one provider, through its steps: `intent` (recorded before the provider is asked),
 * `created`, `started`, `exec`, `idle` (handed to the idle policy). The task id is registered as under way for the
 * whole attempt, so that reconciliation leaves its intent and compute alone.
 */
import { ComputeProvider, type RoutingPolicy, type Session, TaskResult, type TaskSpec } from "@hangar/core"
import { Clock, Effect, FiberMap } from "effect"
import * as Dispatching from "../Dispatching.js"
import type { DispatchError } from "../Router.js"
import type { SessionRecord } from "../SessionStore.js"
import * as CreateGate from "./CreateGate.js"
import { scheduleIdle } from "./IdleHandOff.js"
import { keyOf, type RouterState, reportStep, type SessionActivity } from "./RouterState.js"

/** What every record of an attempt carries: the task, the provider, this router. */
type AttemptRecord = Omit<SessionRecord, "sessionId" | "state" | "updatedAtMillis">

const taskBegins = (state: RouterState, taskId: string) =>
  Effect.sync(() => state.inFlight.set(taskId, (state.inFlight.get(taskId) ?? 0) + 1))

const taskEnds = (state: RouterState, taskId: string) =>
  Effect.sync(() => {
    const left = (state.inFlight.get(taskId) ?? 1) - 1
    if (left === 0) state.inFlight.delete(taskId)
    else state.inFlight.set(taskId, left)
  })

/**
 * Records the intent, then creates (inside the provider's create phase, which ends once the session is
 * recorded). A create that fails marks the intent failed.
 */
const createRecorded = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  task: TaskSpec.TaskSpec,
  record: AttemptRecord,
  dispatchedAt: number
) =>
  Effect.gen(function* () {
    const intent = { ...record, sessionId: "", state: "creating" as const, updatedAtMillis: dispatchedAt }
    yield* state.store.put(intent)
    yield* reportStep(state, { step: "intent", taskId: task.taskId, provider: provider.id })
    const create = Effect.gen(function* () {
      const created = yield* provider.create(task).pipe(
        Effect.locally(ComputeProvider.sleepManagedByHangar, state.idle.name !== "platform"),
        Effect.tapError(() =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            state.store.put({ ...intent, state: "failed", updatedAtMillis: now })
          ).pipe(Effect.catchAll((e) => Effect.logWarning(e.message)))
        )
      )
      yield* reportStep(state, {
        step: "created",
        taskId: task.taskId,
        provider: provider.id,
        sessionId: created.id
      })
      yield* state.store.put({
        ...record,
        sessionId: created.id,
        state: "dispatching",
        updatedAtMillis: dispatchedAt
      })
      return created
    })
    return yield* CreateGate.withinCreate(state.gates.get(provider.id), create)
  })

/** A session an attempt holds for its task, from `created` until the task is done with it. */
interface HeldSession {
  readonly provider: ComputeProvider.ComputeProvider
  readonly task: TaskSpec.TaskSpec
  readonly created: Session.Session
  readonly record: AttemptRecord & { readonly sessionId: string }
  readonly entry: SessionActivity
}

/**
 * Takes hold of the created session for this task: cancels its idle timer, tells the idle policy of an arrival
 * after an idle gap, counts the task as active on it. Whether the start is cold is decided here.
 */
const holdSession = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  task: TaskSpec.TaskSpec,
  created: Session.Session,
  dispatchedAt: number
) =>
  Effect.gen(function* () {
    const key = keyOf(provider.id, created.id)
    yield* FiberMap.remove(state.timers, key)
    const known = state.activity.get(key)
    const coldStart = Dispatching.coldStart(known, created.status === "running")
    if (known?.idleSince !== undefined && known.active === 0) {
      yield* state.idle.onArrival({
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
    state.activity.set(key, entry)
    return { entry, coldStart }
  })

/** The task is done with the session: recorded idle, and handed to the idle policy if no other task holds it. */
const finishOnSession = (state: RouterState, { created, entry, provider, record, task }: HeldSession) =>
  Effect.gen(function* () {
    entry.active--
    const now = yield* Clock.currentTimeMillis
    yield* state.store.put({ ...record, state: "idle", updatedAtMillis: now })
    if (entry.active === 0) {
      entry.idleSince = now
      yield* scheduleIdle(state, provider, created, task)
    }
    yield* reportStep(state, {
      step: "idle",
      taskId: task.taskId,
      provider: provider.id,
      sessionId: created.id
    })
  })

/** Starts the session if it is not running, records it running, and runs the task's command on it. */
const runOnSession = (state: RouterState, { created, entry, provider, record, task }: HeldSession) =>
  Effect.gen(function* () {
    const session = created.status === "running" ? created : yield* provider.start(created.id)
    entry.asleep = false
    const startedAt = yield* Clock.currentTimeMillis
    yield* state.store.put({ ...record, state: "running", updatedAtMillis: startedAt })
    const step = { taskId: task.taskId, provider: provider.id, sessionId: session.id }
    yield* reportStep(state, { step: "started", ...step })
    const timeoutSeconds = state.options.execTimeoutSeconds
    const result =
      task.command === undefined
        ? new TaskResult.TaskResult({ exitCode: 0, stdout: "", stderr: "", durationMs: 0 })
        : yield* Effect.zipRight(
            reportStep(state, { step: "exec", ...step }),
            provider.exec(session.id, task.command, timeoutSeconds === undefined ? {} : { timeoutSeconds })
          )
    return { session, result, startedAt, finishedAt: yield* Clock.currentTimeMillis }
  })

const attempt = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  task: TaskSpec.TaskSpec,
  decision: RoutingPolicy.RouteDecision,
  dispatchedAt: number
) =>
  Effect.gen(function* () {
    const base: AttemptRecord = {
      taskId: task.taskId,
      provider: provider.id,
      repository: task.repository,
      region: task.region,
      owner: state.instanceId
    }
    const created = yield* createRecorded(state, provider, task, base, dispatchedAt)
    const { entry, coldStart } = yield* holdSession(state, provider, task, created, dispatchedAt)
    const held: HeldSession = { provider, task, created, record: { ...base, sessionId: created.id }, entry }
    const ran = yield* runOnSession(state, held).pipe(
      Effect.ensuring(Effect.orDie(finishOnSession(state, held)))
    )
    return {
      taskId: task.taskId,
      provider: provider.id,
      sessionId: ran.session.id,
      decision,
      result: ran.result,
      coldStart,
      startedAtMillis: ran.startedAt,
      finishedAtMillis: ran.finishedAt
    } satisfies Dispatching.AttemptResult
  })

/** An attempt, registered as under way for its whole length (reconciliation leaves its task alone). */
export const registeredAttempt = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  task: TaskSpec.TaskSpec,
  decision: RoutingPolicy.RouteDecision,
  dispatchedAt: number
): Effect.Effect<Dispatching.AttemptResult, DispatchError> =>
  Effect.acquireUseRelease(
    taskBegins(state, task.taskId),
    () => attempt(state, provider, task, decision, dispatchedAt),
    () => taskEnds(state, task.taskId)
  )
