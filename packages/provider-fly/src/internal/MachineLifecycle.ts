/**
 * Machine lifecycle: an app per repository, one machine per repository and region named `workspace-<region>`
 * with its workspace volume, woken (under a lease) and waited for; stop, suspend and destroy waited for until
 * they settle. Creates are serialised per repository and region, lifecycle changes per machine.
 */
import { ComputeError, ComputeProvider, type Region, Session, type TaskSpec } from "@hangar/core"
import { Effect, FiberRef, Schema } from "effect"
import { appName, statusOf } from "../Conventions.js"
import * as FlySchemas from "../FlySchemas.js"
import * as EventLedger from "./EventLedger.js"
import { type FlyEnvironment, locked, machinePath, parseSessionId, wanted } from "./FlyEnvironment.js"
import { getMachine, postUnderLease, waitFor, withLease } from "./LeasesAndWaits.js"
import * as MachineConfiguration from "./MachineConfiguration.js"
import { origin, providerId } from "./Provenance.js"

const Machines = Schema.Array(FlySchemas.Machine)
const Volumes = Schema.Array(FlySchemas.Volume)

/** The machine as a session; the task's fields from its metadata and env, else from `fallbackTask`. */
export const toSession = (app: string, machine: FlySchemas.Machine, fallbackTask?: TaskSpec.TaskSpec) =>
  new Session.Session({
    id: `${app}/${machine.id}`,
    provider: providerId,
    taskId: (machine.config?.metadata?.hangar_task_id ??
      machine.config?.env?.TASK_ID ??
      fallbackTask?.taskId ??
      "unknown") as TaskSpec.TaskId,
    repository: (machine.config?.env?.REPOSITORY ?? fallbackTask?.repository ?? app) as TaskSpec.Repository,
    region: machine.region as Region.Region,
    status: statusOf(machine.state),
    metadata: {
      app,
      machineId: machine.id,
      region: machine.region,
      privateIp: machine.private_ip ?? "",
      state: machine.state
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Apps and volumes
// ---------------------------------------------------------------------------------------------------------------

/** Makes sure the app exists; true when this call created it (so it has no machines or volumes yet). */
const ensureApp = (env: FlyEnvironment, app: string): Effect.Effect<boolean, ComputeError.ComputeError> =>
  env.state.knownApps.has(app)
    ? Effect.succeed(false)
    : Effect.tap(lookUpOrCreateApp(env, app), () => env.state.knownApps.add(app))

const lookUpOrCreateApp = (env: FlyEnvironment, app: string) =>
  env.client.request("GET", `/apps/${app}`, FlySchemas.Ok).pipe(
    Effect.as(false),
    Effect.catchTag("SessionNotFound", () =>
      env.client
        .request("POST", "/apps", FlySchemas.Ok, { body: { app_name: app, org_slug: env.settings.org } })
        .pipe(
          Effect.as(true),
          // Created meanwhile by someone else, who may have made machines in it.
          Effect.catchTag("InvalidRequest", (e) =>
            e.reason === "Conflict" ? Effect.succeed(false) : Effect.fail(e)
          )
        )
    )
  )

/** `newApp`: the app was created by this call, so it has no volume to look for. */
const ensureVolume = (env: FlyEnvironment, app: string, region: string, newApp: boolean) =>
  Effect.gen(function* () {
    const volumeName = MachineConfiguration.volumeName(env)
    const volumes = newApp ? [] : yield* env.client.request("GET", `/apps/${app}/volumes`, Volumes)
    const existing = volumes.find(
      (v) => v.region === region && v.name === volumeName && v.state === "created"
    )
    if (existing !== undefined) return existing
    return yield* env.client.request("POST", `/apps/${app}/volumes`, FlySchemas.Volume, {
      body: { name: volumeName, region, size_gb: env.settings.volumeSizeGb, encrypted: true }
    })
  })

// ---------------------------------------------------------------------------------------------------------------
// Creating and waking
// ---------------------------------------------------------------------------------------------------------------

/** Starts the machine unless it runs or is starting, and waits until it has started. */
const ensureRunning = (
  env: FlyEnvironment,
  app: string,
  machine: FlySchemas.Machine,
  again = true
): Effect.Effect<FlySchemas.Machine, ComputeError.ComputeError> =>
  Effect.gen(function* () {
    if (machine.state !== "started") {
      if (machine.state !== "starting") yield* postUnderLease(env, app, machine.id, "start")
      yield* waitFor(env, app, machine.id, "state=started")
      // Started, as the wait just answered. (Events are recorded when the machine next goes to sleep or its
      // usage is asked for: a wake adds a handful, far inside the 50 the API keeps.)
      return { ...machine, state: "started" }
    }
    // Read as started, perhaps before someone else put it to sleep: look again, and start it once more.
    const current = yield* getMachine(env, app, machine.id)
    return current.state === "started" || !again ? current : yield* ensureRunning(env, app, current, false)
  })

const findMachine = (env: FlyEnvironment, app: string, region: string, name: string) =>
  Effect.map(env.client.request("GET", `/apps/${app}/machines?region=${region}`, Machines), (all) =>
    all.find((m) => m.name === name && m.state !== "destroyed" && m.state !== "destroying")
  )

/**
 * A new machine for the task, with its volume. Fly launches it (answered as `created`, it is on its way to
 * started, so it is only waited for), with the task's id in its metadata already. One created meanwhile by a
 * create that lost its answer is found by name.
 */
const launchMachine = (
  env: FlyEnvironment,
  task: TaskSpec.TaskSpec,
  app: string,
  region: string,
  newApp: boolean
) =>
  Effect.gen(function* () {
    const name = `workspace-${region}`
    const volume = yield* ensureVolume(env, app, region, newApp)
    const hangarManagesSleep = yield* FiberRef.get(ComputeProvider.sleepManagedByHangar)
    return yield* env.client
      .request("POST", `/apps/${app}/machines`, FlySchemas.Machine, {
        body: {
          name,
          region,
          config: MachineConfiguration.machineConfig(env, task, volume.id, hangarManagesSleep)
        }
      })
      .pipe(
        Effect.map((created) => ({ machine: { ...created, state: "starting" as const }, launched: true })),
        Effect.catchTag("InvalidRequest", (e) =>
          e.reason === "Conflict"
            ? Effect.flatMap(findMachine(env, app, region, name), (again) =>
                again === undefined ? Effect.fail(e) : Effect.succeed({ machine: again, launched: false })
              )
            : Effect.fail(e)
        )
      )
  })

/** Wakes the machine for the create of `taskId`, remembering the machine if this create is what wakes it. */
const wakeFor = (env: FlyEnvironment, taskId: string, app: string, machine: FlySchemas.Machine) =>
  locked(
    env,
    machine.id
  )(
    Effect.suspend(() => {
      env.state.sleepAllowed.delete(machine.id)
      // Every create wants the machine (so a failed create's clean-up leaves alone one that another
      // create found running); this create remembers its latest want if it is the one that wakes it.
      const wake = wanted(env, machine.id)
      if (machine.state !== "started" || env.state.touched.has(taskId)) {
        env.state.touched.set(taskId, { app, machineId: machine.id, wake })
      }
      return ensureRunning(env, app, machine)
    })
  )

/** The repository's machine in the task's region, found or launched, and running. */
export const create = (env: FlyEnvironment, task: TaskSpec.TaskSpec) =>
  Effect.gen(function* () {
    const app = appName(env.settings.appPrefix, task.repository)
    const region = MachineConfiguration.regionFor(env, task)
    // The region's lock is held until the machine is up, so a create waiting for it finds the machine as
    // this one left it (not a state read before it was woken).
    const { running, launched } = yield* locked(
      env,
      `${app}/${region}`
    )(
      Effect.gen(function* () {
        const newApp = yield* ensureApp(env, app)
        const found = newApp ? undefined : yield* findMachine(env, app, region, `workspace-${region}`)
        const { machine, launched } =
          found !== undefined
            ? { machine: found, launched: false }
            : yield* launchMachine(env, task, app, region, newApp)
        return { running: yield* wakeFor(env, task.taskId, app, machine), launched }
      })
    )
    if (!launched) {
      yield* env.client.request(
        "POST",
        `${machinePath(app, running.id)}/metadata/hangar_task_id`,
        FlySchemas.Ok,
        {
          body: { value: task.taskId }
        }
      )
    }
    return toSession(
      app,
      { ...running, config: { ...running.config, metadata: { hangar_task_id: task.taskId } } },
      task
    )
  })

// ---------------------------------------------------------------------------------------------------------------
// The session's lifecycle
// ---------------------------------------------------------------------------------------------------------------

export const get = (env: FlyEnvironment, sessionId: string) =>
  Effect.gen(function* () {
    const { app, machine } = yield* parseSessionId(sessionId)
    const m = yield* getMachine(env, app, machine)
    if (m.state === "destroyed") {
      return yield* new ComputeError.SessionNotFound({ ...origin("get"), reason: "Destroyed", sessionId })
    }
    return toSession(app, m)
  })

export const start = (env: FlyEnvironment, sessionId: string) =>
  Effect.gen(function* () {
    const { app, machine } = yield* parseSessionId(sessionId)
    return toSession(app, yield* ensureRunning(env, app, yield* getMachine(env, app, machine)))
  })

/** Stop, or suspend (which Fly turns into a stop for a machine above 2 GB): waits until it settles. */
export const transition = (env: FlyEnvironment, sessionId: string, action: "stop" | "suspend") =>
  Effect.gen(function* () {
    const { app, machine } = yield* parseSessionId(sessionId)
    const m = yield* getMachine(env, app, machine)
    const settled = m.state === "stopped" || (action === "suspend" && m.state === "suspended")
    if (!settled) {
      if (m.state !== "stopping" && m.state !== "suspending") yield* postUnderLease(env, app, machine, action)
      const waited = yield* waitFor(
        env,
        app,
        machine,
        action === "stop" ? "state=stopped" : "state=suspended,stopped"
      )
      yield* EventLedger.recordEvents(env, app, machine)
      return toSession(app, { ...m, state: waited.state ?? (action === "stop" ? "stopped" : "suspended") })
    }
    yield* EventLedger.recordEvents(env, app, machine)
    return toSession(app, m)
  })

export const destroy = (env: FlyEnvironment, sessionId: string) =>
  Effect.gen(function* () {
    const { app, machine } = yield* parseSessionId(sessionId)
    yield* withLease(
      env,
      app,
      machine,
      (nonce) =>
        env.client.request("DELETE", `${machinePath(app, machine)}?force=true`, FlySchemas.Ok, { nonce }),
      true
    )
    yield* waitFor(env, app, machine, "state=destroyed")
    yield* EventLedger.recordEvents(env, app, machine)
  })

/** Every machine not destroyed in this provider's apps. */
export const list = (env: FlyEnvironment) =>
  Effect.gen(function* () {
    const apps = yield* env.client.request("GET", "/apps", FlySchemas.AppList)
    const ours = apps.apps.filter((a) => a.name.startsWith(`${env.settings.appPrefix}-`))
    const sessions = yield* Effect.forEach(ours, (a) =>
      Effect.map(env.client.request("GET", `/apps/${a.name}/machines`, Machines), (machines) =>
        machines.filter((m) => m.state !== "destroyed").map((m) => toSession(a.name, m))
      )
    )
    return sessions.flat()
  })
