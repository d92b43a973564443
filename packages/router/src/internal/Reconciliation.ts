/**
 * Reconciliation rounds (at start-up, on a schedule, or when called; never overlapping): intents whose create never
 * completed are resolved, records a previous router left are adopted or released, and compute no record owns is
 * destroyed (or put to sleep) once it has stayed unowned for the grace period. What a dispatch of this router has
 * under way is never touched.
 */
import { type ComputeProvider, Session, TaskSpec } from "@hangar/core"
import { Clock, Duration, Effect, Option, Schedule, type Scope } from "effect"
import type { DispatchError, Orphan, ReconcileReport, SessionRef } from "../Router.js"
import type { SessionRecord } from "../SessionStore.js"
import * as CreateGate from "./CreateGate.js"
import { scheduleIdle } from "./IdleHandOff.js"
import { defaultReconcileInterval, keyOf, type RouterState } from "./RouterState.js"

type Listed = ReadonlyMap<string, ReadonlyArray<Session.Session>>

const isGone = (status: Session.SessionStatus): boolean => status === "destroyed" || status === "failed"

// ---- what there is

/** Each provider's sessions; a provider whose listing fails is left out of this round (and logged). */
const listAll = (state: RouterState) =>
  Effect.gen(function* () {
    const listed = new Map<string, ReadonlyArray<Session.Session>>()
    for (const provider of state.registry.all) {
      const sessions = yield* Effect.either(provider.list())
      if (sessions._tag === "Right") listed.set(provider.id, sessions.right)
      else
        yield* Effect.logWarning("reconcile: could not list sessions").pipe(
          Effect.annotateLogs({ provider: provider.id, error: sessions.left.message })
        )
    }
    return listed
  })

/** Keys of the sessions live records own. */
const ownedKeys = (state: RouterState) =>
  Effect.map(
    state.store.live(),
    (live) => new Set(live.filter((r) => r.sessionId !== "").map((r) => keyOf(r.provider, r.sessionId)))
  )

/** Task ids another live instance holds (none with one router per store). */
const heldElsewhere = (state: RouterState) =>
  state.options.heldElsewhere === undefined
    ? Effect.succeed<ReadonlySet<string>>(new Set())
    : state.options.heldElsewhere()

const providerOf = (state: RouterState, record: SessionRecord) =>
  Effect.map(Effect.option(state.registry.get(record.provider)), Option.getOrUndefined)

// ---- intents and records

const taskOf = (record: SessionRecord) =>
  new TaskSpec.TaskSpec({
    taskId: record.taskId as TaskSpec.TaskId,
    repository: record.repository as TaskSpec.Repository,
    region: record.region as TaskSpec.TaskSpec["region"]
  })

/** Takes over a session a previous router left: owned by this router, asleep or handed to the idle policy. */
const adopt = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  record: SessionRecord,
  session: Session.Session
) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const asleep = Session.isAsleep(session.status)
    yield* state.store.put({
      ...record,
      sessionId: session.id,
      state: asleep ? "asleep" : "idle",
      owner: state.instanceId,
      updatedAtMillis: now
    })
    const key = keyOf(provider.id, session.id)
    if (state.activity.has(key)) return
    const task = taskOf(record)
    state.activity.set(key, { active: 0, idleSince: now, asleep, lastTask: task })
    if (!asleep) yield* scheduleIdle(state, provider, session, task)
  })

/** Closes a record this round could not adopt, owned by this router from now on. */
const closeRecord = (state: RouterState, record: SessionRecord, closed: "failed" | "released") =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    state.store.put({ ...record, state: closed, owner: state.instanceId, updatedAtMillis: now })
  )

/** Intents no dispatch of this router has under way: the create never completed. */
const resolveIntents = (
  state: RouterState,
  records: ReadonlyArray<SessionRecord>,
  listed: Listed,
  elsewhere: ReadonlySet<string>
) =>
  Effect.gen(function* () {
    const adopted: Array<SessionRef & { taskId: string }> = []
    const failed: Array<{ taskId: string; provider: string }> = []
    for (const record of records) {
      if (record.state !== "creating" || state.inFlight.has(record.taskId) || elsewhere.has(record.taskId))
        continue
      const provider = yield* providerOf(state, record)
      const sessions = listed.get(record.provider)
      // A provider this router cannot ask now: the intent waits for a round where it can.
      if (provider !== undefined && sessions === undefined) continue
      const found = sessions?.find((s) => s.taskId === record.taskId && !isGone(s.status))
      if (provider !== undefined && found !== undefined) {
        yield* adopt(state, provider, record, found)
        adopted.push({ taskId: record.taskId, provider: record.provider, sessionId: found.id })
      } else {
        yield* closeRecord(state, record, "failed")
        failed.push({ taskId: record.taskId, provider: record.provider })
      }
    }
    return { adopted, failed }
  })

/** Records a previous router left mid-dispatch or idle: adopted if the compute is there, else released. */
const adoptRecords = (
  state: RouterState,
  records: ReadonlyArray<SessionRecord>,
  elsewhere: ReadonlySet<string>
) =>
  Effect.gen(function* () {
    const adopted: Array<string> = []
    const released: Array<string> = []
    for (const record of records) {
      if (record.state === "creating" || record.state === "asleep" || state.inFlight.has(record.taskId))
        continue
      if (elsewhere.has(record.taskId)) continue
      if (state.activity.has(keyOf(record.provider, record.sessionId))) continue
      const provider = yield* providerOf(state, record)
      if (provider === undefined) continue
      const session = yield* Effect.either(provider.get(record.sessionId))
      if (session._tag === "Left" && session.left._tag !== "SessionNotFound") continue
      if (session._tag === "Left" || isGone(session.right.status)) {
        yield* closeRecord(state, record, "released")
        released.push(record.taskId)
        continue
      }
      yield* adopt(state, provider, record, session.right)
      adopted.push(record.taskId)
    }
    return { adopted, released }
  })

// ---- orphans

/**
 * Applies the orphan policy to one session, with the provider's create gate closed: skipped (deferred) while a
 * create is under way there, and if a record owns it by now.
 */
const actOnOrphan = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  session: Session.Session
) =>
  CreateGate.whileClosed(
    state.gates.get(provider.id),
    Effect.gen(function* () {
      if ((yield* ownedKeys(state)).has(keyOf(provider.id, session.id)) || state.inFlight.has(session.taskId))
        return "owned" as const
      if ((yield* heldElsewhere(state)).has(session.taskId)) return "owned" as const
      if (state.orphanPolicy === "sleep") {
        if (Session.isAsleep(session.status)) return "asleep" as const
        yield* provider.sleep(session.id)
        return "stopped" as const
      }
      yield* provider.destroy(session.id)
      return "destroyed" as const
    })
  )

interface Sweep {
  readonly orphans: Array<Orphan>
  readonly destroyed: Array<SessionRef>
  readonly stopped: Array<SessionRef>
  readonly deferred: Array<SessionRef>
}

/** One orphan past its grace period: the policy applied, the outcome added to the sweep. */
const sweepOrphan = (
  state: RouterState,
  provider: ComputeProvider.ComputeProvider,
  session: Session.Session,
  sweep: Sweep
) =>
  Effect.gen(function* () {
    const ref = { provider: provider.id, sessionId: session.id }
    const outcome = yield* Effect.either(actOnOrphan(state, provider, session))
    if (outcome._tag === "Left") {
      yield* Effect.logWarning("reconcile: could not act on an orphan").pipe(
        Effect.annotateLogs({ provider: provider.id, session: session.id, error: outcome.left.message })
      )
      sweep.deferred.push(ref)
      return
    }
    if (outcome.right === "destroyed") sweep.destroyed.push(ref)
    else if (outcome.right === "stopped") sweep.stopped.push(ref)
    else if (outcome.right === "deferred") sweep.deferred.push(ref)
    if (outcome.right !== "deferred") state.unownedSince.delete(keyOf(provider.id, session.id))
  })

/** Compute no record owns: destroyed (or put to sleep) once it has been unowned for the grace period. */
const sweepOrphans = (state: RouterState, listed: Listed, elsewhere: ReadonlySet<string>) =>
  Effect.gen(function* () {
    const owned = yield* ownedKeys(state)
    const now = yield* Clock.currentTimeMillis
    const seen = new Set<string>()
    const sweep: Sweep = { orphans: [], destroyed: [], stopped: [], deferred: [] }
    for (const provider of state.registry.all) {
      for (const session of listed.get(provider.id) ?? []) {
        const key = keyOf(provider.id, session.id)
        if (isGone(session.status) || owned.has(key) || state.inFlight.has(session.taskId)) continue
        if (elsewhere.has(session.taskId)) continue
        seen.add(key)
        const since = state.unownedSince.get(key) ?? now
        state.unownedSince.set(key, since)
        const ref = { provider: provider.id, sessionId: session.id }
        sweep.orphans.push({
          ...ref,
          taskId: session.taskId,
          status: session.status,
          unownedForMillis: now - since
        })
        if (now - since < state.gracePeriodMillis) sweep.deferred.push(ref)
        else yield* sweepOrphan(state, provider, session, sweep)
      }
    }
    // What a listed provider no longer shows starts its grace period afresh if it comes back.
    for (const [provider] of listed) {
      for (const key of state.unownedSince.keys())
        if (key.startsWith(`${provider}/`) && !seen.has(key)) state.unownedSince.delete(key)
    }
    return sweep
  })

// ---- rounds

/** One reconciliation round now (rounds never overlap). */
export const reconcile = (state: RouterState): Effect.Effect<ReconcileReport, DispatchError> =>
  state.reconcileLock.withPermits(1)(
    Effect.gen(function* () {
      const listed = yield* listAll(state)
      const elsewhere = yield* heldElsewhere(state)
      const intents = yield* resolveIntents(state, yield* state.store.live(), listed, elsewhere)
      const records = yield* adoptRecords(state, yield* state.store.live(), elsewhere)
      const sweep = yield* sweepOrphans(state, listed, yield* heldElsewhere(state))
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
const scheduledRound = (state: RouterState) =>
  Effect.gen(function* () {
    const report = yield* reconcile(state)
    const onReport = state.reconcileOptions?.onReport
    if (onReport !== undefined) yield* onReport(report)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning("reconcile failed; the next round tries again").pipe(Effect.annotateLogs({ cause }))
    )
  )

/** Forks the rounds of the Router's schedule (at start-up, then every interval) into the scope; none if it is off. */
export const startSchedule = (state: RouterState): Effect.Effect<void, never, Scope.Scope> => {
  const options = state.reconcileOptions
  if (options === undefined) return Effect.void
  const interval = Duration.decode(options.interval ?? defaultReconcileInterval)
  const round = scheduledRound(state)
  const periodic = Duration.isFinite(interval)
    ? Effect.repeat(Effect.delay(round, interval), Schedule.forever)
    : Effect.void
  return Effect.asVoid(
    Effect.forkScoped(options.atStartup === false ? periodic : Effect.zipRight(round, periodic))
  )
}
