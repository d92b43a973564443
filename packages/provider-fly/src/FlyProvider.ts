/**
 * The Fly.io Machines plugin: an app per repository, one machine per repository and region that sleeps when
 * idle (suspend or stop) and keeps its workspace on a volume mounted at /workspace. Built through core's
 * `ComputeProvider.make`, so retries, spans, error normalisation, capability checks and idempotent creation
 * come from core; this module only speaks the Machines API.
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  Pricing,
  Region,
  Session,
  TaskResult,
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
  FiberRef,
  Layer,
  type Redacted,
  Schedule,
  Schema
} from "effect"
import * as FlyClient from "./FlyClient.js"
import * as FlySchemas from "./FlySchemas.js"

const Machines = Schema.Array(FlySchemas.Machine)
const MachineEvents = Schema.Array(FlySchemas.MachineEvent)
const Volumes = Schema.Array(FlySchemas.Volume)

export class FlyProvider extends Context.Tag("@hangar/provider-fly/FlyProvider")<
  FlyProvider,
  ComputeProvider.ComputeProvider
>() {}

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
  /** Track every request on a simulation clock. */
  readonly clock?: VirtualClock.SimulationClock
  readonly retry?: Partial<ComputeProvider.RetryPolicy>
  /** How long one call may wait for a machine to reach a state (waits loop on Fly's 60 s cap). */
  readonly waitDeadline?: Duration.DurationInput
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

export const make = (
  options: Options
): Effect.Effect<ComputeProvider.ComputeProvider, never, FlyClient.FlyClient> =>
  Effect.gen(function* () {
    const settings = { ...defaults, ...options }
    const client = yield* FlyClient.FlyClient
    const regions = settings.regions
    /** Per machine: every state change seen, by event id (the API shows only the newest 50). */
    const ledgers = new Map<string, Map<string, FlySchemas.MachineEvent>>()
    const waitDeadline = Duration.toMillis(settings.waitDeadline ?? "5 minutes")

    const machinePath = (app: string, id: string) => `/apps/${app}/machines/${id}`

    const recordEvents = (app: string, id: string) =>
      Effect.gen(function* () {
        const events = yield* client.request("GET", `${machinePath(app, id)}/events?limit=50`, MachineEvents)
        const ledger = ledgers.get(id) ?? new Map()
        for (const event of events) ledger.set(event.id, event)
        ledgers.set(id, ledger)
      })

    const getMachine = (app: string, id: string) =>
      client.request("GET", machinePath(app, id), FlySchemas.Machine)

    /** Waits for `state`, asking again on each 408 until the deadline. */
    const waitFor = (app: string, id: string, state: string) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        return yield* client
          .request("GET", `${machinePath(app, id)}/wait?state=${state}&timeout=60`, FlySchemas.WaitResponse)
          .pipe(
            Effect.retry({
              schedule: Schedule.recurWhileEffect(() =>
                Effect.map(Clock.currentTimeMillis, (now) => now - started < waitDeadline)
              ),
              while: (e) => e._tag === "Timeout" && e.reason === "WaitExpired"
            })
          )
      })

    /** Runs a mutation of a machine under a short lease, released afterwards. */
    const withLease = <A>(
      app: string,
      id: string,
      mutate: (nonce: string) => Effect.Effect<A, ComputeError.ComputeError>
    ) =>
      Effect.acquireUseRelease(
        client.request("POST", `${machinePath(app, id)}/lease`, FlySchemas.LeaseResponse, {
          body: { ttl: 30, description: "hangar" }
        }),
        (lease) => mutate(lease.data.nonce),
        (lease) =>
          client
            .request("DELETE", `${machinePath(app, id)}/lease`, FlySchemas.Ok, { nonce: lease.data.nonce })
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

    const ensureApp = (app: string) =>
      client
        .request("GET", `/apps/${app}`, FlySchemas.Ok)
        .pipe(
          Effect.catchTag("SessionNotFound", () =>
            client
              .request("POST", "/apps", FlySchemas.Ok, { body: { app_name: app, org_slug: settings.org } })
              .pipe(
                Effect.catchTag("InvalidRequest", (e) =>
                  e.reason === "Conflict" ? Effect.void : Effect.fail(e)
                )
              )
          )
        )

    const ensureVolume = (app: string, region: string) =>
      Effect.gen(function* () {
        const volumes = yield* client.request("GET", `/apps/${app}/volumes`, Volumes)
        const existing = volumes.find(
          (v) => v.region === region && v.name === "workspace" && v.state === "created"
        )
        if (existing !== undefined) return existing
        return yield* client.request("POST", `/apps/${app}/volumes`, FlySchemas.Volume, {
          body: { name: "workspace", region, size_gb: settings.volumeSizeGb, encrypted: true }
        })
      })

    const ensureRunning = (app: string, machine: FlySchemas.Machine) =>
      Effect.gen(function* () {
        if (machine.state !== "started") {
          if (machine.state !== "starting") {
            yield* withLease(app, machine.id, (nonce) =>
              client.request("POST", `${machinePath(app, machine.id)}/start`, FlySchemas.Ok, { nonce })
            )
          }
          yield* waitFor(app, machine.id, "started")
        }
        yield* recordEvents(app, machine.id)
        return yield* getMachine(app, machine.id)
      })

    const machineConfig = (task: TaskSpec.TaskSpec, volumeId: string, hangarManagesSleep: boolean) => {
      const guest = Pricing.flyGuestBySize[task.size]
      return {
        image: settings.image,
        guest: { cpu_kind: guest.cpuKind, cpus: guest.cpus, memory_mb: guest.memoryMb },
        env: { ...task.env, REPOSITORY: task.repository, BRANCH: task.branch, TASK_ID: task.taskId },
        restart: { policy: "always", max_retries: 3 },
        auto_destroy: false,
        services: [
          {
            protocol: "tcp",
            internal_port: 8080,
            autostop: hangarManagesSleep || settings.autostop === "off" ? false : settings.autostop,
            autostart: true,
            min_machines_running: 0,
            ports: [{ port: 443, handlers: ["http", "tls"] }]
          }
        ],
        mounts: [{ volume: volumeId, path: "/workspace" }],
        metadata: { hangar_task_id: task.taskId }
      }
    }

    const regionFor = (task: TaskSpec.TaskSpec) =>
      task.region === "edge" ? settings.primaryRegion : task.region

    const create = (task: TaskSpec.TaskSpec) =>
      Effect.gen(function* () {
        const app = appName(settings.appPrefix, task.repository)
        const region = regionFor(task)
        yield* ensureApp(app)
        const name = `workspace-${region}`
        const existing = (yield* client.request(
          "GET",
          `/apps/${app}/machines?region=${region}`,
          Machines
        )).find((m) => m.name === name && m.state !== "destroyed" && m.state !== "destroying")
        let machine = existing
        if (machine === undefined) {
          const volume = yield* ensureVolume(app, region)
          const hangarManagesSleep = yield* FiberRef.get(ComputeProvider.sleepManagedByHangar)
          machine = yield* client
            .request("POST", `/apps/${app}/machines`, FlySchemas.Machine, {
              body: { name, region, config: machineConfig(task, volume.id, hangarManagesSleep) }
            })
            .pipe(
              Effect.catchTag("InvalidRequest", (e) =>
                e.reason === "Conflict"
                  ? Effect.flatMap(
                      client.request("GET", `/apps/${app}/machines?region=${region}`, Machines),
                      (all) => {
                        const found = all.find((m) => m.name === name && m.state !== "destroyed")
                        return found === undefined ? Effect.fail(e) : Effect.succeed(found)
                      }
                    )
                  : Effect.fail(e)
              )
            )
        }
        const running = yield* ensureRunning(app, machine)
        yield* client.request(
          "POST",
          `${machinePath(app, running.id)}/metadata/hangar_task_id`,
          FlySchemas.Ok,
          {
            body: { value: task.taskId }
          }
        )
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

    const transition = (sessionId: string, action: "stop" | "suspend", target: string) =>
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
          yield* waitFor(app, machine, target)
        }
        yield* recordEvents(app, machine)
        return toSession(app, yield* getMachine(app, machine))
      })

    const usage = (sessionId: string) =>
      Effect.gen(function* () {
        const { app, machine } = yield* parseSessionId(sessionId)
        const m = yield* getMachine(app, machine)
        yield* recordEvents(app, machine)
        const now = yield* Clock.currentTimeMillis
        const events = [...(ledgers.get(machine)?.values() ?? [])].sort(
          (a, b) => a.timestamp - b.timestamp || a.id.localeCompare(b.id)
        )
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

    return yield* ComputeProvider.make(
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
        stop: (sessionId) => transition(sessionId, "stop", "stopped"),
        suspend: (sessionId) => transition(sessionId, "suspend", "suspended"),
        destroy: (sessionId) =>
          Effect.gen(function* () {
            const { app, machine } = yield* parseSessionId(sessionId)
            yield* withLease(app, machine, (nonce) =>
              client.request("DELETE", `${machinePath(app, machine)}?force=true`, FlySchemas.Ok, { nonce })
            )
            yield* waitFor(app, machine, "destroyed")
          }),
        exec: (sessionId, command, execOptions) =>
          Effect.gen(function* () {
            const { app, machine } = yield* parseSessionId(sessionId)
            const started = yield* Clock.currentTimeMillis
            const result = yield* client.request(
              "POST",
              `${machinePath(app, machine)}/exec`,
              FlySchemas.ExecResponse,
              {
                body: {
                  command,
                  timeout: Math.min(3600, Math.max(1, Math.ceil(execOptions.timeoutSeconds ?? 3600)))
                }
              }
            )
            const ended = yield* Clock.currentTimeMillis
            return new TaskResult.TaskResult({
              exitCode: result.exit_code,
              stdout: result.stdout,
              stderr: result.stderr,
              durationMs: ended - started
            })
          }),
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
      settings.retry === undefined ? {} : { retry: settings.retry }
    )
  })

const transport = (options: Options): Layer.Layer<HttpClient.HttpClient> => {
  const base =
    options.fetch === undefined
      ? NodeHttpClient.layerUndici
      : FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, options.fetch)))
  return base
}

/** The plugin over the given options (token, transport, regions …). */
export const layer = (options: Options): Layer.Layer<FlyProvider> =>
  Layer.effect(FlyProvider, make(options)).pipe(
    Layer.provide(FlyClient.layer({ baseUrl: options.baseUrl ?? defaults.baseUrl, token: options.token })),
    Layer.provide(transport(options))
  )

/** The plugin from the environment: FLY_API_TOKEN (redacted), FLY_FLAPS_BASE_URL, FLY_REGIONS, HANGAR_FLY_APP_PREFIX. */
export const layerConfig: Layer.Layer<FlyProvider, import("effect/ConfigError").ConfigError> =
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
