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
import type { EcsModel } from "@hangar/ecs-simulator"
import { EcsProvider } from "@hangar/provider-ecs"
import { Duration, Effect } from "effect"
import * as Commands from "./Commands.js"
import type { EngineClock } from "./EngineClock.js"

/** One region's cluster: its model, the cluster's name and the capacity provider tasks run on. */
export interface RegionCluster {
  readonly region: string
  readonly model: EcsModel.EcsModel
  readonly cluster: string
  readonly capacityProvider: string
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
const statusOf = EcsProvider.sessionStatusOf

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

export const make = (options: Options): Effect.Effect<EcsEngine> =>
  Effect.gen(function* () {
    const { clock } = options
    const prefix = options.familyPrefix ?? "hangar"
    const sessions = new Map<string, SessionState>()
    /** Tasks not yet seen stopped, and the RUNNING seconds of those that have stopped. */
    const unsettled = new Set<Task>()
    let settledSeconds = 0
    const runningSeconds = (task: Task) =>
      task.startedAt === undefined ? 0 : ((task.stoppedAt ?? clock.now()) - task.startedAt) / 1000
    /** Moves stopped tasks out of `unsettled` (so a month keeps only the live ones). */
    const settle = () => {
      for (const task of unsettled)
        if (task.lastStatus === "STOPPED") {
          settledSeconds += runningSeconds(task)
          unsettled.delete(task)
        }
    }
    const byRegion = new Map(options.clusters.map((c) => [c.region, c]))

    const context = (method: string) => ({ module: "EcsEngine", method, provider })
    const unknownSession = (sessionId: string, method: string) =>
      new ComputeError.SessionNotFound({ ...context(method), reason: "Unknown", sessionId })

    const sessionOf = (sessionId: string, method: string) =>
      Effect.suspend(() => {
        const state = sessions.get(sessionId)
        return state === undefined ? Effect.fail(unknownSession(sessionId, method)) : Effect.succeed(state)
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

    const family = (size: SizePreset.SizePreset, gpu: boolean) => `${prefix}-${size}${gpu ? "-gpu" : ""}`

    /** The size's task definition in the cluster's model, registered on first use as EcsProvider registers it. */
    const definitionFor = (cluster: RegionCluster, size: SizePreset.SizePreset, gpu: boolean) => {
      const name = family(size, gpu)
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

    const runTask = (sessionId: string, state: SessionState) =>
      Effect.try({
        try: () => {
          const { model, cluster, capacityProvider } = state.cluster
          const definition = definitionFor(state.cluster, state.task.size, state.task.requiresGpu)
          return model.runTask({
            cluster,
            taskDefinition: definition.arn,
            count: 1,
            capacityProviderStrategy: [{ capacityProvider }],
            startedBy: prefix,
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

    /** Polls (2 s, doubling to 15 s) until the task runs; a task that stops first had no capacity. */
    const awaitRunning = (state: SessionState, seen: Task | undefined) =>
      Effect.suspend(() => {
        const startedAt = clock.now()
        const poll = (
          delay: number,
          first: Task | undefined
        ): Effect.Effect<Task, ComputeError.ComputeError> =>
          Effect.suspend(() => {
            const task = first ?? describe(state)
            if (task?.lastStatus === "RUNNING") return Effect.succeed(task)
            if (task === undefined || task.lastStatus === "STOPPED")
              return Effect.fail(
                new ComputeError.CapacityUnavailable({
                  ...context("awaitRunning"),
                  reason: "ProvisioningFailed",
                  detail: task?.stoppedReason ?? "the task disappeared before it ran"
                })
              )
            if (clock.now() - startedAt > startDeadlineMillis) {
              state.cluster.model.stopTask(task, "hangar: did not start in time")
              return Effect.fail(
                new ComputeError.Timeout({
                  ...context("awaitRunning"),
                  reason: "Deadline",
                  timeoutMillis: startDeadlineMillis
                })
              )
            }
            return Effect.zipRight(
              Effect.sleep(Duration.millis(delay)),
              poll(Math.min(delay * 2, 15_000), undefined)
            )
          })
        return poll(firstPollMillis, seen)
      })

    const runFor = (sessionId: string, state: SessionState) =>
      Effect.flatMap(runTask(sessionId, state), (result) => {
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
        unsettled.add(task)
        if (unsettled.size >= 512) settle()
        return awaitRunning(state, task)
      })

    /** Brings the session's task to RUNNING, or runs a new one if it has none or it stopped. */
    const ensureRunning = (sessionId: string, state: SessionState) =>
      Effect.suspend(() => {
        const task = describe(state)
        if (task?.lastStatus === "RUNNING") return Effect.succeed(task)
        if (task !== undefined && task.lastStatus !== "STOPPED") return awaitRunning(state, undefined)
        return runFor(sessionId, state)
      })

    const stop = (sessionId: string) =>
      Effect.flatMap(sessionOf(sessionId, "stop"), (state) =>
        Effect.suspend(() => {
          const task = describe(state)
          if (task === undefined || task.lastStatus === "STOPPED")
            return Effect.succeed(toSession(sessionId, state, task))
          const stopped = state.cluster.model.stopTask(task, "hangar: session released")
          if (stopped.lastStatus === ("STOPPED" as EcsModel.TaskStatus))
            return Effect.succeed(toSession(sessionId, state, task))
          const startedAt = clock.now()
          const poll = (delay: number): Effect.Effect<Session.Session, ComputeError.ComputeError> =>
            Effect.zipRight(
              Effect.sleep(Duration.millis(delay)),
              Effect.suspend(() => {
                const now = describe(state)
                if (now === undefined || now.lastStatus === "STOPPED")
                  return Effect.succeed(toSession(sessionId, state, now ?? task))
                if (clock.now() - startedAt > stopDeadlineMillis)
                  return Effect.fail(
                    new ComputeError.Timeout({
                      ...context("stop"),
                      reason: "Deadline",
                      timeoutMillis: stopDeadlineMillis
                    })
                  )
                return poll(Math.min(delay * 2, 10_000))
              })
            )
          return poll(firstPollMillis)
        })
      )

    // ---- ECS Exec

    /** The command in the task's container for as long as the scripted backend says; the task stopping kills it. */
    const exec = (sessionId: string, command: ReadonlyArray<string>) =>
      Effect.flatMap(sessionOf(sessionId, "exec"), (state) => {
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

    const regions = options.clusters.map((c) => Region.make(c.region))
    const service = yield* ComputeProvider.make({
      id: provider,
      capabilities: new Capabilities.Capabilities({
        regions: regions as unknown as readonly [Region.Region, ...Array<Region.Region>],
        sizes: ["dev", "standard", "performance", "high-perf"],
        unsupported: {
          sleep: "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
          suspend: "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
          edge: "ECS runs in AWS regions, not at the edge"
        },
        startLatencySeconds: { cold: 150, warm: 10 }
      }),
      create: (task) =>
        Effect.suspend(() => {
          const sessionId = `ecs-${task.taskId}`
          const cluster = byRegion.get(task.region)
          if (cluster === undefined)
            return Effect.fail(
              new ComputeError.InvalidRequest({
                ...context("create"),
                field: "region",
                expected: `one of ${[...byRegion.keys()].join(", ")}`,
                actual: task.region
              })
            )
          const existing = sessions.get(sessionId)
          const state: SessionState =
            existing !== undefined && !existing.destroyed
              ? existing
              : { task, cluster, tasks: existing?.tasks ?? [], destroyed: false }
          sessions.set(sessionId, state)
          return Effect.map(ensureRunning(sessionId, state), (running) =>
            toSession(sessionId, state, running)
          )
        }),
      get: (sessionId) =>
        Effect.map(sessionOf(sessionId, "get"), (state) => toSession(sessionId, state, describe(state))),
      start: (sessionId) =>
        Effect.flatMap(sessionOf(sessionId, "start"), (state) =>
          Effect.map(ensureRunning(sessionId, state), (task) => toSession(sessionId, state, task))
        ),
      stop,
      destroy: (sessionId) =>
        Effect.zipRight(
          stop(sessionId),
          Effect.sync(() => {
            const state = sessions.get(sessionId)
            if (state !== undefined) state.destroyed = true
          })
        ),
      exec: (sessionId, command) => exec(sessionId, command),
      list: () =>
        Effect.sync(() =>
          [...sessions].flatMap(([sessionId, state]) => {
            const task = describe(state)
            return task === undefined || task.lastStatus === "STOPPED"
              ? []
              : [toSession(sessionId, state, task)]
          })
        ),
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
    return {
      provider: service,
      taskRunningSeconds: () => {
        settle()
        let seconds = settledSeconds
        for (const task of unsettled) seconds += runningSeconds(task)
        return seconds
      }
    }
  })
