/**
 * What hangar-serve does with tasks, over the Router, the task book and the session store:
 *
 * - `submit` records the task (idempotent by task id) and, if this instance can take its lease, runs it in the
 *   background; a repeat, here or on another instance, answers the same task and runs nothing.
 * - A run dispatches through the Router. Each step is written to the task's row under the lease's fencing token;
 *   the command is sent only after "exec" was recorded under a live lease, so a task is never sent twice: an
 *   instance that adopts a task whose holder died after that point records it failed ("result unknown") instead.
 * - A heartbeat renews this instance's leases and adopts tasks whose lease expired (a dead instance's).
 * - Reconciliation runs at start-up and on the configured interval, under an advisory lock on Postgres so that
 *   one instance reconciles at a time, and leaves alone what another live instance holds (`heldElsewhere`).
 */
import { SqlClient } from "@effect/sql"
import { type ComputeError, RoutingPolicy, TaskResult, TaskSpec } from "@hangar/core"
import { Router, SessionStore } from "@hangar/router"
import { PostgresStore } from "@hangar/router/postgres"
import { Clock, Context, Data, Duration, Effect, FiberSet, Option, Schedule, Schema } from "effect"
import type { ReconcileView, TaskView } from "./Api.js"
import type { Metrics } from "./Metrics.js"
import type { Lease, Outcome, TaskBook, TaskBookError, TaskRow } from "./TaskBook.js"

export interface Options {
  readonly instanceId: string
  readonly heartbeatMillis: number
  readonly reconcileIntervalMillis: number
  readonly graceMillis: number
  readonly orphans: "destroy" | "sleep"
  readonly concurrencyPerProvider: number
  /** Several instances share the store: reconcile under the advisory lock. */
  readonly shared: boolean
  /** Tasks adopted per heartbeat at most. */
  readonly adoptPerBeat?: number
}

export class TaskConflict extends Data.TaggedError("TaskConflict")<{ readonly taskId: string }> {
  override get message(): string {
    return `task ${this.taskId} was already submitted with another spec; a task id names one task`
  }
}

export class ReconcileBusy extends Data.TaggedError("ReconcileBusy")<{}> {
  override get message(): string {
    return "another instance is reconciling now; try again when it is done"
  }
}

/** The holder lost the task's lease (another instance claimed it): the dispatch stops here. */
class LeaseLost extends Data.TaggedError("LeaseLost")<{ readonly taskId: string; readonly step: string }> {}

export interface Service {
  readonly instanceId: string
  readonly submit: (
    spec: TaskSpec.TaskSpec
  ) => Effect.Effect<{ readonly task: TaskView; readonly created: boolean }, TaskBookError | TaskConflict>
  readonly get: (taskId: string) => Effect.Effect<Option.Option<TaskView>, TaskBookError>
  readonly sessions: () => Effect.Effect<
    ReadonlyArray<SessionStore.SessionRecord>,
    SessionStore.SessionStoreError
  >
  readonly reconcile: () => Effect.Effect<typeof ReconcileView.Type, ReconcileBusy | Router.DispatchError>
  /** The store answers and the start-up round ran. */
  readonly ready: () => Effect.Effect<boolean>
  readonly metrics: () => Effect.Effect<string, TaskBookError | SessionStore.SessionStoreError>
  readonly metricsContentType: string
}

export class TaskService extends Context.Tag("@hangar/server/TaskService")<TaskService, Service>() {}

const encodeDecision = Schema.encodeSync(RoutingPolicy.RouteDecision)
const encodeSpec = Schema.encodeSync(TaskSpec.TaskSpec)
const decodeSpec = Schema.decodeUnknown(TaskSpec.TaskSpec)
const encodeResult = Schema.encodeSync(TaskResult.TaskResult)

const parseJson = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text))

/** A row as the API shows it. */
export const viewOf = (row: TaskRow): TaskView => {
  const decision = parseJson(row.decision) as TaskView["decision"]
  const result = parseJson(row.result) as TaskView["result"]
  return {
    taskId: row.taskId,
    state: row.state,
    attempts: row.attempts,
    createdAtMillis: row.createdAt,
    updatedAtMillis: row.updatedAt,
    ...(row.step === undefined ? {} : { step: row.step }),
    ...(row.provider === undefined ? {} : { provider: row.provider }),
    ...(decision === undefined ? {} : { decision }),
    ...(result === undefined ? {} : { result }),
    ...(row.error === undefined ? {} : { error: row.error }),
    ...(row.owner === undefined || (row.state !== "queued" && row.state !== "running")
      ? {}
      : { owner: row.owner }),
    ...(row.startLatencyMillis === undefined ? {} : { startLatencyMillis: row.startLatencyMillis })
  }
}

const unknownResult =
  "the instance that sent this task's command lost its lease (it died or stalled past the lease) before recording the outcome; the result is unknown and the command is not sent again"

/** Dispatch steps recorded on the task's row; `exec` is recorded by `markExec` before the command is sent. */
const recordedSteps = new Set<Router.DispatchStep>(["intent", "created", "started"])

const reconcileLockKey = 0x68726563

/** What every part of the service works with: its options, the book, the Router and what this instance holds. */
interface State {
  readonly options: Options
  readonly me: string
  readonly book: TaskBook
  readonly metrics: Metrics
  /** Leases of the tasks this instance is running, by task id. */
  readonly held: Map<string, Lease>
  readonly runs: FiberSet.FiberSet
  readonly store: SessionStore.Service
  readonly sql: SqlClient.SqlClient
  router: Router.Service
  ready: boolean
}

// ---- the router's view of the leases

/** Each dispatch step written under the task's lease; the command is not sent unless "exec" was recorded. */
const onDispatchStep = (state: State) => (progress: Router.DispatchProgress) =>
  Effect.gen(function* () {
    const lease = state.held.get(progress.taskId)
    if (lease === undefined) return
    const now = yield* Clock.currentTimeMillis
    const kept =
      progress.step === "exec"
        ? yield* state.book.markExec(lease, now)
        : recordedSteps.has(progress.step)
          ? yield* state.book.step(lease, progress.step, now)
          : true
    if (!kept) return yield* Effect.die(new LeaseLost({ taskId: progress.taskId, step: progress.step }))
    if (progress.step === "exec")
      yield* Effect.logInfo("sending the command").pipe(
        Effect.annotateLogs({ task: progress.taskId, provider: progress.provider })
      )
  }).pipe(Effect.catchTag("TaskBookError", (e) => Effect.die(e)))

/** Task ids another instance holds, for the Router's reconciliation. */
const heldElsewhere = (state: State) => () =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => state.book.heldElsewhere(now)).pipe(
    Effect.mapError((e) => new SessionStore.SessionStoreError({ operation: e.operation, detail: e.detail }))
  )

// ---- running a task under its lease

type Finished = { readonly provider: string; readonly outcome: "succeeded" | "failed" | "unknown" }

const finish = (state: State, lease: Lease, outcome: Outcome, metric: Finished) =>
  Effect.gen(function* () {
    const recorded = yield* state.book.complete(lease, outcome, yield* Clock.currentTimeMillis)
    if (recorded) state.metrics.taskFinished(metric.provider, metric.outcome)
    else
      yield* Effect.logWarning("task outcome not recorded: another instance holds the task now").pipe(
        Effect.annotateLogs({ taskId: lease.taskId })
      )
  })

const dispatched = (state: State, lease: Lease, done: Router.DispatchResult) => {
  state.metrics.startLatency(done.startLatencyMillis)
  state.metrics.failovers(done.failoverHistory.length)
  const outcome = done.result.exitCode === 0 ? ("succeeded" as const) : ("failed" as const)
  const decision = encodeDecision(done.decision)
  return finish(
    state,
    lease,
    {
      state: outcome,
      provider: done.provider,
      decision: JSON.stringify({
        provider: decision.provider,
        policy: decision.policy,
        reason: decision.reason,
        fallbacks: decision.fallbacks
      }),
      result: JSON.stringify(encodeResult(done.result)),
      startLatencyMillis: done.startLatencyMillis,
      ...(outcome === "failed" ? { error: `the command exited with ${done.result.exitCode}` } : {})
    },
    { provider: done.provider, outcome }
  )
}

const failed = (state: State, lease: Lease, error: Router.DispatchError) => {
  const history =
    "failoverHistory" in error ? (error.failoverHistory as ReadonlyArray<ComputeError.FailoverAttempt>) : []
  state.metrics.failovers(history.length)
  const provider = history.at(-1)?.provider ?? "none"
  return finish(state, lease, { state: "failed", error: error.message }, { provider, outcome: "failed" })
}

/** One task through the Router; a task whose command a previous holder may have sent is not sent again. */
const run = (state: State, lease: Lease) =>
  Effect.gen(function* () {
    if (lease.row.execSent)
      return yield* finish(
        state,
        lease,
        { state: "failed", error: unknownResult },
        { provider: lease.row.provider ?? "none", outcome: "unknown" }
      )
    const spec = yield* decodeSpec(JSON.parse(lease.row.spec))
    const outcome = yield* Effect.either(state.router.dispatch(spec))
    if (outcome._tag === "Right") yield* dispatched(state, lease, outcome.right)
    else yield* failed(state, lease, outcome.left)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning("task run stopped").pipe(Effect.annotateLogs({ taskId: lease.taskId, cause }))
    ),
    Effect.ensuring(Effect.sync(() => state.held.delete(lease.taskId)))
  )

const start = (state: State, lease: Lease) =>
  Effect.suspend(() => {
    state.held.set(lease.taskId, lease)
    return FiberSet.run(state.runs, run(state, lease))
  })

// ---- heartbeat: leases renewed, expired ones adopted

const beat = (state: State) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    yield* state.book.heartbeat(now, [...state.held.values()])
    const adopted = yield* state.book.claimExpired(now, state.options.adoptPerBeat ?? 64)
    for (const lease of adopted) if (!state.held.has(lease.taskId)) yield* start(state, lease)
  }).pipe(Effect.catchAll((e) => Effect.logWarning(e.message)))

// ---- reconciliation, one instance at a time

const locked = <A, E, R>(state: State, effect: Effect.Effect<A, E, R>) =>
  state.options.shared
    ? Effect.provideService(
        PostgresStore.withAdvisoryLock(reconcileLockKey)(effect),
        SqlClient.SqlClient,
        state.sql
      )
    : Effect.map(effect, Option.some)

const reconcile = (state: State) =>
  Effect.gen(function* () {
    const report = yield* locked(state, state.router.reconcile())
    if (Option.isNone(report)) return yield* Effect.fail(new ReconcileBusy())
    state.metrics.reconciled(report.value)
    const r = report.value
    return {
      instanceId: state.me,
      adopted: r.adopted,
      released: r.released,
      destroyed: r.destroyed,
      stopped: r.stopped,
      deferred: r.deferred,
      intentsFailed: r.intentsFailed,
      orphans: r.orphans.length
    }
  })

const scheduledReconcile = (state: State) =>
  reconcile(state).pipe(
    Effect.catchAll((e) => (e._tag === "ReconcileBusy" ? Effect.void : Effect.logWarning(e.message)))
  )

/** The heartbeat, and the reconciliation rounds (at start-up, then every interval), forked into the scope. */
const startSchedules = (state: State) =>
  Effect.gen(function* () {
    const every = (millis: number, effect: Effect.Effect<void>) =>
      Effect.repeat(Effect.delay(effect, Duration.millis(millis)), Schedule.forever)
    yield* beat(state)
    yield* Effect.forkScoped(every(state.options.heartbeatMillis, beat(state)))
    const firstRound = Effect.zipRight(
      scheduledReconcile(state),
      Effect.sync(() => {
        state.ready = true
      })
    )
    yield* Effect.forkScoped(
      Effect.zipRight(firstRound, every(state.options.reconcileIntervalMillis, scheduledReconcile(state)))
    )
  })

// ---- the API's operations

const submit = (state: State) => (spec: TaskSpec.TaskSpec) =>
  Effect.gen(function* () {
    const text = JSON.stringify(encodeSpec(spec))
    const now = yield* Clock.currentTimeMillis
    const submitted = yield* state.book.submit(spec.taskId, text, now)
    if (!submitted.created && submitted.row.spec !== text)
      return yield* Effect.fail(new TaskConflict({ taskId: spec.taskId }))
    if (!submitted.created) return { task: viewOf(submitted.row), created: false }
    const lease = yield* state.book.claim(spec.taskId, now)
    if (Option.isSome(lease)) yield* start(state, lease.value)
    return { task: viewOf(Option.getOrElse(lease, () => submitted).row), created: true }
  })

const metricsText = (state: State) => () =>
  Effect.gen(function* () {
    const sessionsByState = new Map<string, number>()
    for (const record of yield* state.store.live())
      sessionsByState.set(record.state, (sessionsByState.get(record.state) ?? 0) + 1)
    const tasksByState = yield* state.book.countByState()
    return yield* Effect.promise(() => state.metrics.render({ sessionsByState, tasksByState }))
  })

const ready = (state: State) => () =>
  state.ready
    ? Effect.flatMap(Clock.currentTimeMillis, (now) => state.book.liveInstances(now)).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
    : Effect.succeed(false)

/** Builds the state and the Router over it, starts the schedules, and wires the API's operations. */
export const make = (
  options: Options,
  book: TaskBook,
  metrics: Metrics
): Effect.Effect<Service, never, Router.Requirements | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const state: State = {
      options,
      me: options.instanceId,
      book,
      metrics,
      held: new Map(),
      runs: yield* FiberSet.make(),
      store: yield* SessionStore.SessionStore,
      sql: yield* SqlClient.SqlClient,
      router: undefined as unknown as Router.Service,
      ready: false
    }
    state.router = yield* Router.make({
      instanceId: options.instanceId,
      concurrencyPerProvider: options.concurrencyPerProvider,
      reconcile: false,
      onDispatchStep: onDispatchStep(state),
      heldElsewhere: heldElsewhere(state)
    })
    yield* startSchedules(state)
    return {
      instanceId: options.instanceId,
      submit: submit(state),
      get: (taskId) => Effect.map(book.get(taskId), Option.map(viewOf)),
      sessions: () => state.store.live(),
      reconcile: () => reconcile(state),
      ready: ready(state),
      metrics: metricsText(state),
      metricsContentType: metrics.contentType
    } satisfies Service
  })
