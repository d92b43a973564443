/**
 * Fly.io in the engine as a provider: core's `ComputeProvider.make` over FlyMachines' operations on the
 * fly-simulator's `FlyModel` (the Router's engine run; the kernel calls the operations directly).
 */
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  Region,
  Session,
  type TaskSpec,
  Usage
} from "@hangar/core"
import type { FlyModel } from "@hangar/fly-simulator/model"
import * as FlyCostModel from "@hangar/provider-fly/cost-model"
import { Effect, FiberRef } from "effect"
import { toEffect } from "./Callbacks.js"
import * as FlyMachines from "./FlyMachines.js"

export type Options = FlyMachines.Options
export const appName = FlyMachines.appName
const { provider, statusOf } = FlyMachines
type Env = FlyMachines.Env

/** What the engine's Fly side can do: every size in the given regions, no GPU. */
export const capabilities = (regions: ReadonlyArray<string>) =>
  new Capabilities.Capabilities({
    regions: regions.map(Region.make) as unknown as readonly [Region.Region, ...Array<Region.Region>],
    sizes: ["dev", "standard", "performance", "high-perf"],
    unsupported: { gpu: "Fly deprecated GPUs (2026-02-11)" },
    startLatencySeconds: { cold: 13, warm: 0.4 }
  })

const toSession = (m: FlyModel.Machine, taskId?: string) =>
  new Session.Session(
    {
      id: FlyMachines.sessionIdOf(m),
      provider,
      taskId: (taskId ??
        m.metadata.get("hangar_task_id") ??
        m.config.env?.TASK_ID ??
        "unknown") as TaskSpec.TaskId,
      repository: (m.config.env?.REPOSITORY ?? m.app) as TaskSpec.Repository,
      region: m.region as Region.Region,
      status: statusOf(m.state),
      metadata: { app: m.app, machineId: m.id, region: m.region }
    },
    true
  )

const usage = (env: Env, sessionId: string) =>
  Effect.map(FlyMachines.machineOf(env, sessionId, "usage"), (m) => {
    void m.state
    const seconds = { ...Usage.zeroSeconds }
    let cost = 0
    const open = m.openInterval(env.clock.now())
    const add = (state: string, millis: number, microUsd: number) => {
      cost += microUsd
      const s = millis / 1000
      if (state === "created") seconds.provisioning += s
      else if (state === "suspended") seconds.suspended += s
      else if (state === "stopped") seconds.stopped += s
      else seconds.running += s
    }
    for (const [state, entry] of Object.entries(m.ledger))
      if (entry !== undefined) add(state, entry.millis, entry.costMicroUsd)
    if (open !== undefined) add(open.state, open.millis, open.costMicroUsd)
    return new Usage.Usage({ sessionId, seconds, costMicroUsd: cost as Usage.Usage["costMicroUsd"] })
  })

export const make = (options: Options): Effect.Effect<ComputeProvider.ComputeProvider> =>
  Effect.gen(function* () {
    const env = FlyMachines.envOf(options)
    const { model, prefix } = env
    return yield* ComputeProvider.make(
      {
        id: provider,
        capabilities: capabilities(options.regions),
        costModel: FlyCostModel.make(),
        create: (task) =>
          Effect.flatMap(FiberRef.get(ComputeProvider.sleepManagedByHangar), (hangarManagesSleep) =>
            Effect.map(toEffect(FlyMachines.create(env, task, hangarManagesSleep)), (m) =>
              toSession(m, task.taskId)
            )
          ),
        get: (sessionId) =>
          Effect.flatMap(FlyMachines.machineOf(env, sessionId, "get"), (m) =>
            m.state === "destroyed"
              ? Effect.fail(
                  new ComputeError.SessionNotFound({
                    module: "FlyEngine",
                    method: "get",
                    provider,
                    reason: "Destroyed",
                    sessionId
                  })
                )
              : Effect.succeed(toSession(m))
          ),
        start: (sessionId) => Effect.map(toEffect(FlyMachines.start(env, sessionId)), (m) => toSession(m)),
        stop: (sessionId) =>
          Effect.map(toEffect(FlyMachines.transition(env, sessionId, "stop")), (m) => toSession(m)),
        suspend: (sessionId) =>
          Effect.map(toEffect(FlyMachines.transition(env, sessionId, "suspend")), (m) => toSession(m)),
        destroy: (sessionId) => Effect.asVoid(toEffect(FlyMachines.destroy(env, sessionId))),
        exec: (sessionId, command, execOptions) =>
          toEffect(FlyMachines.exec(env, sessionId, command, execOptions.timeoutSeconds)),
        list: () =>
          Effect.sync(() =>
            [...model.machines.values()]
              .filter((m) => m.app.startsWith(`${prefix}-`) && m.state !== "destroyed")
              .map((m) => toSession(m))
          ),
        usage: (sessionId) => usage(env, sessionId)
      },
      {
        retry: { deadline: "2 minutes" }
      }
    )
  })
