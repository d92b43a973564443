/**
 * The Fly.io Machines plugin: an app per repository, one machine per repository and region that sleeps when
 * idle (suspend or stop) and keeps its workspace on a volume mounted at /workspace. Built through core's
 * `ComputeProvider.make`, so retries, spans, error normalisation, capability checks and idempotent creation
 * come from core; this module only speaks the Machines API.
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import {
  Capabilities,
  type ComputeError,
  ComputeProvider,
  Region,
  type Session,
  type TaskResult,
  type TaskSpec,
  type VirtualClock
} from "@hangar/core"
import { Config, Context, Duration, Effect, Layer, type Redacted, type Scope } from "effect"
import type { WebSocket } from "undici"
import * as BufferedHttpClient from "./BufferedHttpClient.js"
import * as Conventions from "./Conventions.js"
import * as FlyClient from "./FlyClient.js"
import * as FlyCostModel from "./FlyCostModel.js"
import * as FlyToml from "./FlyToml.js"
import * as Deployments from "./internal/Deployments.js"
import * as EventLedger from "./internal/EventLedger.js"
import * as FlyEnvironment from "./internal/FlyEnvironment.js"
import * as MachineLifecycle from "./internal/MachineLifecycle.js"
import * as Metrics from "./internal/Metrics.js"
import { providerId, timeoutError } from "./internal/Provenance.js"
import * as ProxyTunnels from "./internal/ProxyTunnels.js"
import * as SleepManagement from "./internal/SleepManagement.js"
import * as LongExec from "./LongExec.js"

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
  /**
   * How many concurrent sessions a repository's machine in a region holds: it is sized for them (that many times
   * the preset's CPUs and memory; see `Pricing.flyGuestForSessions`). Default 1.
   */
  readonly sessionsPerMachine?: (repository: string, region: string) => number
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
  /** Resume, boot and create times the cost model assumes (its prices are core's `Pricing`). */
  readonly costModel?: Partial<FlyCostModel.Timing>
}

const defaults = FlyEnvironment.defaults

/** A valid Fly app name for a repository: lower case, [a-z0-9-], at most 63 characters. */
export const appName: (prefix: string, repository: string) => string = Conventions.appName

/** A Fly machine state as a Hangar session status. */
export const sessionStatusOf: (state: string) => Session.SessionStatus = Conventions.statusOf

/** On Fly an app answers at `wss://<app>.fly.dev`; elsewhere (fly-sim) at `<base>/_proxy/<app>` over ws. */
export const defaultProxyUrl: (baseUrl: string) => (app: string) => string = ProxyTunnels.defaultProxyUrl

// ---------------------------------------------------------------------------------------------------------------
// Capabilities and core's settings
// ---------------------------------------------------------------------------------------------------------------

/** What Fly offers: the configured regions, every size, no GPUs. */
const capabilities = (env: FlyEnvironment.FlyEnvironment) =>
  new Capabilities.Capabilities({
    regions: env.settings.regions.map(Region.make) as unknown as readonly [
      Region.Region,
      ...Array<Region.Region>
    ],
    sizes: ["dev", "standard", "performance", "high-perf"],
    unsupported: { gpu: "Fly deprecated GPUs (2026-02-11)" },
    startLatencySeconds: { cold: 13, warm: 0.4 }
  })

/**
 * Core's retries (bounded by two minutes at most) and deadline: every call bounded by the deadline, which the
 * waits inside it see. At the deadline the caller gets its Timeout at once; the interrupted work (a lease
 * release, say) winds down in the background. A command may run as long as its own timeout (Fly's exec allows
 * an hour): the deadline comes after it.
 */
const coreSettings = (env: FlyEnvironment.FlyEnvironment): ComputeProvider.MakeOptions => ({
  retry: {
    deadline: Duration.millis(Math.min(env.deadlineMillis, Duration.toMillis("2 minutes"))),
    ...env.settings.retry
  },
  deadline: {
    millis: env.deadlineMillis,
    execMillis: LongExec.defaultLimitSeconds * 1000 + env.deadlineMillis,
    onTimeout: (method, millis) => timeoutError(method, millis)
  }
})

// ---------------------------------------------------------------------------------------------------------------
// The provider and Fly's operations
// ---------------------------------------------------------------------------------------------------------------

/** The provider contract over the machine lifecycle, built through core's `make`. */
const makeCore = (env: FlyEnvironment.FlyEnvironment) =>
  ComputeProvider.make(
    {
      id: providerId,
      capabilities: capabilities(env),
      costModel: FlyCostModel.make({ edgeRegion: env.settings.primaryRegion, ...env.options.costModel }),
      // Machine lifecycle, with leases and waits
      create: (task) => MachineLifecycle.create(env, task),
      get: (sessionId) => MachineLifecycle.get(env, sessionId),
      start: (sessionId) => MachineLifecycle.start(env, sessionId),
      stop: (sessionId) => MachineLifecycle.transition(env, sessionId, "stop"),
      suspend: (sessionId) => MachineLifecycle.transition(env, sessionId, "suspend"),
      destroy: (sessionId) => MachineLifecycle.destroy(env, sessionId),
      list: () => MachineLifecycle.list(env),
      // Every command runs as a detached job polled by short execs (LongExec), so it may outlast Fly's ~30 s
      // exec deadline; a command that ends within the first exec's wait costs that one request.
      exec: (sessionId, command, execOptions) =>
        Effect.flatMap(FlyEnvironment.parseSessionId(sessionId), ({ app, machine }) =>
          LongExec.run(
            env.client,
            FlyEnvironment.machinePath(app, machine),
            command,
            execOptions.timeoutSeconds
          )
        ),
      // Usage from the event ledger
      usage: (sessionId) => EventLedger.usage(env, sessionId)
    },
    coreSettings(env)
  )

/**
 * Core's provider with what Fly adds around it: a failed create puts back to sleep the machine it woke, a
 * destroy forgets the machine's sleep permission, and a retried exec keeps its job id.
 */
const withSleepManagement = (
  env: FlyEnvironment.FlyEnvironment,
  core: ComputeProvider.Made
): ComputeProvider.ComputeProvider => ({
  ...core,
  create: (task) =>
    core.create(task).pipe(
      Effect.tapErrorCause(() =>
        typeof task.taskId === "string"
          ? SleepManagement.cleanUpAfterFailedCreate(env, core, task.taskId)
          : Effect.void
      ),
      Effect.tap((session) => Effect.sync(() => env.state.touched.delete(session.taskId)))
    ),
  destroy: (id) =>
    core
      .destroy(id)
      .pipe(
        Effect.tap(() => Effect.sync(() => env.state.sleepAllowed.delete(FlyEnvironment.machineIdOf(id))))
      ),
  exec: (id, command, execOptions) => LongExec.withJobId(core.exec(id, command, execOptions))
})

/** Fly's own operations beside the provider. */
const machinesOf = (
  env: FlyEnvironment.FlyEnvironment,
  provider: ComputeProvider.ComputeProvider,
  operation: ComputeProvider.Operation
): Machines => ({
  // Sleep managed by Hangar
  ensureRunning: (sessionId) => SleepManagement.ensureRunning(env, provider, sessionId),
  allowSleep: (sessionId) => SleepManagement.allowSleep(env, provider, sessionId),
  activeTasks: (sessionId) => SleepManagement.activeTasks(env, sessionId),
  executeTask: (sessionId, command, execOptions) =>
    SleepManagement.executeTask(env, provider, sessionId, command, execOptions),
  awaitCleanups: SleepManagement.awaitCleanups(env),
  // Regions, tunnels, metrics, configuration
  deployGlobal: (input, regions) => Deployments.deployGlobal(env, provider, input, regions),
  tunnel: (sessionId, path) => ProxyTunnels.tunnel(env, sessionId, path),
  metrics: (sessionId) => Metrics.metrics(env, operation, sessionId),
  flyToml: env.flyToml
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
    const env = FlyEnvironment.make(options, flyToml, yield* FlyClient.FlyClient)
    const core = yield* makeCore(env)
    const provider = withSleepManagement(env, core)
    return { provider, machines: machinesOf(env, provider, core.operation) }
  })

/** The provider alone (see `makeAll` for Fly's own operations beside it). */
export const make = (
  options: Options,
  flyToml?: FlyToml.FlyToml
): Effect.Effect<ComputeProvider.ComputeProvider, never, FlyClient.FlyClient> =>
  Effect.map(makeAll(options, flyToml), (all) => all.provider)

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
