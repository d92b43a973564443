/**
 * ECS on EC2 in the engine, as plain operations on the ecs-simulator's `EcsModel` (see Callbacks): a cluster per
 * region, each with its Auto Scaling group behind a managed-scaling capacity provider, binpack placement and the
 * instance ledger; per session what EcsProvider does over the AWS SDK — a task per session from the size's task
 * definition, DescribeTasks polls from 2 s doubling to 15 s until it runs, the command through ECS Exec,
 * StopTask and polls from 2 s until it stopped — as model calls in virtual time (the polls that could not see a
 * change are left out: see `pollTask`). EcsEngine makes them a provider; the kernel calls them directly.
 */
import { ComputeError, Pricing, type SizePreset, type TaskResult, type TaskSpec } from "@hangar/core"
import type { EcsModel } from "@hangar/ecs-simulator/model"
import * as EcsConventions from "@hangar/provider-ecs/conventions"
import { Either } from "effect"
import {
  type Cancel,
  type Done,
  fail,
  noCancel,
  type Operation,
  type Outcome,
  simulated,
  simulatedOnce,
  succeed
} from "./Callbacks.js"

export type { Operation }

import * as Commands from "./Commands.js"
import type { EngineClock } from "./EngineClock.js"

/** One region's cluster: its model, the cluster's name and the capacity provider tasks run on. */
export interface RegionCluster {
  readonly region: string
  readonly model: EcsModel.EcsModel
  readonly cluster: string
  readonly capacityProvider: string
  /** The EFS file system the repositories' workspaces (one access point each) are made on, if any. */
  readonly fileSystemId?: string
}

export interface Options {
  readonly clock: EngineClock
  readonly clusters: ReadonlyArray<RegionCluster>
  readonly familyPrefix?: string
}

export const provider = "ecs" as TaskSpec.ProviderId
const image = "ghcr.io/hangar/agent:latest"
/** As EcsProvider: the first poll after 2 s (AWS's advice after RunTask), a start deadline of 30 minutes. */
const firstPollMillis = 2_000
const startDeadlineMillis = 30 * 60_000
const stopDeadlineMillis = 10 * 60_000

export type Task = EcsModel.Task

export interface SessionState {
  readonly task: TaskSpec.TaskSpec
  readonly cluster: RegionCluster
  /** The session's latest task (a one-element list once it has had one). */
  readonly tasks: Array<Task>
  destroyed: boolean
}

/** As EcsProvider reports a task's status (one mapping, so the two agree). */
export const statusOf = EcsConventions.statusOf

/** Describes the engine's tasks: the task, or undefined once ECS no longer shows it. */
export const describe = (state: SessionState): Task | undefined => {
  const task = state.tasks[state.tasks.length - 1]
  return task === undefined || !state.cluster.model.visible(task) ? undefined : task
}

// ---- the engine's state

/** What the engine keeps: its sessions, and the tasks it started that are not yet seen stopped. */
export interface EngineState {
  readonly clock: EngineClock
  readonly prefix: string
  readonly byRegion: ReadonlyMap<string, RegionCluster>
  readonly sessions: Map<string, SessionState>
  /** Tasks not yet seen stopped; the RUNNING seconds of those that have are in `settledSeconds`. */
  readonly unsettled: Set<Task>
  settledSeconds: number
  /** Each repository's access point request, as EcsProvider makes it (its token is a SHA-256: made once). */
  readonly accessPoints: Map<string, EcsConventions.AccessPointRequest>
  /** The tasks something waits on, each with what to do when its status changes (the models' `onTaskChange`). */
  readonly watchers: Map<Task, Set<() => void>>
}

const accessPointOf = (engine: EngineState, fileSystemId: string, repository: string) => {
  const key = `${fileSystemId}/${repository}`
  let request = engine.accessPoints.get(key)
  if (request === undefined) {
    request = EcsConventions.accessPointRequest(fileSystemId, repository)
    engine.accessPoints.set(key, request)
  }
  return request
}

const context = (method: string) => ({ module: "EcsEngine", method, provider })

const runningSeconds = (engine: EngineState, task: Task) =>
  task.startedAt === undefined ? 0 : ((task.stoppedAt ?? engine.clock.now()) - task.startedAt) / 1000

/** Moves stopped tasks out of `unsettled` (so a month keeps only the live ones). */
const settle = (engine: EngineState) => {
  for (const task of engine.unsettled)
    if (task.lastStatus === "STOPPED") {
      engine.settledSeconds += runningSeconds(engine, task)
      engine.unsettled.delete(task)
    }
}

/** Seconds every task the engine started spent RUNNING (its recorded start to its stop, or now). */
export const taskRunningSeconds = (engine: EngineState) => {
  settle(engine)
  let seconds = engine.settledSeconds
  for (const task of engine.unsettled) seconds += runningSeconds(engine, task)
  return seconds
}

export const stateOf = (options: Options): EngineState => {
  const watchers = new Map<Task, Set<() => void>>()
  for (const { model } of options.clusters)
    model.onTaskChange = (task) => {
      const heard = watchers.get(task)
      if (heard !== undefined) for (const onChange of heard) onChange()
    }
  return {
    clock: options.clock,
    prefix: options.familyPrefix ?? "hangar",
    byRegion: new Map(options.clusters.map((c) => [c.region, c])),
    sessions: new Map(),
    unsettled: new Set(),
    settledSeconds: 0,
    accessPoints: new Map(),
    watchers
  }
}

/** Calls `onChange` at each status change of `task` until the returned cancel. */
const watch = (engine: EngineState, task: Task, onChange: () => void): Cancel => {
  let heard = engine.watchers.get(task)
  if (heard === undefined) {
    heard = new Set()
    engine.watchers.set(task, heard)
  }
  heard.add(onChange)
  return () => {
    heard.delete(onChange)
    if (heard.size === 0) engine.watchers.delete(task)
  }
}

export const sessionOf = (engine: EngineState, sessionId: string, method: string): Outcome<SessionState> => {
  const state = engine.sessions.get(sessionId)
  return state === undefined
    ? Either.left(new ComputeError.SessionNotFound({ ...context(method), reason: "Unknown", sessionId }))
    : Either.right(state)
}

// ---- task definitions and RunTask

const family = (prefix: string, size: SizePreset.SizePreset, gpu: boolean) =>
  `${prefix}-${size}${gpu ? "-gpu" : ""}`

/** The size's task definition in the cluster's model, registered on first use as EcsProvider registers it. */
const definitionFor = (prefix: string, cluster: RegionCluster, size: SizePreset.SizePreset, gpu: boolean) => {
  const name = family(prefix, size, gpu)
  if (cluster.model.definitions.has(name)) return cluster.model.taskDefinition(name)
  const resources = Pricing.ecsTaskBySize[size]
  return cluster.model.registerTaskDefinition(
    name,
    [
      {
        name: "agent",
        image,
        essential: true,
        mountPoints: [{ sourceVolume: "workspace", containerPath: "/workspace" }],
        ...(gpu ? { resourceRequirements: [{ type: "GPU", value: "1" }] } : {})
      } as EcsModel.ContainerDefinition
    ],
    resources.cpu,
    resources.memoryMib,
    { networkMode: "bridge", volumes: [{ name: "workspace", configuredAtLaunch: true }] }
  )
}

const runTask = (
  engine: EngineState,
  sessionId: string,
  state: SessionState
): Outcome<ReturnType<EcsModel.EcsModel["runTask"]>> => {
  try {
    const { model, cluster, capacityProvider, fileSystemId } = state.cluster
    // The repository's workspace, as EcsProvider makes it: its access point, made on its first session.
    if (fileSystemId !== undefined)
      model.workspaces.create(accessPointOf(engine, fileSystemId, state.task.repository), engine.clock.now())
    const definition = definitionFor(engine.prefix, state.cluster, state.task.size, state.task.requiresGpu)
    return Either.right(
      model.runTask({
        cluster,
        taskDefinition: definition.arn,
        count: 1,
        capacityProviderStrategy: [{ capacityProvider }],
        startedBy: engine.prefix,
        enableExecuteCommand: true,
        environment: [
          ...Object.entries(state.task.env).map(([name, value]) => ({ name, value })),
          { name: "REPOSITORY", value: state.task.repository },
          { name: "BRANCH", value: state.task.branch },
          { name: "TASK_ID", value: state.task.taskId },
          { name: "WORKSPACE", value: "/workspace" }
        ],
        tags: [
          { key: "hangar:session", value: sessionId },
          { key: "hangar:repository", value: state.task.repository }
        ]
      })
    )
  } catch (e) {
    return Either.left(ComputeError.normalise(e, context("runTask")))
  }
}

// ---- waiting for RUNNING and for STOPPED

/** The instants of polls from `startedAt`: the first after `firstDelayMillis`, the delay doubling up to a maximum. */
class PollInstants {
  private delay: number
  private at: number
  constructor(
    startedAt: number,
    firstDelayMillis: number,
    private readonly maxDelayMillis: number
  ) {
    this.delay = firstDelayMillis
    this.at = startedAt + firstDelayMillis
  }
  /** The first poll at or after `millis` (asked with times that never go back). */
  from(millis: number): number {
    while (this.at < millis && this.delay < this.maxDelayMillis) {
      this.delay = Math.min(this.delay * 2, this.maxDelayMillis)
      this.at += this.delay
    }
    if (this.at < millis) this.at += Math.ceil((millis - this.at) / this.delay) * this.delay
    return this.at
  }
}

/**
 * What polling `check` answers (now, then after `firstDelayMillis`, the delay doubling up to `maxDelayMillis`,
 * until it gives an outcome), without the polls that could not: `check` reads only `task`'s status and the time,
 * so it runs at the first poll after each change of the task (its model tells) and at the first poll past
 * `deadlineMillis`. A task waiting half an hour for capacity was polled about 120 times; now it is looked at once
 * per change of status.
 */
const pollTask =
  <A>(
    engine: EngineState,
    task: Task | undefined,
    delays: { readonly firstMillis: number; readonly maxMillis: number; readonly deadlineMillis: number },
    check: () => Outcome<A> | undefined
  ): Operation<A> =>
  (done) => {
    const now = check()
    if (now !== undefined) {
      done(now)
      return noCancel
    }
    const { clock } = engine
    const polls = new PollInstants(clock.now(), delays.firstMillis, delays.maxMillis)
    const deadlineAt = new PollInstants(clock.now(), delays.firstMillis, delays.maxMillis).from(
      clock.now() + delays.deadlineMillis + 1
    )
    // The one timer pending: at the first poll after a change, else at the deadline's poll.
    let wakeAt = deadlineAt
    let cancelWake = clock.schedule(deadlineAt, wake)
    let pending = true
    const wakeBy = (at: number) => {
      if (pending && at >= wakeAt) return
      if (pending) cancelWake()
      wakeAt = at
      cancelWake = clock.schedule(at, wake)
      pending = true
    }
    const unwatch = task === undefined ? noCancel : watch(engine, task, () => wakeBy(polls.from(clock.now())))
    function wake() {
      pending = false
      // This instant's poll is done: a change later in it is seen at the next one, as a poll would see it.
      polls.from(clock.now() + 1)
      const outcome = check()
      if (outcome !== undefined) {
        unwatch()
        if (pending) cancelWake()
        return done(outcome)
      }
      if (clock.now() >= deadlineAt) throw new Error("pollTask: the check gave no outcome past its deadline")
      if (!pending) wakeBy(deadlineAt)
    }
    return () => {
      unwatch()
      cancelWake()
    }
  }

/** A wait that gave up after `timeoutMillis`, as EcsProvider's. */
const timedOut = (method: string, timeoutMillis: number) =>
  simulated(() => new ComputeError.Timeout({ ...context(method), reason: "Deadline", timeoutMillis }, true))
const startTimedOut = timedOut("awaitRunning", startDeadlineMillis)
const stopTimedOut = timedOut("stop", stopDeadlineMillis)

/** A task that stopped before it ran, for `detail` (its stopped reason). */
const provisioningFailed = simulatedOnce(
  (detail) =>
    new ComputeError.CapacityUnavailable(
      { ...context("awaitRunning"), reason: "ProvisioningFailed", detail },
      true
    )
)

/** RunTask placed no task, for `detail` (the failure's reason and detail). */
const insufficientResources = simulatedOnce(
  (detail) =>
    new ComputeError.CapacityUnavailable(
      { ...context("runTask"), reason: "InsufficientResources", detail },
      true
    )
)

/** Polls (2 s, doubling to 15 s) until the task runs; a task that stops first had no capacity. */
const awaitRunning = (engine: EngineState, state: SessionState, seen: Task | undefined): Operation<Task> => {
  const startedAt = engine.clock.now()
  let first = seen
  const delays = { firstMillis: firstPollMillis, maxMillis: 15_000, deadlineMillis: startDeadlineMillis }
  return pollTask(engine, seen ?? describe(state), delays, () => {
    const task = first ?? describe(state)
    first = undefined
    if (task?.lastStatus === "RUNNING") return Either.right(task)
    if (task === undefined || task.lastStatus === "STOPPED")
      return Either.left(provisioningFailed(task?.stoppedReason ?? "the task disappeared before it ran"))
    if (engine.clock.now() - startedAt > startDeadlineMillis) {
      state.cluster.model.stopTask(task, "hangar: did not start in time")
      return Either.left(startTimedOut)
    }
    return undefined
  })
}

const runFor = (engine: EngineState, sessionId: string, state: SessionState, done: Done<Task>): Cancel => {
  const ran = runTask(engine, sessionId, state)
  if (Either.isLeft(ran)) return fail(done, ran.left)
  const task = ran.right.tasks[0]
  if (task === undefined) {
    const failure = ran.right.failures[0]
    return fail(
      done,
      insufficientResources(
        `${failure?.reason ?? "no task started"}${failure?.detail === undefined ? "" : `: ${failure.detail}`}`
      )
    )
  }
  state.tasks.push(task)
  if (state.tasks.length > 1) state.tasks.splice(0, state.tasks.length - 1)
  engine.unsettled.add(task)
  if (engine.unsettled.size >= 512) settle(engine)
  return awaitRunning(engine, state, task)(done)
}

/** Brings the session's task to RUNNING, or runs a new one if it has none or it stopped. */
const ensureRunning =
  (engine: EngineState, sessionId: string, state: SessionState): Operation<Task> =>
  (done) => {
    const task = describe(state)
    if (task?.lastStatus === "RUNNING") return succeed(done, task)
    if (task !== undefined && task.lastStatus !== "STOPPED")
      return awaitRunning(engine, state, undefined)(done)
    return runFor(engine, sessionId, state, done)
  }

/** The session's state, or the error for an unknown session; then `next`. */
const withSession = <A>(
  engine: EngineState,
  sessionId: string,
  method: string,
  done: Done<A>,
  next: (state: SessionState) => Cancel
): Cancel => {
  const state = sessionOf(engine, sessionId, method)
  return Either.isLeft(state) ? fail(done, state.left) : next(state.right)
}

/** What a session's operations answer: the session's state and its task, if ECS still shows one. */
export interface Answer {
  readonly state: SessionState
  readonly task: Task | undefined
}

const answering =
  (state: SessionState, done: Done<Answer>): Done<Task> =>
  (outcome) =>
    done(Either.isLeft(outcome) ? Either.left(outcome.left) : Either.right({ state, task: outcome.right }))

/** Wakes the session: its task brought to RUNNING, or a new one run. */
export const start =
  (engine: EngineState, sessionId: string): Operation<Answer> =>
  (done) =>
    withSession(engine, sessionId, "start", done, (state) =>
      ensureRunning(engine, sessionId, state)(answering(state, done))
    )

/** StopTask, then polls (2 s, doubling to 10 s) until the task stopped. */
export const stop =
  (engine: EngineState, sessionId: string): Operation<Answer> =>
  (done) =>
    withSession(engine, sessionId, "stop", done, (state) => {
      const task = describe(state)
      if (task === undefined || task.lastStatus === "STOPPED") return succeed(done, { state, task })
      const stopped = state.cluster.model.stopTask(task, "hangar: session released")
      if (stopped.lastStatus === ("STOPPED" as EcsModel.TaskStatus)) return succeed(done, { state, task })
      const startedAt = engine.clock.now()
      // (pollTask's first look, now, sees what StopTask just answered; the polls follow from 2 s.)
      const delays = { firstMillis: firstPollMillis, maxMillis: 10_000, deadlineMillis: stopDeadlineMillis }
      return pollTask(engine, task, delays, () => {
        const now = describe(state)
        if (now === undefined || now.lastStatus === "STOPPED")
          return Either.right({ state, task: now ?? task })
        if (engine.clock.now() - startedAt > stopDeadlineMillis) return Either.left(stopTimedOut)
        return undefined
      })(done)
    })

// ---- ECS Exec

/** The command in the task's container for as long as the scripted backend says; the task stopping kills it. */
export const exec =
  (
    engine: EngineState,
    sessionId: string,
    command: ReadonlyArray<string>
  ): Operation<TaskResult.TaskResult> =>
  (done) =>
    withSession(engine, sessionId, "exec", done, (state) => {
      const task = describe(state)
      if (task?.lastStatus !== "RUNNING") return fail(done, EcsConventions.notRunning(context("exec"), task))
      const { clock } = engine
      const outcome = Commands.outcomeOf(command)
      const startedAt = clock.now()
      // The task stopping (asked to, or its host lost) kills the command at once.
      const unwatch = watch(engine, task, () => {
        if (task.desiredStatus === "STOPPED") end(Commands.killed(clock.now() - startedAt))
      })
      const cancel = clock.schedule(startedAt + outcome.durationMillis, () => end(Commands.result(outcome)))
      const end = (result: TaskResult.TaskResult) => {
        unwatch()
        cancel()
        done(Either.right(result))
      }
      return () => {
        unwatch()
        cancel()
      }
    })

// ---- sessions

/** The session id of a task: `ecs-<task id>`. */
export const sessionIdOf = (taskId: string): string => `ecs-${taskId}`

/** A session per task id (`ecs-<task id>`) in the task's region's cluster, brought to RUNNING. */
export const create =
  (engine: EngineState, task: TaskSpec.TaskSpec): Operation<Answer> =>
  (done) => {
    const sessionId = sessionIdOf(task.taskId)
    const cluster = engine.byRegion.get(task.region)
    if (cluster === undefined)
      return fail(
        done,
        new ComputeError.InvalidRequest({
          ...context("create"),
          field: "region",
          expected: `one of ${[...engine.byRegion.keys()].join(", ")}`,
          actual: task.region
        })
      )
    const existing = engine.sessions.get(sessionId)
    const state: SessionState =
      existing !== undefined && !existing.destroyed
        ? existing
        : { task, cluster, tasks: existing?.tasks ?? [], destroyed: false }
    engine.sessions.set(sessionId, state)
    return ensureRunning(engine, sessionId, state)(answering(state, done))
  }

/** Sessions whose task has not stopped, with it. */
export const live = (engine: EngineState): ReadonlyArray<readonly [string, SessionState, Task]> =>
  [...engine.sessions].flatMap(([sessionId, state]) => {
    const task = describe(state)
    return task === undefined || task.lastStatus === "STOPPED" ? [] : [[sessionId, state, task] as const]
  })
