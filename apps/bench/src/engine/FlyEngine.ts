/**
 * Fly.io in the engine: a provider built with core's `ComputeProvider.make` directly over the fly-simulator's
 * `FlyModel`, doing per session what FlyProvider does over the Machines API — an app per repository, a volume
 * and one machine named `workspace-<region>` per repository and region, woken and put to sleep under a short
 * lease, waited for until it reaches a state — but as model calls in virtual time, with no HTTP. The model's
 * timing, seeded jitter and per-machine ledger are the simulator's own, so the bill is the simulator's bill.
 */
import { setMaxListeners } from "node:events"
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  Pricing,
  Region,
  Session,
  type TaskResult,
  type TaskSpec,
  Usage
} from "@hangar/core"
import { FlyModel } from "@hangar/fly-simulator/model"
import * as FlyConventions from "@hangar/provider-fly/conventions"
import * as FlyCostModel from "@hangar/provider-fly/cost-model"
import { Effect, FiberRef } from "effect"
import * as Commands from "./Commands.js"
import type { EngineClock } from "./EngineClock.js"

export interface Options {
  readonly model: FlyModel.FlyModel
  readonly clock: EngineClock
  readonly regions: ReadonlyArray<string>
  /** Where `edge` tasks go. */
  readonly primaryRegion: string
  readonly volumeSizeGb: number
  /** Fly Proxy autostop of created machines when the idle policy leaves sleep to the platform. */
  readonly autostop: "off" | "stop" | "suspend"
  readonly appPrefix?: string
  /** Concurrent sessions a repository's machine in a region holds, sized for them (as FlyProvider's option). */
  readonly sessionsPerMachine?: (repository: string, region: string) => number
}

const provider = "fly" as TaskSpec.ProviderId
const org = "personal"
const image = "ghcr.io/hangar/agent:latest"
const volumeName = "workspace"
const mountPath = "/workspace"
/**
 * As FlyProvider: a lease long enough for one mutation; a wait gives up after five minutes (FlyProvider's call
 * deadline, which in the engine only a wait could reach: model calls take no time).
 */
const leaseTtlSeconds = 30
const deadlineMillis = 5 * 60_000
const execLimitSeconds = 3600

/** FlyProvider's app name for a repository: lower case, [a-z0-9-], at most 63 characters. */
/** As FlyProvider names a repository's app and reports a machine's state (one mapping, so the two agree). */
export const appName = FlyConventions.appName
const statusOf = FlyConventions.statusOf

/** A refusal of the model as FlyClient maps the API's answer to it. */
const fromSimError = (error: unknown, method: string): ComputeError.ComputeError => {
  if (!(error instanceof FlyModel.SimError))
    return ComputeError.normalise(error, { module: "FlyEngine", method, provider })
  const context = { module: "FlyEngine", method, provider }
  if (error.status === 404)
    return new ComputeError.SessionNotFound({ ...context, reason: "Unknown", sessionId: error.message })
  if (error.status === 409 || error.status === 412)
    return new ComputeError.InvalidRequest({
      ...context,
      reason: "Conflict",
      field: "machine",
      expected: error.message
    })
  return new ComputeError.ProviderUnavailable({ ...context, reason: "Unknown", detail: error.message })
}

const timeout = (method: string, millis: number, lastError?: string) =>
  new ComputeError.Timeout({
    module: "FlyEngine",
    method,
    provider,
    reason: "Deadline",
    timeoutMillis: millis,
    ...(lastError === undefined ? {} : { lastError })
  })

/** What every function of the engine's Fly side works on. */
interface Env {
  readonly model: FlyModel.FlyModel
  readonly clock: EngineClock
  readonly prefix: string
  readonly options: Options
}

// ---- model calls

/** A model call; a refusal becomes the error FlyClient would have given for the API's answer. */
const attempt = <A>(method: string, f: () => A) =>
  Effect.try({ try: f, catch: (e) => fromSimError(e, method) })

const machineOf = (env: Env, sessionId: string, method: string) =>
  attempt(method, () => {
    const [app = "", id = ""] = sessionId.split("/")
    return env.model.machine(app, id)
  })

/** A mutation under a short lease, released afterwards (unless it destroyed the machine). */
const leased = (
  env: Env,
  m: FlyModel.Machine,
  method: string,
  mutate: (nonce: string) => void,
  destroys = false
) =>
  attempt(method, () => {
    const lease = env.model.acquireLease(m, leaseTtlSeconds, "hangar")
    try {
      mutate(lease.nonce)
    } catch (error) {
      env.model.releaseLease(m, lease.nonce)
      throw error
    }
    if (!destroys) env.model.releaseLease(m, lease.nonce)
  })

/** Waits until the machine's state passes `reached`, as the Machines API's wait does; a Timeout after the deadline. */
const waitFor = (env: Env, m: FlyModel.Machine, reached: (state: string) => boolean, what: string) =>
  Effect.suspend(() => {
    const now = m.state
    if (reached(now)) return Effect.succeed(now)
    return Effect.async<string, ComputeError.ComputeError>((resume) => {
      const { clock, model } = env
      const startedAt = clock.now()
      let cancel = () => {}
      const watcher = () => {
        const state = m.state
        if (reached(state)) {
          m.watchers.delete(watcher)
          cancel()
          resume(Effect.succeed(state))
        } else model.wake(m)
      }
      m.watchers.add(watcher)
      model.wake(m)
      cancel = clock.schedule(startedAt + deadlineMillis, () => {
        m.watchers.delete(watcher)
        resume(Effect.fail(timeout("wait", deadlineMillis, `machine ${m.id} did not reach ${what}`)))
      })
      return Effect.sync(() => {
        m.watchers.delete(watcher)
        cancel()
      })
    })
  })

const toSession = (m: FlyModel.Machine, taskId?: string) =>
  new Session.Session(
    {
      id: `${m.app}/${m.id}`,
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

// ---- lifecycle

/** Starts (or resumes) the machine unless it is started or starting, then waits until it is started. */
const ensureRunning = (env: Env, m: FlyModel.Machine) =>
  Effect.suspend(() => {
    const state = m.state
    if (state === "started") return Effect.void
    const start =
      state === "starting" ? Effect.void : leased(env, m, "start", (nonce) => void env.model.start(m, nonce))
    return Effect.zipRight(
      start,
      waitFor(env, m, (s) => s === "started", "started")
    )
  })

const machineConfig = (env: Env, task: TaskSpec.TaskSpec, volumeId: string, hangarManagesSleep: boolean) => {
  const region = task.region === "edge" ? env.options.primaryRegion : task.region
  const preset = Pricing.flyGuestForSessions(
    task.size,
    env.options.sessionsPerMachine?.(task.repository, region) ?? 1
  )
  const autostop = hangarManagesSleep || env.options.autostop === "off" ? false : env.options.autostop
  return {
    image,
    guest: { cpu_kind: preset.cpuKind, cpus: preset.cpus, memory_mb: preset.memoryMb },
    env: FlyConventions.taskEnv(task),
    restart: FlyConventions.restartPolicy,
    auto_destroy: false,
    services: [
      {
        protocol: "tcp",
        internal_port: 8080,
        autostop,
        autostart: true,
        min_machines_running: 0,
        ports: [{ port: 443, handlers: ["http", "tls"] }]
      }
    ],
    mounts: [{ volume: volumeId, path: mountPath }],
    metadata: { hangar_task_id: task.taskId }
  }
}

/** The repository's machine in the task's region: found, or made (with its app and volume) and launched. */
const findOrLaunch = (env: Env, task: TaskSpec.TaskSpec, hangarManagesSleep: boolean) =>
  attempt("create", () => {
    const { model, options } = env
    const app = appName(env.prefix, task.repository)
    const region = task.region === "edge" ? options.primaryRegion : task.region
    const name = `workspace-${region}`
    const newApp = !model.apps.has(app)
    if (newApp) model.createApp(app, org)
    const found = newApp
      ? undefined
      : model
          .listMachines(app, { region })
          .find((m) => m.name === name && m.state !== "destroyed" && m.state !== "destroying")
    if (found !== undefined) {
      model.setMetadata(found, "hangar_task_id", task.taskId)
      return found
    }
    const volume =
      (newApp
        ? undefined
        : model
            .listVolumes(app)
            .find((v) => v.region === region && v.name === volumeName && v.state === "created")) ??
      model.createVolume(app, { name: volumeName, region, sizeGb: options.volumeSizeGb, encrypted: true })
    return model.createMachine(app, {
      name,
      region,
      config: machineConfig(env, task, volume.id, hangarManagesSleep)
    })
  })

const create = (env: Env, task: TaskSpec.TaskSpec) =>
  Effect.gen(function* () {
    const hangarManagesSleep = yield* FiberRef.get(ComputeProvider.sleepManagedByHangar)
    const m = yield* findOrLaunch(env, task, hangarManagesSleep)
    yield* ensureRunning(env, m)
    return toSession(m, task.taskId)
  })

/** Stop, or suspend (a machine above 2 GB is stopped instead, as Fly does): waits until it settles. */
const transition = (env: Env, sessionId: string, action: "stop" | "suspend") =>
  Effect.gen(function* () {
    const m = yield* machineOf(env, sessionId, action)
    const state = m.state
    const settled = state === "stopped" || (action === "suspend" && state === "suspended")
    if (!settled) {
      if (state !== "stopping" && state !== "suspending")
        yield* leased(env, m, action, (nonce) =>
          action === "stop" ? env.model.stop(m, nonce) : env.model.suspend(m, nonce)
        )
      yield* waitFor(
        env,
        m,
        action === "stop" ? (s) => s === "stopped" : (s) => s === "suspended" || s === "stopped",
        action === "stop" ? "stopped" : "suspended or stopped"
      )
    }
    return toSession(m)
  })

/**
 * The command on the machine, for as long as the scripted backend says it runs, counted by the Fly Proxy as
 * an open connection (the agent's session); a machine that stops under it kills it (exit 137).
 */
const exec = (
  env: Env,
  sessionId: string,
  command: ReadonlyArray<string>,
  timeoutSeconds: number | undefined
) =>
  Effect.flatMap(machineOf(env, sessionId, "exec"), (m) => {
    const { clock, model } = env
    if (m.state !== "started")
      return Effect.fail(
        fromSimError(new FlyModel.SimError(412, `machine is not started (state: ${m.state})`), "exec")
      )
    const outcome = Commands.outcomeOf(command)
    const limitMillis = Math.max(1, Math.ceil(timeoutSeconds ?? execLimitSeconds)) * 1000
    return Effect.async<TaskResult.TaskResult, ComputeError.ComputeError>((resume) => {
      const startedAt = clock.now()
      const signal = m.signal
      // Every command running on the machine listens for it stopping (concurrent tasks share a machine).
      setMaxListeners(0, signal)
      m.activity++
      m.inFlight++
      let ended = false
      const end = () => {
        ended = true
        signal.removeEventListener("abort", onAbort)
        model.release(m)
      }
      const onAbort = () => {
        if (ended) return
        end()
        cancel()
        resume(Effect.succeed(Commands.killed(clock.now() - startedAt)))
      }
      signal.addEventListener("abort", onAbort)
      const cancel = clock.schedule(startedAt + Math.min(outcome.durationMillis, limitMillis), () => {
        if (ended) return
        end()
        resume(
          outcome.durationMillis > limitMillis
            ? Effect.fail(
                timeout("exec", limitMillis, `the command ran past its ${limitMillis / 1000} s limit`)
              )
            : Effect.succeed(Commands.result(outcome))
        )
      })
      return Effect.sync(() => {
        if (ended) return
        end()
        cancel()
      })
    })
  })

const usage = (env: Env, sessionId: string) =>
  Effect.map(machineOf(env, sessionId, "usage"), (m) => {
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
    const env: Env = {
      model: options.model,
      clock: options.clock,
      prefix: options.appPrefix ?? "hangar",
      options
    }
    const { model, prefix } = env
    return yield* ComputeProvider.make(
      {
        id: provider,
        capabilities: new Capabilities.Capabilities({
          regions: options.regions.map(Region.make) as unknown as readonly [
            Region.Region,
            ...Array<Region.Region>
          ],
          sizes: ["dev", "standard", "performance", "high-perf"],
          unsupported: { gpu: "Fly deprecated GPUs (2026-02-11)" },
          startLatencySeconds: { cold: 13, warm: 0.4 }
        }),
        costModel: FlyCostModel.make(),
        create: (task) => create(env, task),
        get: (sessionId) =>
          Effect.flatMap(machineOf(env, sessionId, "get"), (m) =>
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
        start: (sessionId) =>
          Effect.flatMap(machineOf(env, sessionId, "start"), (m) =>
            Effect.as(ensureRunning(env, m), toSession(m))
          ),
        stop: (sessionId) => transition(env, sessionId, "stop"),
        suspend: (sessionId) => transition(env, sessionId, "suspend"),
        destroy: (sessionId) =>
          Effect.flatMap(machineOf(env, sessionId, "destroy"), (m) =>
            Effect.zipRight(
              leased(env, m, "destroy", (nonce) => model.destroy(m, true, nonce), true),
              Effect.asVoid(waitFor(env, m, (s) => s === "destroyed", "destroyed"))
            )
          ),
        exec: (sessionId, command, execOptions) => exec(env, sessionId, command, execOptions.timeoutSeconds),
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
