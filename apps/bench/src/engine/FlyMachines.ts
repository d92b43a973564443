/**
 * Fly.io in the engine, as plain operations on the fly-simulator's `FlyModel` (see Callbacks): per session what
 * FlyProvider does over the Machines API — an app per repository, a volume and one machine named
 * `workspace-<region>` per repository and region, woken and put to sleep under a short lease, waited for until
 * it reaches a state — but as model calls in virtual time, with no HTTP. The model's timing, seeded jitter and
 * per-machine ledger are the simulator's own, so the bill is the simulator's bill. FlyEngine makes them a
 * provider; the kernel calls them directly.
 */
import { setMaxListeners } from "node:events"
import { ComputeError, Pricing, type TaskResult, type TaskSpec } from "@hangar/core"
import { FlyModel } from "@hangar/fly-simulator/model"
import * as FlyConventions from "@hangar/provider-fly/conventions"
import { Either } from "effect"
import {
  andThen,
  type Cancel,
  type Done,
  fail,
  noCancel,
  type Operation,
  type Outcome,
  simulated,
  succeed
} from "./Callbacks.js"
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

export const provider = "fly" as TaskSpec.ProviderId
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

/** As FlyProvider names a repository's app and reports a machine's state (one mapping, so the two agree). */
export const appName = FlyConventions.appName
export const statusOf = FlyConventions.statusOf

/** A refusal of the model as FlyClient maps the API's answer to it. */
const fromSimError = (error: unknown, method: string): ComputeError.ComputeError =>
  simulated(() => fromSimErrorOf(error, method))

const fromSimErrorOf = (error: unknown, method: string): ComputeError.ComputeError => {
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
  simulated(() => timeoutOf(method, millis, lastError))

const timeoutOf = (method: string, millis: number, lastError?: string) =>
  new ComputeError.Timeout({
    module: "FlyEngine",
    method,
    provider,
    reason: "Deadline",
    timeoutMillis: millis,
    ...(lastError === undefined ? {} : { lastError })
  })

/** What every operation of the engine's Fly side works on. */
export interface Env {
  readonly model: FlyModel.FlyModel
  readonly clock: EngineClock
  readonly prefix: string
  readonly options: Options
  /** Each repository's app name, worked out once (a task's create asks for it every time). */
  readonly apps: Map<string, string>
}

export const envOf = (options: Options): Env => ({
  model: options.model,
  clock: options.clock,
  prefix: options.appPrefix ?? "hangar",
  options,
  apps: new Map()
})

const appOf = (env: Env, repository: string): string => {
  let app = env.apps.get(repository)
  if (app === undefined) {
    app = appName(env.prefix, repository)
    env.apps.set(repository, app)
  }
  return app
}

/** A session's id: the machine's app and id. */
export const sessionIdOf = (m: FlyModel.Machine): string => `${m.app}/${m.id}`

// ---- model calls

/** A model call; a refusal becomes the error FlyClient would have given for the API's answer. */
const attempt = <A>(method: string, f: () => A): Outcome<A> => {
  try {
    return Either.right(f())
  } catch (error) {
    return Either.left(fromSimError(error, method))
  }
}

export const machineOf = (env: Env, sessionId: string, method: string): Outcome<FlyModel.Machine> =>
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
): Outcome<void> =>
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
const waitFor =
  (env: Env, m: FlyModel.Machine, reached: (state: string) => boolean, what: string): Operation<string> =>
  (done) => {
    const now = m.state
    if (reached(now)) return succeed(done, now)
    const { clock, model } = env
    let cancelDeadline = noCancel
    const watcher = () => {
      const state = m.state
      if (reached(state)) {
        m.watchers.delete(watcher)
        cancelDeadline()
        done(Either.right(state))
      } else model.wake(m)
    }
    m.watchers.add(watcher)
    model.wake(m)
    cancelDeadline = clock.schedule(clock.now() + deadlineMillis, () => {
      m.watchers.delete(watcher)
      done(Either.left(timeout("wait", deadlineMillis, `machine ${m.id} did not reach ${what}`)))
    })
    return () => {
      m.watchers.delete(watcher)
      cancelDeadline()
    }
  }

/** `outcome` (of a model call) as the operation's answer, or `next` after it succeeded. */
const then = <A, B>(outcome: Outcome<A>, done: Done<B>, next: (value: A) => Cancel): Cancel =>
  Either.isLeft(outcome) ? fail(done, outcome.left) : next(outcome.right)

// ---- lifecycle

/** Starts (or resumes) the machine unless it is started or starting, then waits until it is started. */
const ensureRunning =
  (env: Env, m: FlyModel.Machine): Operation<FlyModel.Machine> =>
  (done) => {
    const state = m.state
    if (state === "started") return succeed(done, m)
    const started =
      state === "starting" ? Either.void : leased(env, m, "start", (nonce) => void env.model.start(m, nonce))
    return then(started, done, () =>
      andThen(
        waitFor(env, m, (s) => s === "started", "started"),
        (_, next: Done<FlyModel.Machine>) => succeed(next, m)
      )(done)
    )
  }

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
    const app = appOf(env, task.repository)
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

/** The task's machine (found or launched), started. With `hangarManagesSleep`, no platform autostop is set. */
export const create =
  (env: Env, task: TaskSpec.TaskSpec, hangarManagesSleep: boolean): Operation<FlyModel.Machine> =>
  (done) =>
    then(findOrLaunch(env, task, hangarManagesSleep), done, (m) => ensureRunning(env, m)(done))

/** Wakes the session's machine and waits until it is started. */
export const start =
  (env: Env, sessionId: string): Operation<FlyModel.Machine> =>
  (done) =>
    then(machineOf(env, sessionId, "start"), done, (m) => ensureRunning(env, m)(done))

/** Stop, or suspend (a machine above 2 GB is stopped instead, as Fly does): waits until it settles. */
export const transition =
  (env: Env, sessionId: string, action: "stop" | "suspend"): Operation<FlyModel.Machine> =>
  (done) =>
    then(machineOf(env, sessionId, action), done, (m) => {
      const state = m.state
      if (state === "stopped" || (action === "suspend" && state === "suspended")) return succeed(done, m)
      const asked =
        state === "stopping" || state === "suspending"
          ? Either.void
          : leased(env, m, action, (nonce) =>
              action === "stop" ? env.model.stop(m, nonce) : env.model.suspend(m, nonce)
            )
      return then(asked, done, () =>
        andThen(
          waitFor(
            env,
            m,
            action === "stop" ? (s) => s === "stopped" : (s) => s === "suspended" || s === "stopped",
            action === "stop" ? "stopped" : "suspended or stopped"
          ),
          (_, next: Done<FlyModel.Machine>) => succeed(next, m)
        )(done)
      )
    })

export const destroy =
  (env: Env, sessionId: string): Operation<string> =>
  (done) =>
    then(machineOf(env, sessionId, "destroy"), done, (m) =>
      then(
        leased(env, m, "destroy", (nonce) => env.model.destroy(m, true, nonce), true),
        done,
        () => waitFor(env, m, (s) => s === "destroyed", "destroyed")(done)
      )
    )

/**
 * The command on the machine, for as long as the scripted backend says it runs, counted by the Fly Proxy as
 * an open connection (the agent's session); a machine that stops under it kills it (exit 137).
 */
export const exec =
  (
    env: Env,
    sessionId: string,
    command: ReadonlyArray<string>,
    timeoutSeconds: number | undefined
  ): Operation<TaskResult.TaskResult> =>
  (done) =>
    then(machineOf(env, sessionId, "exec"), done, (m) => {
      const { clock, model } = env
      if (m.state !== "started")
        return fail(
          done,
          fromSimError(new FlyModel.SimError(412, `machine is not started (state: ${m.state})`), "exec")
        )
      const outcome = Commands.outcomeOf(command)
      const limitMillis = Math.max(1, Math.ceil(timeoutSeconds ?? execLimitSeconds)) * 1000
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
        done(Either.right(Commands.killed(clock.now() - startedAt)))
      }
      signal.addEventListener("abort", onAbort)
      const cancel = clock.schedule(startedAt + Math.min(outcome.durationMillis, limitMillis), () => {
        if (ended) return
        end()
        done(
          outcome.durationMillis > limitMillis
            ? Either.left(
                timeout("exec", limitMillis, `the command ran past its ${limitMillis / 1000} s limit`)
              )
            : Either.right(Commands.result(outcome))
        )
      })
      return () => {
        if (ended) return
        end()
        cancel()
      }
    })
