/**
 * The Fly.io Machines plugin: an app per repository, one machine per repository and region that sleeps when
 * idle (suspend or stop) and keeps its workspace on a volume mounted at /workspace. Built through core's
 * `ComputeProvider.make`, so retries, spans, error normalisation, capability checks and idempotent creation
 * come from core; this module only speaks the Machines API.
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  Pricing,
  Region,
  Session,
  type TaskResult,
  type TaskSpec,
  Usage,
  type VirtualClock
} from "@hangar/core"
import {
  Clock,
  Config,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  Layer,
  type Redacted,
  Schedule,
  Schema,
  type Scope
} from "effect"
import { WebSocket } from "undici"
import * as BufferedHttpClient from "./BufferedHttpClient.js"
import * as FlyClient from "./FlyClient.js"
import * as FlySchemas from "./FlySchemas.js"
import * as FlyToml from "./FlyToml.js"
import * as LongExec from "./LongExec.js"

const Machines = Schema.Array(FlySchemas.Machine)
const MachineEvents = Schema.Array(FlySchemas.MachineEvent)
const Volumes = Schema.Array(FlySchemas.Volume)

export class FlyProvider extends Context.Tag("@hangar/provider-fly/FlyProvider")<
  FlyProvider,
  ComputeProvider.ComputeProvider
>() {}

/** A session's Fly Proxy WebSocket endpoint and a way to open it (the proxy wakes a sleeping machine). */
export interface Tunnel {
  /** `wss://<app>.fly.dev/<path>` on Fly; the simulator's proxy locally. */
  readonly endpoint: string
  /** Opens the WebSocket (routed to the session's machine); it is closed when the scope closes. */
  readonly connect: Effect.Effect<WebSocket, ComputeError.ComputeError, Scope.Scope>
}

/** The result of a global deployment: a session per region that answered, and the regions that failed. */
export interface GlobalDeployment {
  readonly sessions: ReadonlyArray<Session.Session>
  readonly failed: ReadonlyArray<{ readonly region: string; readonly error: ComputeError.ComputeError }>
}

/**
 * Fly's operations beside the provider contract, after the seed's FlyMachineManager: tasks counted per machine,
 * sleep allowed only while none is active, a machine in each of several regions in one call, and tunnels.
 */
export interface Machines {
  /** Wakes the session's machine if needed and runs `command` on it, counted as an active task. */
  readonly executeTask: (
    sessionId: string,
    command: ReadonlyArray<string>,
    options?: ComputeProvider.ExecOptions
  ) => Effect.Effect<TaskResult.TaskResult, ComputeError.ComputeError>
  /** Starts or resumes the machine and waits until it runs; takes back an earlier `allowSleep`. */
  readonly ensureRunning: (sessionId: string) => Effect.Effect<Session.Session, ComputeError.ComputeError>
  /**
   * Lets the machine sleep (suspend, or stop when it cannot suspend): now if no task of it is active, else
   * when the last active task ends. Tasks run later wake it and let it sleep again when they end.
   */
  readonly allowSleep: (sessionId: string) => Effect.Effect<Session.Session, ComputeError.ComputeError>
  /** Tasks running on the session's machine now. */
  readonly activeTasks: (sessionId: string) => number
  /** The seed's global deployment: the repository's machine in each region (task ids `<taskId>-<region>`). */
  readonly deployGlobal: (
    task: TaskSpec.TaskSpecInput,
    regions: ReadonlyArray<string>
  ) => Effect.Effect<GlobalDeployment, ComputeError.ComputeError>
  readonly tunnel: (sessionId: string, path?: string) => Effect.Effect<Tunnel, ComputeError.ComputeError>
  /**
   * What the Machines API reports of a running machine: its processes (`/ps`: CPU and RSS as Fly gives them) and
   * its memory (`/memory`). Disk and network are not in the Machines API (they are in Fly's Prometheus).
   */
  readonly metrics: (sessionId: string) => Effect.Effect<MachineMetrics, ComputeError.ComputeError>
  /** The fly.toml the provider was configured with, as imported (warnings included). */
  readonly flyToml: FlyToml.FlyToml | undefined
  /** Waits for background clean-ups (a machine woken for a create that failed is put back to sleep). */
  readonly awaitCleanups: Effect.Effect<void>
}

/** A machine's metrics as the Machines API gives them. */
export interface MachineMetrics {
  readonly sessionId: string
  readonly memoryLimitMb: number
  readonly memoryAvailableMb: number
  /** Sum over processes of `/ps`'s `cpu`, and of `rss` (bytes). */
  readonly cpu: number
  readonly rssBytes: number
  readonly processes: ReadonlyArray<{
    readonly pid: number
    readonly command: string
    readonly cpu: number
    readonly rss: number
  }>
}

export class FlyMachines extends Context.Tag("@hangar/provider-fly/FlyMachines")<FlyMachines, Machines>() {}

export interface Options {
  readonly baseUrl?: string
  readonly token: Redacted.Redacted<string>
  /** Apps are named `<appPrefix>-<repository>`. */
  readonly appPrefix?: string
  readonly org?: string
  readonly image?: string
  readonly regions?: ReadonlyArray<string>
  /** Where `edge` tasks go, and the region of the seed's fly.toml. */
  readonly primaryRegion?: string
  readonly volumeSizeGb?: number
  /** Fly Proxy autostop for created machines; "off" when a Hangar idle policy manages sleep. */
  readonly autostop?: "off" | "stop" | "suspend"
  /** Run over this fetch (an in-process simulator) instead of undici. */
  readonly fetch?: typeof fetch
  /** Run over this HttpClient instead (a proxy, a recorder); wins over `fetch`. */
  readonly httpClient?: Layer.Layer<HttpClient.HttpClient>
  /** Track every request on a simulation clock. */
  readonly clock?: VirtualClock.SimulationClock
  readonly retry?: Partial<ComputeProvider.RetryPolicy>
  /** How long one call may wait for a machine to reach a state (waits loop on Fly's 60 s cap). */
  readonly waitDeadline?: Duration.DurationInput
  /** No call of the provider takes longer than this (default 5 minutes); past it, a `Timeout` (Deadline). */
  readonly deadline?: Duration.DurationInput
  /** An app's fly.toml: its services, checks, env, mount, primary_region and [[vm]] size shape every machine. */
  readonly flyToml?: string
  /** The proxy URL of an app (default `wss://<app>.fly.dev`, or the simulator's `/_proxy/<app>` off Fly). */
  readonly proxyUrl?: (app: string) => string
}

const defaults = {
  baseUrl: "https://api.machines.dev",
  appPrefix: "hangar",
  org: "personal",
  image: "ghcr.io/hangar/agent:latest",
  regions: ["iad", "lhr", "nrt", "syd", "lax", "sjc", "ams", "fra", "sin"],
  primaryRegion: "iad",
  volumeSizeGb: 10,
  autostop: "suspend" as const
}

/** A valid Fly app name for a repository: lower case, [a-z0-9-], at most 63 characters. */
export const appName = (prefix: string, repository: string): string =>
  `${prefix}-${repository
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")}`
    .slice(0, 63)
    .replace(/-+$/, "")

const statusOf = (state: string): Session.SessionStatus =>
  state === "started"
    ? "running"
    : state === "created" || state === "starting"
      ? "provisioning"
      : state === "suspended" || state === "suspending"
        ? "suspended"
        : state === "destroyed" || state === "destroying"
          ? "destroyed"
          : state === "failed"
            ? "failed"
            : "stopped"

const parseSessionId = (sessionId: string) => {
  const [app, machine] = sessionId.split("/")
  if (app === undefined || machine === undefined || !/^[0-9a-f]{14}$/.test(machine)) {
    return Effect.fail(
      new ComputeError.SessionNotFound({
        module: "FlyProvider",
        method: "parse",
        provider: "fly",
        reason: "Unknown",
        sessionId
      })
    )
  }
  return Effect.succeed({ app, machine })
}

/** Seconds a lease is taken for: long enough for one mutation, short enough that a lost one soon expires. */
const leaseTtlSeconds = 30

const timeoutError = (method: string, millis: number, lastError?: string) =>
  new ComputeError.Timeout({
    module: "FlyProvider",
    method,
    provider: "fly",
    reason: "Deadline",
    timeoutMillis: millis,
    ...(lastError === undefined ? {} : { lastError })
  })

/** The provider and Fly's own operations over one set of options (and an imported fly.toml). */
export const makeAll = (
  options: Options,
  flyToml?: FlyToml.FlyToml
): Effect.Effect<
  { readonly provider: ComputeProvider.ComputeProvider; readonly machines: Machines },
  never,
  FlyClient.FlyClient
> =>
  Effect.gen(function* () {
    const settings = {
      ...defaults,
      ...options,
      primaryRegion: options.primaryRegion ?? flyToml?.primaryRegion ?? defaults.primaryRegion,
      volumeSizeGb: options.volumeSizeGb ?? flyToml?.mount?.sizeGb ?? defaults.volumeSizeGb
    }
    const volumeName = flyToml?.mount?.name ?? "workspace"
    const mountPath = flyToml?.mount?.path ?? "/workspace"
    const client = yield* FlyClient.FlyClient
    const regions = settings.regions
    /** Per machine: every state change seen, by event id (the API shows only the newest 50). */
    const ledgers = new Map<
      string,
      Map<string, { readonly event: FlySchemas.MachineEvent; readonly order: number }>
    >()
    const deadlineMillis = Duration.toMillis(settings.deadline ?? "5 minutes")
    const waitDeadline = Duration.toMillis(settings.waitDeadline ?? deadlineMillis)

    /** One lifecycle change at a time per key: a repository's region (get-or-create) or a machine. */
    const locks = new Map<string, Effect.Semaphore>()
    const locked = (key: string) => {
      let lock = locks.get(key)
      if (lock === undefined) {
        lock = Effect.unsafeMakeSemaphore(1)
        locks.set(key, lock)
      }
      return lock.withPermits(1)
    }
    /** Tasks running per machine, machines allowed to sleep, and a count of wakes asked for per machine. */
    const active = new Map<string, number>()
    const sleepAllowed = new Set<string>()
    const wakes = new Map<string, number>()
    const wanted = (machineId: string) => {
      const wake = (wakes.get(machineId) ?? 0) + 1
      wakes.set(machineId, wake)
      return wake
    }

    const machinePath = (app: string, id: string) => `/apps/${app}/machines/${id}`

    const recordEvents = (app: string, id: string) =>
      Effect.map(
        client.request("GET", `${machinePath(app, id)}/events?limit=50`, MachineEvents),
        (events) => {
          let ledger = ledgers.get(id)
          if (ledger === undefined) {
            ledger = new Map()
            ledgers.set(id, ledger)
          }
          // Newest first from the API: walk oldest first so that the order of first sight is the order of
          // events, which breaks ties between events of one millisecond (their ids need not sort in order).
          for (let i = events.length - 1; i >= 0; i--) {
            const event = events[i]!
            if (!ledger.has(event.id)) ledger.set(event.id, { event, order: ledger.size })
          }
        }
      )

    const getMachine = (app: string, id: string) =>
      client.request("GET", machinePath(app, id), FlySchemas.Machine)

    /**
     * Waits for one of `states`, asking again on each 408 until the wait deadline or the call's deadline, each
     * ask within Fly's 60 s cap.
     */
    const waitFor = (app: string, id: string, states: string) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const until = Math.min(started + waitDeadline, yield* FiberRef.get(ComputeProvider.callDeadlineAt))
        const ask = Effect.flatMap(Clock.currentTimeMillis, (now) =>
          now >= until
            ? Effect.fail(timeoutError("wait", now - started, `machine ${id} did not reach ${states}`))
            : client.request(
                "GET",
                `${machinePath(app, id)}/wait?${states}&timeout=${Math.min(60, Math.max(1, Math.ceil((until - now) / 1000)))}`,
                FlySchemas.WaitResponse
              )
        )
        // The retry is entered only on a 408, so an answered wait builds no schedule.
        const expired = (e: ComputeError.ComputeError) => e._tag === "Timeout" && e.reason === "WaitExpired"
        return yield* ask.pipe(Effect.catchIf(expired, () => Effect.retry(ask, { while: expired })))
      })

    /** A short lease; a lease someone else holds is waited for (it expires), until the call's deadline. */
    const acquireLease = (app: string, id: string) => {
      const acquire = client.request("POST", `${machinePath(app, id)}/lease`, FlySchemas.LeaseResponse, {
        body: { ttl: leaseTtlSeconds, description: "hangar" }
      })
      const held = (e: ComputeError.ComputeError) => e._tag === "RateLimited" && e.reason === "Throttled"
      // Entered only when the lease is held, so a lease taken at once builds no schedule.
      return acquire.pipe(
        Effect.catchIf(held, () =>
          Effect.retry(Effect.zipRight(Effect.sleep("1 second"), acquire), {
            schedule: Schedule.spaced("1 second"),
            while: (e) =>
              held(e)
                ? Effect.zipWith(
                    Clock.currentTimeMillis,
                    FiberRef.get(ComputeProvider.callDeadlineAt),
                    (now, deadline) => now + 1_000 < deadline
                  )
                : Effect.succeed(false)
          })
        )
      )
    }

    /**
     * Runs a mutation of a machine under a short lease, released afterwards; `destroys`: a mutation that
     * succeeded destroyed the machine, and its lease with it, so there is nothing left to release.
     */
    const withLease = <A>(
      app: string,
      id: string,
      mutate: (nonce: string) => Effect.Effect<A, ComputeError.ComputeError>,
      destroys = false
    ) =>
      Effect.acquireUseRelease(
        acquireLease(app, id),
        (lease) => mutate(lease.data.nonce),
        (lease, exit) =>
          destroys && Exit.isSuccess(exit)
            ? Effect.void
            : client
                .request("DELETE", `${machinePath(app, id)}/lease`, FlySchemas.Ok, {
                  nonce: lease.data.nonce
                })
                .pipe(Effect.ignore)
      )

    const toSession = (app: string, machine: FlySchemas.Machine, fallbackTask?: TaskSpec.TaskSpec) =>
      new Session.Session({
        id: `${app}/${machine.id}`,
        provider: "fly" as TaskSpec.ProviderId,
        taskId: (machine.config?.metadata?.hangar_task_id ??
          machine.config?.env?.TASK_ID ??
          fallbackTask?.taskId ??
          "unknown") as TaskSpec.TaskId,
        repository: (machine.config?.env?.REPOSITORY ??
          fallbackTask?.repository ??
          app) as TaskSpec.Repository,
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

    /** Apps this provider has seen exist (Hangar never deletes one), so a create asks about an app once. */
    const knownApps = new Set<string>()
    /** Makes sure the app exists; true when this call created it (so it has no machines or volumes yet). */
    const ensureApp = (app: string): Effect.Effect<boolean, ComputeError.ComputeError> =>
      knownApps.has(app)
        ? Effect.succeed(false)
        : Effect.tap(lookUpOrCreateApp(app), () => knownApps.add(app))
    const lookUpOrCreateApp = (app: string) =>
      client.request("GET", `/apps/${app}`, FlySchemas.Ok).pipe(
        Effect.as(false),
        Effect.catchTag("SessionNotFound", () =>
          client
            .request("POST", "/apps", FlySchemas.Ok, { body: { app_name: app, org_slug: settings.org } })
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
    const ensureVolume = (app: string, region: string, newApp: boolean) =>
      Effect.gen(function* () {
        const volumes = newApp ? [] : yield* client.request("GET", `/apps/${app}/volumes`, Volumes)
        const existing = volumes.find(
          (v) => v.region === region && v.name === volumeName && v.state === "created"
        )
        if (existing !== undefined) return existing
        return yield* client.request("POST", `/apps/${app}/volumes`, FlySchemas.Volume, {
          body: { name: volumeName, region, size_gb: settings.volumeSizeGb, encrypted: true }
        })
      })

    const ensureRunning = (
      app: string,
      machine: FlySchemas.Machine,
      again = true
    ): Effect.Effect<FlySchemas.Machine, ComputeError.ComputeError> =>
      Effect.gen(function* () {
        if (machine.state !== "started") {
          if (machine.state !== "starting") {
            yield* withLease(app, machine.id, (nonce) =>
              client.request("POST", `${machinePath(app, machine.id)}/start`, FlySchemas.Ok, { nonce })
            )
          }
          yield* waitFor(app, machine.id, "state=started")
          // Started, as the wait just answered. (Events are recorded when the machine next goes to sleep or its
          // usage is asked for: a wake adds a handful, far inside the 50 the API keeps.)
          return { ...machine, state: "started" }
        }
        // Read as started, perhaps before someone else put it to sleep: look again, and start it once more.
        const current = yield* getMachine(app, machine.id)
        return current.state === "started" || !again ? current : yield* ensureRunning(app, current, false)
      })

    const tomlServices = flyToml?.services ?? []
    const machineConfig = (task: TaskSpec.TaskSpec, volumeId: string, hangarManagesSleep: boolean) => {
      const preset = Pricing.flyGuestBySize[task.size]
      const autostopOff = hangarManagesSleep || options.autostop === "off"
      const services =
        tomlServices.length > 0
          ? tomlServices.map((service) => (autostopOff ? { ...service, autostop: false } : service))
          : [
              {
                protocol: "tcp",
                internal_port: 8080,
                autostop: autostopOff || settings.autostop === "off" ? false : settings.autostop,
                autostart: true,
                min_machines_running: 0,
                ports: [{ port: 443, handlers: ["http", "tls"] }]
              }
            ]
      const checks = flyToml?.checks ?? {}
      return {
        image: settings.image,
        guest: flyToml?.guest ?? { cpu_kind: preset.cpuKind, cpus: preset.cpus, memory_mb: preset.memoryMb },
        env: {
          ...flyToml?.env,
          ...task.env,
          REPOSITORY: task.repository,
          BRANCH: task.branch,
          TASK_ID: task.taskId
        },
        restart: { policy: "always", max_retries: 3 },
        auto_destroy: false,
        services,
        ...(Object.keys(checks).length === 0 ? {} : { checks }),
        ...(flyToml?.stop === undefined ? {} : { stop_config: flyToml.stop }),
        ...(flyToml?.swapSizeMb === undefined ? {} : { init: { swap_size_mb: flyToml.swapSizeMb } }),
        ...(flyToml?.metrics === undefined ? {} : { metrics: flyToml.metrics }),
        mounts: [{ volume: volumeId, path: mountPath }],
        metadata: { hangar_task_id: task.taskId }
      }
    }

    const regionFor = (task: TaskSpec.TaskSpec) =>
      task.region === "edge" ? settings.primaryRegion : task.region

    /** Machines a create woke or made, by task id, until the create ends: put back to sleep if it failed. */
    const touched = new Map<
      string,
      { readonly app: string; readonly machineId: string; readonly wake: number }
    >()

    const findMachine = (app: string, region: string, name: string) =>
      Effect.map(client.request("GET", `/apps/${app}/machines?region=${region}`, Machines), (all) =>
        all.find((m) => m.name === name && m.state !== "destroyed" && m.state !== "destroying")
      )

    const create = (task: TaskSpec.TaskSpec) =>
      Effect.gen(function* () {
        const app = appName(settings.appPrefix, task.repository)
        const region = regionFor(task)
        const name = `workspace-${region}`
        // The region's lock is held until the machine is up, so a create waiting for it finds the machine as
        // this one left it (not a state read before it was woken).
        const { running, launched } = yield* locked(`${app}/${region}`)(
          Effect.gen(function* () {
            const newApp = yield* ensureApp(app)
            const found = newApp ? undefined : yield* findMachine(app, region, name)
            // A machine this call creates is launched by Fly (answered as `created`, it is on its way to started,
            // so it is only waited for), with the task's id in its metadata already.
            const { machine, launched } =
              found !== undefined
                ? { machine: found, launched: false }
                : yield* Effect.gen(function* () {
                    const volume = yield* ensureVolume(app, region, newApp)
                    const hangarManagesSleep = yield* FiberRef.get(ComputeProvider.sleepManagedByHangar)
                    return yield* client
                      .request("POST", `/apps/${app}/machines`, FlySchemas.Machine, {
                        body: { name, region, config: machineConfig(task, volume.id, hangarManagesSleep) }
                      })
                      .pipe(
                        Effect.map((created) => ({
                          machine: { ...created, state: "starting" },
                          launched: true
                        })),
                        Effect.catchTag("InvalidRequest", (e) =>
                          e.reason === "Conflict"
                            ? Effect.flatMap(findMachine(app, region, name), (again) =>
                                again === undefined
                                  ? Effect.fail(e)
                                  : Effect.succeed({ machine: again, launched: false })
                              )
                            : Effect.fail(e)
                        )
                      )
                  })
            const running = yield* locked(machine.id)(
              Effect.gen(function* () {
                sleepAllowed.delete(machine.id)
                // Every create wants the machine (so a failed create's clean-up leaves alone one that another
                // create found running); this create remembers its latest want if it is the one that wakes it.
                const wake = wanted(machine.id)
                if (machine.state !== "started" || touched.has(task.taskId)) {
                  touched.set(task.taskId, { app, machineId: machine.id, wake })
                }
                return yield* ensureRunning(app, machine)
              })
            )
            return { running, launched }
          })
        )
        if (!launched) {
          yield* client.request(
            "POST",
            `${machinePath(app, running.id)}/metadata/hangar_task_id`,
            FlySchemas.Ok,
            { body: { value: task.taskId } }
          )
        }
        return toSession(
          app,
          { ...running, config: { ...running.config, metadata: { hangar_task_id: task.taskId } } },
          task
        )
      })

    const get = (sessionId: string) =>
      Effect.gen(function* () {
        const { app, machine } = yield* parseSessionId(sessionId)
        const m = yield* getMachine(app, machine)
        if (m.state === "destroyed") {
          return yield* new ComputeError.SessionNotFound({
            module: "FlyProvider",
            method: "get",
            provider: "fly",
            reason: "Destroyed",
            sessionId
          })
        }
        return toSession(app, m)
      })

    /** Stop, or suspend (which Fly turns into a stop for a machine above 2 GB): waits until it settles. */
    const transition = (sessionId: string, action: "stop" | "suspend") =>
      Effect.gen(function* () {
        const { app, machine } = yield* parseSessionId(sessionId)
        const m = yield* getMachine(app, machine)
        const settled = m.state === "stopped" || (action === "suspend" && m.state === "suspended")
        if (!settled) {
          if (m.state !== "stopping" && m.state !== "suspending") {
            yield* withLease(app, machine, (nonce) =>
              client.request("POST", `${machinePath(app, machine)}/${action}`, FlySchemas.Ok, { nonce })
            )
          }
          const waited = yield* waitFor(
            app,
            machine,
            action === "stop" ? "state=stopped" : "state=suspended,stopped"
          )
          yield* recordEvents(app, machine)
          return toSession(app, {
            ...m,
            state: waited.state ?? (action === "stop" ? "stopped" : "suspended")
          })
        }
        yield* recordEvents(app, machine)
        return toSession(app, m)
      })

    const usage = (sessionId: string) =>
      Effect.gen(function* () {
        const { app, machine } = yield* parseSessionId(sessionId)
        const m = yield* getMachine(app, machine)
        yield* recordEvents(app, machine)
        const now = yield* Clock.currentTimeMillis
        const events = [...(ledgers.get(machine)?.values() ?? [])]
          .sort((a, b) => a.event.timestamp - b.event.timestamp || a.order - b.order)
          .map((entry) => entry.event)
        const guest = m.config?.guest
        const intervals = Pricing.flyIntervals(
          guest === undefined
            ? Pricing.flyGuestBySize.dev
            : { cpuKind: guest.cpu_kind, cpus: guest.cpus, memoryMb: guest.memory_mb },
          m.region,
          m.config?.rootfs?.size_gb ?? Pricing.defaultFlyRootfsGb,
          events,
          now
        )
        const seconds = { ...Usage.zeroSeconds }
        let cost = 0
        for (const interval of intervals) {
          cost += interval.costMicroUsd
          const s = (interval.toMillis - interval.fromMillis) / 1000
          if (interval.state === "created") seconds.provisioning += s
          else if (interval.state === "suspended") seconds.suspended += s
          else if (interval.state === "stopped") seconds.stopped += s
          else seconds.running += s
        }
        return new Usage.Usage({ sessionId, seconds, costMicroUsd: cost as Usage.Usage["costMicroUsd"] })
      })

    const core = yield* ComputeProvider.make(
      {
        id: "fly" as TaskSpec.ProviderId,
        capabilities: new Capabilities.Capabilities({
          regions: regions.map(Region.make) as unknown as readonly [Region.Region, ...Array<Region.Region>],
          sizes: ["dev", "standard", "performance", "high-perf"],
          unsupported: { gpu: "Fly deprecated GPUs (2026-02-11)" },
          startLatencySeconds: { cold: 13, warm: 0.4 }
        }),
        create,
        get,
        start: (sessionId) =>
          Effect.gen(function* () {
            const { app, machine } = yield* parseSessionId(sessionId)
            return toSession(app, yield* ensureRunning(app, yield* getMachine(app, machine)))
          }),
        stop: (sessionId) => transition(sessionId, "stop"),
        suspend: (sessionId) => transition(sessionId, "suspend"),
        destroy: (sessionId) =>
          Effect.gen(function* () {
            const { app, machine } = yield* parseSessionId(sessionId)
            yield* withLease(
              app,
              machine,
              (nonce) =>
                client.request("DELETE", `${machinePath(app, machine)}?force=true`, FlySchemas.Ok, { nonce }),
              true
            )
            yield* waitFor(app, machine, "state=destroyed")
            yield* recordEvents(app, machine)
          }),
        // Every command runs as a detached job polled by short execs (LongExec), so it may outlast Fly's ~30 s
        // exec deadline; a command that ends within the first exec's wait costs that one request.
        exec: (sessionId, command, execOptions) =>
          Effect.flatMap(parseSessionId(sessionId), ({ app, machine }) =>
            LongExec.run(client, machinePath(app, machine), command, execOptions.timeoutSeconds)
          ),
        list: () =>
          Effect.gen(function* () {
            const apps = yield* client.request("GET", "/apps", FlySchemas.AppList)
            const ours = apps.apps.filter((a) => a.name.startsWith(`${settings.appPrefix}-`))
            const sessions = yield* Effect.forEach(ours, (a) =>
              Effect.map(client.request("GET", `/apps/${a.name}/machines`, Machines), (machines) =>
                machines.filter((m) => m.state !== "destroyed").map((m) => toSession(a.name, m))
              )
            )
            return sessions.flat()
          }),
        usage
      },
      {
        retry: {
          deadline: Duration.millis(Math.min(deadlineMillis, Duration.toMillis("2 minutes"))),
          ...settings.retry
        },
        // Every call bounded by the deadline, which the waits inside it see. At the deadline the caller gets its
        // Timeout at once; the interrupted work (a lease release, say) winds down in the background. A command may
        // run as long as its own timeout (Fly's exec allows an hour): the deadline comes after it.
        deadline: {
          millis: deadlineMillis,
          execMillis: LongExec.defaultLimitSeconds * 1000 + deadlineMillis,
          onTimeout: (method, millis) => timeoutError(method, millis)
        }
      }
    )

    const cleanups = new Set<Fiber.RuntimeFiber<void>>()
    /**
     * A create that woke or made a machine and then failed puts it back to sleep, unless someone wants it now.
     * A start the create gave up on may still land later, so the machine is watched for twice the deadline and
     * put back to sleep whenever it is found running (or stopped when it is still only created).
     */
    const cleanUp = (taskId: string) =>
      Effect.suspend(() => {
        const entry = touched.get(taskId)
        touched.delete(taskId)
        if (entry === undefined) return Effect.void
        const sessionId = `${entry.app}/${entry.machineId}`
        const unwanted = () =>
          wakes.get(entry.machineId) === entry.wake && (active.get(entry.machineId) ?? 0) === 0
        const putBack = locked(entry.machineId)(
          Effect.gen(function* () {
            if (!unwanted()) return
            const machine = yield* getMachine(entry.app, entry.machineId)
            if (machine.state === "started") yield* core.sleep(sessionId)
            else if (machine.state === "created") yield* core.stop(sessionId)
          })
        ).pipe(Effect.ignore)
        const watch = Effect.flatMap(Clock.currentTimeMillis, (from) =>
          putBack.pipe(
            Effect.repeat({
              schedule: Schedule.spaced("30 seconds"),
              while: () =>
                Effect.map(Clock.currentTimeMillis, (now) => unwanted() && now < from + 2 * deadlineMillis)
            }),
            Effect.asVoid
          )
        )
        return Effect.flatMap(Effect.forkDaemon(watch), (fiber) =>
          Effect.sync(() => {
            cleanups.add(fiber)
            fiber.addObserver(() => cleanups.delete(fiber))
          })
        )
      })

    const provider: ComputeProvider.ComputeProvider = {
      ...core,
      create: (task) =>
        core.create(task).pipe(
          Effect.tapErrorCause(() => (typeof task.taskId === "string" ? cleanUp(task.taskId) : Effect.void)),
          Effect.tap((session) => Effect.sync(() => touched.delete(session.taskId)))
        ),
      destroy: (id) =>
        core.destroy(id).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              const machine = id.split("/")[1] ?? ""
              sleepAllowed.delete(machine)
            })
          )
        ),
      exec: (id, command, execOptions) => LongExec.withJobId(core.exec(id, command, execOptions))
    }

    const machineOf = (sessionId: string) =>
      Effect.map(parseSessionId(sessionId), ({ app, machine }) => ({ app, machine }))

    /** Sleeps the machine if it is allowed to and no task is active (the caller holds its lock). */
    const sleepIfIdle = (sessionId: string, machine: string) =>
      sleepAllowed.has(machine) && (active.get(machine) ?? 0) === 0
        ? provider.sleep(sessionId)
        : provider.get(sessionId)

    const ensureRunningSession = (sessionId: string) =>
      Effect.flatMap(machineOf(sessionId), ({ machine }) =>
        locked(machine)(
          Effect.suspend(() => {
            sleepAllowed.delete(machine)
            wanted(machine)
            return provider.start(sessionId)
          })
        )
      )

    const machines: Machines = {
      ensureRunning: ensureRunningSession,
      allowSleep: (sessionId) =>
        Effect.flatMap(machineOf(sessionId), ({ machine }) =>
          locked(machine)(
            Effect.suspend(() => {
              sleepAllowed.add(machine)
              return sleepIfIdle(sessionId, machine)
            })
          )
        ),
      activeTasks: (sessionId) => active.get(sessionId.split("/")[1] ?? "") ?? 0,
      executeTask: (sessionId, command, execOptions) =>
        Effect.flatMap(machineOf(sessionId), ({ machine }) =>
          Effect.acquireUseRelease(
            Effect.sync(() => active.set(machine, (active.get(machine) ?? 0) + 1)),
            () =>
              Effect.zipRight(
                locked(machine)(
                  Effect.suspend(() => {
                    wanted(machine)
                    return provider.start(sessionId)
                  })
                ),
                provider.exec(sessionId, command, execOptions)
              ),
            () =>
              Effect.suspend(() => {
                const left = (active.get(machine) ?? 1) - 1
                if (left === 0) active.delete(machine)
                else active.set(machine, left)
                return left === 0 && sleepAllowed.has(machine)
                  ? locked(machine)(Effect.suspend(() => sleepIfIdle(sessionId, machine))).pipe(
                      Effect.tapError((e) =>
                        Effect.logWarning(
                          `allowed sleep of ${sessionId} after its last task failed: ${e.message}`
                        )
                      ),
                      Effect.ignore
                    )
                  : Effect.void
              })
          )
        ),
      deployGlobal: (input, wantedRegions) =>
        Effect.gen(function* () {
          const unknown = wantedRegions.filter((r) => !regions.includes(r))
          if (unknown.length > 0 || wantedRegions.length === 0) {
            return yield* new ComputeError.InvalidRequest({
              module: "FlyProvider",
              method: "deployGlobal",
              provider: "fly",
              field: "regions",
              expected: `one or more of ${regions.join(", ")}`,
              actual: wantedRegions.length === 0 ? "none" : unknown.join(", ")
            })
          }
          const outcomes = yield* Effect.forEach(
            [...new Set(wantedRegions)],
            (region) =>
              Effect.either(provider.create({ ...input, taskId: `${input.taskId}-${region}`, region })).pipe(
                Effect.map((outcome) => ({ region, outcome }))
              ),
            { concurrency: "unbounded" }
          )
          return {
            sessions: outcomes.flatMap((o) => (o.outcome._tag === "Right" ? [o.outcome.right] : [])),
            failed: outcomes.flatMap((o) =>
              o.outcome._tag === "Left" ? [{ region: o.region, error: o.outcome.left }] : []
            )
          }
        }),
      tunnel: (sessionId, path = "/") =>
        Effect.gen(function* () {
          const { app, machine } = yield* machineOf(sessionId)
          const base = (settings.proxyUrl ?? defaultProxyUrl(settings.baseUrl))(app).replace(/\/+$/, "")
          const endpoint = `${base}/${path.replace(/^\/+/, "")}`
          const connect = Effect.acquireRelease(openWebSocket(endpoint, machine), (ws) =>
            Effect.sync(() => ws.close())
          )
          return { endpoint, connect }
        }),
      // Not a core call: bounded here as core bounds those.
      metrics: (sessionId) =>
        ComputeProvider.withCallDeadline(
          Effect.flatMap(machineOf(sessionId), ({ app, machine }) =>
            Effect.map(
              Effect.all(
                [
                  client.request("GET", `${machinePath(app, machine)}/ps`, FlySchemas.ProcessStats),
                  client.request("GET", `${machinePath(app, machine)}/memory`, FlySchemas.MemoryResponse)
                ],
                { concurrency: 2 }
              ),
              ([processes, memory]): MachineMetrics => ({
                sessionId,
                memoryLimitMb: memory.limit_mb,
                memoryAvailableMb: memory.available_mb,
                cpu: processes.reduce((sum, p) => sum + p.cpu, 0),
                rssBytes: processes.reduce((sum, p) => sum + p.rss, 0),
                processes: processes.map((p) => ({ pid: p.pid, command: p.command, cpu: p.cpu, rss: p.rss }))
              })
            )
          ),
          deadlineMillis,
          () => timeoutError("metrics", deadlineMillis)
        ),
      flyToml,
      awaitCleanups: Effect.suspend(() => Fiber.awaitAll([...cleanups])).pipe(Effect.asVoid)
    }
    return { provider, machines }
  })

/** The provider alone (see `makeAll` for Fly's own operations beside it). */
export const make = (
  options: Options,
  flyToml?: FlyToml.FlyToml
): Effect.Effect<ComputeProvider.ComputeProvider, never, FlyClient.FlyClient> =>
  Effect.map(makeAll(options, flyToml), (all) => all.provider)

/** On Fly an app answers at `wss://<app>.fly.dev`; elsewhere (fly-sim) at `<base>/_proxy/<app>` over ws. */
export const defaultProxyUrl =
  (baseUrl: string) =>
  (app: string): string =>
    baseUrl.replace(/\/+$/, "") === defaults.baseUrl
      ? `wss://${app}.fly.dev`
      : `${baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "").replace(/^http/, "ws")}/_proxy/${app}`

/** Opens a WebSocket to the Fly Proxy, asking it to route to `machineId` (`fly-force-instance-id`). */
const openWebSocket = (endpoint: string, machineId: string) =>
  Effect.async<WebSocket, ComputeError.ComputeError>((resume) => {
    const fail = (detail: string) =>
      resume(
        Effect.fail(
          new ComputeError.ProviderUnavailable({
            module: "FlyProvider",
            method: "tunnel.connect",
            provider: "fly",
            reason: "Transport",
            detail: `${endpoint}: ${detail}`
          })
        )
      )
    let ws: WebSocket
    try {
      ws = new WebSocket(endpoint, { headers: { "fly-force-instance-id": machineId } })
    } catch (e) {
      fail(String(e))
      return
    }
    const onOpen = () => {
      ws.removeEventListener("error", onError)
      ws.removeEventListener("close", onClose)
      resume(Effect.succeed(ws))
    }
    const onError = () => fail("the WebSocket could not be opened")
    const onClose = (event: { code: number; reason: string }) =>
      fail(`closed before it opened (${event.code} ${event.reason})`)
    ws.addEventListener("open", onOpen, { once: true })
    ws.addEventListener("error", onError, { once: true })
    ws.addEventListener("close", onClose, { once: true })
    return Effect.sync(() => ws.close())
  })

const transport = (options: Options): Layer.Layer<HttpClient.HttpClient> =>
  options.httpClient !== undefined
    ? options.httpClient
    : options.fetch === undefined
      ? BufferedHttpClient.layerUndici
      : FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, options.fetch)))

const clientLayer = (options: Options) =>
  FlyClient.layer({
    baseUrl: options.baseUrl ?? defaults.baseUrl,
    token: options.token,
    ...(options.retry === undefined ? {} : { retry: options.retry })
  }).pipe(Layer.provide(transport(options)))

const build = (options: Options, flyToml: FlyToml.FlyToml | undefined) =>
  Layer.effectContext(
    Effect.map(makeAll(options, flyToml), ({ provider, machines }) =>
      Context.make(FlyProvider, provider).pipe(Context.add(FlyMachines, machines))
    )
  ).pipe(Layer.provide(clientLayer(options)))

/**
 * The plugin over the given options (token, transport, regions …): `FlyProvider` and `FlyMachines`. With a
 * `flyToml`, an invalid value in it fails the layer with an `InvalidRequest` naming the key.
 */
export function layer(
  options: Options & { readonly flyToml: string }
): Layer.Layer<FlyProvider | FlyMachines, ComputeError.InvalidRequest>
export function layer(
  options: Options & { readonly flyToml?: undefined }
): Layer.Layer<FlyProvider | FlyMachines>
export function layer(options: Options): Layer.Layer<FlyProvider | FlyMachines, ComputeError.InvalidRequest> {
  const text = options.flyToml
  return text === undefined
    ? build(options, undefined)
    : Layer.unwrapEffect(Effect.map(FlyToml.parse(text), (toml) => build(options, toml)))
}

/** The plugin from the environment: FLY_API_TOKEN (redacted), FLY_FLAPS_BASE_URL, FLY_REGIONS, HANGAR_FLY_APP_PREFIX. */
export const layerConfig: Layer.Layer<FlyProvider | FlyMachines, import("effect/ConfigError").ConfigError> =
  Layer.unwrapEffect(
    Effect.map(
      Config.all({
        token: Config.redacted("FLY_API_TOKEN"),
        baseUrl: Config.string("FLY_FLAPS_BASE_URL").pipe(Config.withDefault(defaults.baseUrl)),
        regions: Config.array(Config.string(), "FLY_REGIONS").pipe(Config.withDefault(defaults.regions)),
        appPrefix: Config.string("HANGAR_FLY_APP_PREFIX").pipe(Config.withDefault(defaults.appPrefix))
      }),
      (config) => layer(config)
    )
  )
