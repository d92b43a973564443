/**
 * ECS on EC2 in the engine as a provider: core's `ComputeProvider.make` over EcsTasks' operations on the
 * ecs-simulator's `EcsModel` (the Router's engine run; the kernel calls the operations directly).
 */
import { Capabilities, ComputeError, ComputeProvider, Region, Session } from "@hangar/core"
import * as EcsCostModel from "@hangar/provider-ecs/cost-model"
import { Effect } from "effect"
import { toEffect } from "./Callbacks.js"
import * as EcsTasks from "./EcsTasks.js"

export type RegionCluster = EcsTasks.RegionCluster
export type Options = EcsTasks.Options
const { provider } = EcsTasks

export interface EcsEngine {
  readonly provider: ComputeProvider.ComputeProvider
  /** Seconds every task the engine started spent RUNNING (its recorded start to its stop, or now). */
  readonly taskRunningSeconds: () => number
}

const toSession = (sessionId: string, state: EcsTasks.SessionState, task: EcsTasks.Task | undefined) =>
  new Session.Session(
    {
      id: sessionId,
      provider,
      taskId: state.task.taskId,
      repository: state.task.repository,
      region: state.task.region,
      status: EcsTasks.statusOf(task),
      metadata: { cluster: state.cluster.cluster, taskArn: task?.arn ?? "" }
    },
    true
  )

const unsupported = {
  sleep: "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
  suspend: "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
  edge: "ECS runs in AWS regions, not at the edge"
}

/** What the engine's ECS side can do: every size in its clusters' regions; no sleep, no edge. */
export const capabilities = (clusters: ReadonlyArray<RegionCluster>) =>
  new Capabilities.Capabilities({
    regions: clusters.map((c) => Region.make(c.region)) as unknown as readonly [
      Region.Region,
      ...Array<Region.Region>
    ],
    sizes: ["dev", "standard", "performance", "high-perf"],
    unsupported,
    startLatencySeconds: { cold: 150, warm: 10 }
  })

export const make = (options: Options): Effect.Effect<EcsEngine> =>
  Effect.gen(function* () {
    const engine = EcsTasks.stateOf(options)
    const answered = (sessionId: string, operation: EcsTasks.Operation<EcsTasks.Answer>) =>
      Effect.map(toEffect(operation), ({ state, task }) => toSession(sessionId, state, task))
    const service = yield* ComputeProvider.make({
      id: provider,
      capabilities: capabilities(options.clusters),
      costModel: EcsCostModel.make(),
      create: (task) => answered(EcsTasks.sessionIdOf(task.taskId), EcsTasks.create(engine, task)),
      get: (sessionId) =>
        Effect.map(EcsTasks.sessionOf(engine, sessionId, "get"), (state) =>
          toSession(sessionId, state, EcsTasks.describe(state))
        ),
      start: (sessionId) => answered(sessionId, EcsTasks.start(engine, sessionId)),
      stop: (sessionId) => answered(sessionId, EcsTasks.stop(engine, sessionId)),
      destroy: (sessionId) =>
        Effect.zipRight(
          toEffect(EcsTasks.stop(engine, sessionId)),
          Effect.sync(() => {
            const state = engine.sessions.get(sessionId)
            if (state !== undefined) state.destroyed = true
          })
        ),
      exec: (sessionId, command) => toEffect(EcsTasks.exec(engine, sessionId, command)),
      list: () =>
        Effect.sync(() =>
          EcsTasks.live(engine).map(([sessionId, state, task]) => toSession(sessionId, state, task))
        ),
      // The cluster's instances are billed, not its tasks: the engine prices the cluster from its ledger and
      // does not attribute a share to each session.
      usage: () =>
        Effect.fail(
          new ComputeError.Unsupported({
            module: "EcsEngine",
            method: "usage",
            provider,
            feature: "usage",
            providerReason: "the engine bills ECS per cluster from the model's ledger, not per session"
          })
        )
    })
    return { provider: service, taskRunningSeconds: () => EcsTasks.taskRunningSeconds(engine) }
  })
