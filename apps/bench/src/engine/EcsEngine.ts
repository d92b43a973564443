/**
 * ECS on EC2 in the engine: a provider built with core's `ComputeProvider.make` directly over the ecs-simulator's
 * `EcsModel` (a cluster per region, each with its Auto Scaling group behind a managed-scaling capacity provider,
 * binpack placement and the instance ledger), doing per session what EcsProvider does over the AWS SDK — a task
 * per session from the size's task definition, DescribeTasks polls from 2 s doubling to 15 s until it runs, the
 * command through ECS Exec, StopTask and polls from 2 s until it stopped — as model calls in virtual time.
 */
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  Pricing,
  Region,
  Session,
  type SizePreset,
  type TaskResult,
  type TaskSpec
} from "@hangar/core"
import type { EcsModel } from "@hangar/ecs-simulator/model"
import * as EcsConventions from "@hangar/provider-ecs/conventions"
import * as EcsCostModel from "@hangar/provider-ecs/cost-model"
import { Effect } from "effect"
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

const provider = "ecs" as TaskSpec.ProviderId
const image = "ghcr.io/hangar/agent:latest"
/** As EcsProvider: the first poll after 2 s (AWS's advice after RunTask), a start deadline of 30 minutes. */
const firstPollMillis = 2_000
const startDeadlineMillis = 30 * 60_000
const stopDeadlineMillis = 10 * 60_000

type Task = EcsModel.Task

interface SessionState {
  readonly task: TaskSpec.TaskSpec
  readonly cluster: RegionCluster
  /** The session's latest task (a one-element list once it has had one). */
  readonly tasks: Array<Task>
  destroyed: boolean
}

/** As EcsProvider reports a task's status (one mapping, so the two agree). */
const statusOf = EcsConventions.statusOf

/** Describes the engine's tasks: the task, or undefined once ECS no longer shows it. */
const describe = (state: SessionState): Task | undefined => {
  const task = state.tasks[state.tasks.length - 1]
  return task === undefined || !state.cluster.model.visible(task) ? undefined : task
}

export interface EcsEngine {
  readonly provider: ComputeProvider.ComputeProvider
  /** Seconds every task the engine started spent RUNNING (its recorded start to its stop, or now). */
  readonly taskRunningSeconds: () => number
}

// ---- the engine's state

/** What the engine keeps: its sessions, and the tasks it started that are not yet seen stopped. */
interface EngineState {
  readonly clock: EngineClock
  readonly prefix: string
  readonly byRegion: ReadonlyMap<string, RegionCluster>
  readonly sessions: Map<string, SessionState>
  /** Tasks not yet seen stopped; the RUNNING seconds of those that have are in `settledSeconds`. */
  readonly unsettled: Set<Task>
  settledSeconds: number
  /** Each repository's access point request, as EcsProvider makes it (its token is a SHA-256: made once). */
  readonly accessPoints: Map<string, EcsConventions.AccessPointRequest>
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
const taskRunningSeconds = (engine: EngineState) => {
  settle(engine)
  let seconds = engine.settledSeconds
  for (const task of engine.unsettled) seconds += runningSeconds(engine, task)
  return seconds
}

const sessionOf = (engine: EngineState, sessionId: string, method: string) =>
  Effect.suspend(() => {
    const state = engine.sessions.get(sessionId)
    return state === undefined
      ? Effect.fail(new ComputeError.SessionNotFound({ ...context(method), reason: "Unknown", sessionId }))
      : Effect.succeed(state)
  })

const toSession = (sessionId: string, state: SessionState, task: Task | undefined) =>
  new Session.Session(
    {
      id: sessionId,
      provider,
      taskId: state.task.taskId,
      repository: state.task.repository,
      region: state.task.region,
      status: statusOf(task),
      metadata: { cluster: state.cluster.cluster, taskArn: task?.arn ?? "" }
    },
    true
  )

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

const runTask = (engine: EngineState, sessionId: string, state: SessionState) =>
  Effect.try({
    try: () => {
      const { model, cluster, capacityProvider, fileSystemId } = state.cluster
      // The repository's workspace, as EcsProvider makes it: its access point, made on its first session.
      if (fileSystemId !== undefined)
        model.workspaces.create(
          accessPointOf(engine, fileSystemId, state.task.repository),
          engine.clock.now()
        )
      const definition = definitionFor(engine.prefix, state.cluster, state.task.size, state.task.requiresGpu)
      return model.runTask({
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
    },
    catch: (e) => ComputeError.normalise(e, context("runTask"))
  })

// ---- waiting for RUNNING and for STOPPED

/**
 * Checks `check` now, then after `firstDelayMillis`, the delay doubling up to `maxDelayMillis`, until it gives an
 * outcome. The polls are plain timers on the engine's clock, not fiber sleeps: a task waiting half an hour for
 * capacity is polled about 120 times, and a policy run has thousands of them.
 */
const pollUntil = <A>(
  clock: EngineClock,
  firstDelayMillis: number,
  maxDelayMillis: number,
  check: () => Effect.Effect<A, ComputeError.ComputeError> | undefined
): Effect.Effect<A, ComputeError.ComputeError> =>
  Effect.suspend(() => {
    const now = check()
    if (now !== undefined) return now
    return Effect.async<A, ComputeError.ComputeError>((resume) => {
      let delay = firstDelayMillis
      let cancel = clock.schedule(clock.now() + delay, function poll() {
        const outcome = check()
        if (outcome !== undefined) return resume(outcome)
        delay = Math.min(delay * 2, maxDelayMillis)
        cancel = clock.schedule(clock.now() + delay, poll)
      })
      return Effect.sync(() => cancel())
    })
  })

/** A wait that gave up after `timeoutMillis`, as EcsProvider's. */
const deadlinePassed = (method: string, timeoutMillis: number) =>
  Effect.fail(new ComputeError.Timeout({ ...context(method), reason: "Deadline", timeoutMillis }))

/** Polls (2 s, doubling to 15 s) until the task runs; a task that stops first had no capacity. */
const awaitRunning = (engine: EngineState, state: SessionState, seen: Task | undefined) =>
  Effect.suspend(() => {
    const startedAt = engine.clock.now()
    let first = seen
    return pollUntil(engine.clock, firstPollMillis, 15_000, () => {
      const task = first ?? describe(state)
      first = undefined
      if (task?.lastStatus === "RUNNING") return Effect.succeed(task)
      if (task === undefined || task.lastStatus === "STOPPED")
        return Effect.fail(
          new ComputeError.CapacityUnavailable({
            ...context("awaitRunning"),
            reason: "ProvisioningFailed",
            detail: task?.stoppedReason ?? "the task disappeared before it ran"
          })
        )
      if (engine.clock.now() - startedAt > startDeadlineMillis) {
        state.cluster.model.stopTask(task, "hangar: did not start in time")
        return deadlinePassed("awaitRunning", startDeadlineMillis)
      }
      return undefined
    })
  })

const runFor = (engine: EngineState, sessionId: string, state: SessionState) =>
  Effect.flatMap(runTask(engine, sessionId, state), (result) => {
    const task = result.tasks[0]
    if (task === undefined) {
      const failure = result.failures[0]
      return Effect.fail(
        new ComputeError.CapacityUnavailable({
          ...context("runTask"),
          reason: "InsufficientResources",
          detail: `${failure?.reason ?? "no task started"}${failure?.detail === undefined ? "" : `: ${failure.detail}`}`
        })
      )
    }
    state.tasks.push(task)
    if (state.tasks.length > 1) state.tasks.splice(0, state.tasks.length - 1)
    engine.unsettled.add(task)
    if (engine.unsettled.size >= 512) settle(engine)
    return awaitRunning(engine, state, task)
  })

/** Brings the session's task to RUNNING, or runs a new one if it has none or it stopped. */
const ensureRunning = (engine: EngineState, sessionId: string, state: SessionState) =>
  Effect.suspend(() => {
    const task = describe(state)
    if (task?.lastStatus === "RUNNING") return Effect.succeed(task)
    if (task !== undefined && task.lastStatus !== "STOPPED") return awaitRunning(engine, state, undefined)
    return runFor(engine, sessionId, state)
  })

/** StopTask, then polls (2 s, doubling to 10 s) until the task stopped. */
const stop = (engine: EngineState, sessionId: string) =>
  Effect.flatMap(sessionOf(engine, sessionId, "stop"), (state) =>
    Effect.suspend(() => {
      const task = describe(state)
      if (task === undefined || task.lastStatus === "STOPPED")
        return Effect.succeed(toSession(sessionId, state, task))
      const stopped = state.cluster.model.stopTask(task, "hangar: session released")
      if (stopped.lastStatus === ("STOPPED" as EcsModel.TaskStatus))
        return Effect.succeed(toSession(sessionId, state, task))
      const startedAt = engine.clock.now()
      // (pollUntil's first look, now, sees what StopTask just answered; the polls follow from 2 s.)
      return pollUntil(engine.clock, firstPollMillis, 10_000, () => {
        const now = describe(state)
        if (now === undefined || now.lastStatus === "STOPPED")
          return Effect.succeed(toSession(sessionId, state, now ?? task))
        if (engine.clock.now() - startedAt > stopDeadlineMillis)
          return deadlinePassed("stop", stopDeadlineMillis)
        return undefined
      })
    })
  )

// ---- ECS Exec

/** The command in the task's container for as long as the scripted backend says; the task stopping kills it. */
const exec = (engine: EngineState, sessionId: string, command: ReadonlyArray<string>) =>
  Effect.flatMap(sessionOf(engine, sessionId, "exec"), (state) => {
    const task = describe(state)
    if (task?.lastStatus !== "RUNNING")
      return Effect.fail(
        new ComputeError.InvalidRequest({
          ...context("exec"),
          reason: "Conflict",
          field: "session",
          expected: "a running session (start it first)",
          actual: task?.lastStatus ?? "no task"
        })
      )
    const { clock } = engine
    const outcome = Commands.outcomeOf(command)
    return Effect.async<TaskResult.TaskResult>((resume) => {
      const startedAt = clock.now()
      const signal = task.running.signal
      let ended = false
      const onAbort = () => {
        if (ended) return
        ended = true
        cancel()
        resume(Effect.succeed(Commands.killed(clock.now() - startedAt)))
      }
      signal.addEventListener("abort", onAbort, { once: true })
      const cancel = clock.schedule(startedAt + outcome.durationMillis, () => {
        if (ended) return
        ended = true
        signal.removeEventListener("abort", onAbort)
        resume(Effect.succeed(Commands.result(outcome)))
      })
      return Effect.sync(() => {
        ended = true
        signal.removeEventListener("abort", onAbort)
        cancel()
      })
    })
  })

// ---- sessions

/** A session per task id (`ecs-<task id>`) in the task's region's cluster, brought to RUNNING. */
const create = (engine: EngineState, task: TaskSpec.TaskSpec) =>
  Effect.suspend(() => {
    const sessionId = `ecs-${task.taskId}`
    const cluster = engine.byRegion.get(task.region)
    if (cluster === undefined)
      return Effect.fail(
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
    return Effect.map(ensureRunning(engine, sessionId, state), (running) =>
      toSession(sessionId, state, running)
    )
  })

/** Sessions whose task has not stopped. */
const list = (engine: EngineState) =>
  Effect.sync(() =>
    [...engine.sessions].flatMap(([sessionId, state]) => {
      const task = describe(state)
      return task === undefined || task.lastStatus === "STOPPED" ? [] : [toSession(sessionId, state, task)]
    })
  )

const unsupported = {
  sleep: "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
  suspend: "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
  edge: "ECS runs in AWS regions, not at the edge"
}

export const make = (options: Options): Effect.Effect<EcsEngine> =>
  Effect.gen(function* () {
    const engine: EngineState = {
      clock: options.clock,
      prefix: options.familyPrefix ?? "hangar",
      byRegion: new Map(options.clusters.map((c) => [c.region, c])),
      sessions: new Map(),
      unsettled: new Set(),
      settledSeconds: 0,
      accessPoints: new Map()
    }
    const regions = options.clusters.map((c) => Region.make(c.region))
    const service = yield* ComputeProvider.make({
      id: provider,
      capabilities: new Capabilities.Capabilities({
        regions: regions as unknown as readonly [Region.Region, ...Array<Region.Region>],
        sizes: ["dev", "standard", "performance", "high-perf"],
        unsupported,
        startLatencySeconds: { cold: 150, warm: 10 }
      }),
      costModel: EcsCostModel.make(),
      create: (task) => create(engine, task),
      get: (sessionId) =>
        Effect.map(sessionOf(engine, sessionId, "get"), (state) =>
          toSession(sessionId, state, describe(state))
        ),
      start: (sessionId) =>
        Effect.flatMap(sessionOf(engine, sessionId, "start"), (state) =>
          Effect.map(ensureRunning(engine, sessionId, state), (task) => toSession(sessionId, state, task))
        ),
      stop: (sessionId) => stop(engine, sessionId),
      destroy: (sessionId) =>
        Effect.zipRight(
          stop(engine, sessionId),
          Effect.sync(() => {
            const state = engine.sessions.get(sessionId)
            if (state !== undefined) state.destroyed = true
          })
        ),
      exec: (sessionId, command) => exec(engine, sessionId, command),
      list: () => list(engine),
      // The cluster's instances are billed, not its tasks: the engine prices the cluster from its ledger and
      // does not attribute a share to each session.
      usage: () =>
        Effect.fail(
          new ComputeError.Unsupported({
            ...context("usage"),
            feature: "usage",
            providerReason: "the engine bills ECS per cluster from the model's ledger, not per session"
          })
        )
    })
    return { provider: service, taskRunningSeconds: () => taskRunningSeconds(engine) }
  })
