/**
 * The ECS simulator assembled: the awsJson1_1 endpoint (`http/`), the `/_sim` control plane (`control/`), seeded
 * faults, the ECS Exec data channel on the same port, optional `dataDir` persistence, and a smithy request
 * handler that runs the AWS SDK in-process through `fastify.inject` (no socket), each request tracked on the clock.
 */
import { Pricing, PricingCatalog, VirtualClock } from "@hangar/core"
import { ExecBackend } from "@hangar/core/simulation"
import type { Redacted } from "effect"
import Fastify, { type FastifyInstance } from "fastify"
import * as ControlRoutes from "./control/Routes.js"
import { DataChannel } from "./DataChannel.js"
import { type FaultRule, type FaultRuleInput, Faults } from "./Faults.js"
import * as AwsJson from "./http/AwsJson.js"
import * as EfsOperations from "./http/EfsOperations.js"
import * as Operations from "./http/Operations.js"
import * as RequestBody from "./http/RequestBody.js"
import * as AutoScalingGroup from "./model/AutoScalingGroup.js"
import * as Billing from "./model/Billing.js"
import { EcsError } from "./model/EcsError.js"
import { EcsModel } from "./model/EcsModel.js"
import type { TimingModel } from "./model/Lifecycle.js"
import { SeededRandom } from "./model/Random.js"
import { accountOf, Regions } from "./Regions.js"

export type { FaultRule, FaultRuleInput } from "./Faults.js"
export type { TimingModel } from "./model/Lifecycle.js"

export interface Options {
  readonly clock?: VirtualClock.SimulationClock
  /** Seed of ids, ARNs, jitter and fault draws (default 1). */
  readonly seed?: number
  /**
   * If set, only these access key ids are accepted (any signature, unless `secretKey` is set too), and the
   * `/_sim` control plane needs `Authorization: Bearer <secretKey>` (or `Bearer <access key id>` without one).
   */
  readonly accessKeys?: ReadonlyArray<string>
  /** The secret of `accessKeys`: SigV4 signatures are then verified as AWS does. */
  readonly secretKey?: Redacted.Redacted<string>
  readonly exec?: ExecBackend.ExecBackend
  readonly timing?: Partial<TimingModel>
  /** The AWS region simulated (default us-east-1): ARNs, Availability Zones, and whose prices bill. */
  readonly region?: string
  /**
   * The region's EC2 prices (validated again here; `PricingCatalog.parse` reads one from JSON). It must name `region` (another
   * region's catalog is refused, naming both) and price every group's instance type and `ebs:gp3`. Without
   * it the bill uses the shipped us-east-1 prices, and `billing().pricing` says so when `region` is another.
   */
  readonly pricing?: PricingCatalog.PricingCatalog
  /**
   * Keeps configuration, the billing ledger and the simulated time in DIR across restarts (and kill -9): saved
   * before each answer, see `Persistence`.
   */
  readonly dataDir?: string
  /** Compact DIR's journal into its snapshot once the journal is this long (default 4 MiB). */
  readonly compactAfterBytes?: number
  /** EBS gp3 root volume per instance, GiB (default 30, the ECS-optimized AMI's). */
  readonly rootVolumeGib?: number
  /** Whether instances have a public IPv4 address, billed per hour (default false). */
  readonly publicIpv4?: boolean
  /** GB each repository workspace (EFS access point) holds, billed as EFS storage (default 10). */
  readonly workspaceGb?: number
  /**
   * Whether ECS Exec's data channel starts with the SSM agent's handshake, as the real agent's always does
   * (default session-type; "none" serves minimal clients that skip it).
   */
  readonly execHandshake?: "none" | "session-type" | "kms"
  /** How long (wall ms) a data-channel connection may take to send its token before it is closed (default 10 s). */
  readonly execOpenTimeoutMs?: number
  /** How long (wall ms) an ExecuteCommand session may wait for its connection (default 5 minutes). */
  readonly execSessionTtlMs?: number
}

/** A smithy `HttpHandler`, structurally (no @smithy dependency). */
export interface RequestHandler {
  readonly handle: (request: {
    readonly method: string
    readonly path: string
    readonly query?: Record<string, unknown>
    readonly headers: Record<string, string>
    readonly body?: unknown
  }) => Promise<{
    readonly response: {
      readonly statusCode: number
      readonly headers: Record<string, string>
      readonly body: Uint8Array
    }
  }>
  readonly updateHttpClientConfig: () => void
  readonly httpHandlerConfigs: () => Record<string, unknown>
  readonly destroy: () => void
}

export interface FaultControl {
  /** Adds a rule (validated: throws naming the bad field); returns it with defaults filled in. */
  readonly add: (rule: FaultRuleInput) => FaultRule
  readonly list: () => ReadonlyArray<FaultRule & { readonly hits: number }>
  readonly clear: () => void
}

export interface AutoScalingGroupSpec {
  readonly name: string
  /** A catalog key without "instance:" (t3.large, g4dn.xlarge…). */
  readonly instanceType: string
  readonly min: number
  readonly max: number
  readonly desired: number
}

/** A capacity provider with managed scaling over its own Auto Scaling group. */
export interface CapacitySpec {
  /** The capacity provider's name. */
  readonly name: string
  readonly group: AutoScalingGroupSpec
  /** Managed scaling's target (default 100). */
  readonly targetCapacity?: number
  /** Whether scale-in spares instances with running tasks (default true). */
  readonly managedTerminationProtection?: boolean
}

export interface Simulator {
  readonly server: FastifyInstance
  readonly model: EcsModel
  readonly clock: VirtualClock.SimulationClock
  readonly requestHandler: RequestHandler
  readonly dataChannel: DataChannel
  readonly faults: FaultControl
  /** Starts listening (default 127.0.0.1, an ephemeral port); returns the endpoint URL. */
  readonly listen: (options?: { readonly host?: string; readonly port?: number }) => Promise<string>
  readonly createAutoScalingGroup: (group: AutoScalingGroupSpec) => { readonly arn: string }
  /**
   * What a team's infrastructure code sets up, in one call: the cluster `name` with a capacity provider over an
   * Auto Scaling group for each of `capacity`, the first being the default strategy.
   */
  readonly provisionCluster: (
    name: string,
    capacity: readonly [CapacitySpec, ...ReadonlyArray<CapacitySpec>]
  ) => { readonly arn: string }
  /** An EFS file system of the simulator's own region that workspaces' access points can be made on. */
  readonly provisionFileSystem: (fileSystemId: string) => void
  /** The bill so far: lines by instance, totals by type, state and cluster, and whose prices (`pricing`). */
  readonly billing: () => Billing.Bill
  /** Clears all state and fault rules (and reseeds when given a seed). */
  readonly reset: (seed?: number) => void
  readonly close: () => Promise<void>
}

// ---- the pieces make wires

/** The fastify server with the simulator's error shapes: typed 4xx for what a client sent, nothing echoed. */
const newServer = (): FastifyInstance => {
  const server = Fastify({ logger: false, bodyLimit: RequestBody.limitBytes })
  server.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const client = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
    // Never echo request contents (they may hold secrets): the message names the problem only.
    return reply
      .code(client ? error.statusCode! : 500)
      .send(
        AwsJson.awsError(
          client ? "SerializationException" : "ServerException",
          client ? error.message : "internal simulator error"
        )
      )
  })
  server.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        AwsJson.awsError(
          "UnknownOperationException",
          `no route ${request.method} ${request.url.split("?")[0]}: ECS is POST / with X-Amz-Target; the control plane is under /_sim`
        )
      )
  )
  return server
}

/** A smithy HttpHandler over `server.inject` (no socket), each request tracked on the clock. */
const requestHandlerOf = (server: FastifyInstance, clock: VirtualClock.SimulationClock): RequestHandler => ({
  handle: async (request) => {
    const body =
      typeof request.body === "string"
        ? request.body
        : request.body instanceof Uint8Array
          ? // A view, not Buffer.from(body): that calls valueOf(), which the SDK's JSON byte adapter answers
            // with a string and a deprecation warning.
            Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength)
          : undefined
    const response = await clock.track(
      server.inject({
        method: request.method as "POST",
        url: request.path,
        headers: request.headers,
        ...(body === undefined ? {} : { payload: body })
      })
    )
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(response.headers)) if (v !== undefined) headers[k] = String(v)
    return {
      response: { statusCode: response.statusCode, headers, body: new Uint8Array(response.rawPayload) }
    }
  },
  updateHttpClientConfig: () => undefined,
  httpHandlerConfigs: () => ({}),
  destroy: () => undefined
})

/**
 * Saves every second what changed between requests (a real clock's timers, an in-process driver moving a
 * virtual clock); a failure is reported and retried by the next save (a request's answers 500 if it fails too).
 */
const periodicSaver = (save: () => void, dataDir: string): ReturnType<typeof setInterval> => {
  const timer = setInterval(() => {
    try {
      save()
    } catch (error) {
      console.error(`ecs-sim: saving to ${dataDir} failed: ${(error as Error).message}`)
    }
  }, 1_000)
  timer.unref()
  return timer
}

/** A region's seed offset (so two regions draw different ids from one seed). */
const regionSeed = (region: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < region.length; i++) hash = Math.imul(hash ^ region.charCodeAt(i), 0x01000193)
  return hash >>> 0
}

/** What `provisionCluster` creates in the simulator's own region (the caller saves it). */
const provisionClusterIn = (
  model: EcsModel,
  name: string,
  capacity: readonly [CapacitySpec, ...ReadonlyArray<CapacitySpec>]
): { readonly arn: string } => {
  // All or nothing: every group and provider is checked before the first is created.
  const names = new Set<string>()
  for (const c of capacity) {
    AutoScalingGroup.validate(c.group, model.pricing)
    if (model.groups.has(c.group.name) || names.has(`group ${c.group.name}`))
      throw new EcsError("InvalidParameterException", `group.name: ${c.group.name} exists already.`)
    if (model.capacityProviders.has(c.name) || names.has(`provider ${c.name}`))
      throw new EcsError("InvalidParameterException", `name: capacity provider ${c.name} exists already.`)
    names.add(`group ${c.group.name}`)
    names.add(`provider ${c.name}`)
  }
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(name))
    throw new EcsError("InvalidParameterException", `name: ${name} is not a cluster name.`)
  for (const c of capacity) {
    const group = model.createAutoScalingGroup(c.group)
    model.createCapacityProvider(
      c.name,
      group.arn,
      c.targetCapacity ?? 100,
      true,
      c.managedTerminationProtection ?? true
    )
  }
  const cluster = model.createCluster(name)
  model.putClusterCapacityProviders(
    name,
    capacity.map((c) => c.name),
    [{ capacityProvider: capacity[0].name }]
  )
  return { arn: cluster.arn }
}

export const make = async (options: Options = {}): Promise<Simulator> => {
  // Before anything starts: a catalog for another region throws here, naming both regions.
  const pricing = Pricing.ec2Pricing(
    options.region ?? "us-east-1",
    options.pricing === undefined ? undefined : PricingCatalog.parse(options.pricing, "pricing"),
    "the simulator's region"
  )
  if (
    options.secretKey !== undefined &&
    (options.accessKeys === undefined || options.accessKeys.length === 0)
  )
    throw new Error("secretKey: give the access key ids it belongs to (accessKeys, --access-key) too")
  const authentication = { accessKeys: options.accessKeys, secretKey: options.secretKey }
  const clock = options.clock ?? new VirtualClock.RealClock()
  let seed = options.seed ?? 1
  const faults = new Faults(seed)
  const exec = options.exec ?? ExecBackend.scripted()
  /** A region's model: the simulator's own region with its prices, another with the shipped ones (see `Regions`). */
  const modelFor = (
    region: string,
    regionPricing: Pricing.Ec2Pricing,
    regionSeed: number,
    account?: string
  ) =>
    new EcsModel({
      clock,
      seed: regionSeed,
      faults,
      exec,
      pricing: regionPricing,
      region,
      ...(account === undefined ? {} : { account }),
      ...(options.timing === undefined ? {} : { timing: options.timing }),
      ...(options.rootVolumeGib === undefined ? {} : { rootVolumeGib: options.rootVolumeGib }),
      ...(options.publicIpv4 === undefined ? {} : { publicIpv4: options.publicIpv4 }),
      ...(options.workspaceGb === undefined ? {} : { workspaceGb: options.workspaceGb })
    })
  const model = modelFor(pricing.region, pricing, seed)
  /** The seed of a region's model: the simulator's for its own, else offset by region (and another account). */
  const seedOf = (region: string, account: string) =>
    account === model.account
      ? region === pricing.region
        ? seed
        : seed ^ regionSeed(region)
      : seed ^ regionSeed(`${account}/${region}`)
  const dataChannel = new DataChannel(model, {
    ...(options.execHandshake === undefined ? {} : { handshake: options.execHandshake }),
    ...(options.execOpenTimeoutMs === undefined ? {} : { openTimeoutMs: options.execOpenTimeoutMs }),
    ...(options.execSessionTtlMs === undefined ? {} : { sessionTtlMs: options.execSessionTtlMs })
  })
  const regions = await Regions.open({
    primary: model,
    model: (region, account) =>
      modelFor(
        region,
        region === pricing.region ? pricing : Pricing.ec2Pricing(region),
        seedOf(region, account),
        account
      ),
    operations: (m) => Operations.operations(m, dataChannel),
    dataDir: options.dataDir,
    compactAfterBytes: options.compactAfterBytes
  })
  faults.onOutage = (zone) => {
    for (const region of regions.all()) region.model.zoneOutage(zone)
  }
  // A virtual clock's every move is saved (it moves only when asked); a real clock's at most once a second.
  const clockStep = clock instanceof VirtualClock.VirtualClock ? 0 : 1_000
  const save = () => regions.flush(clockStep)
  const saver = options.dataDir === undefined ? undefined : periodicSaver(save, options.dataDir)
  const reset = (next?: number) => {
    if (next !== undefined) seed = next
    for (const region of regions.all()) region.model.reset(seedOf(region.name, region.account))
    faults.reset(seed)
    save()
  }
  let requestIds = new SeededRandom(seed ^ 0x1d)

  const server = newServer()
  AwsJson.register(server, {
    // Each request works on the state of the region its credential scope names and of the account of its access
    // key, as on AWS (see `Regions`).
    operationsOf: (region, accessKey) => regions.get(region, accountOf(accessKey))?.then((r) => r.operations),
    supported: [...regions.primary.operations.keys()],
    faults,
    clock,
    authentication,
    requestId: () => requestIds.uuid()
  })
  EfsOperations.register(server, {
    modelOf: (region, accessKey) => regions.get(region, accountOf(accessKey))?.then((r) => r.model),
    authentication,
    requestId: () => requestIds.uuid()
  })
  ControlRoutes.register(server, {
    model,
    faults,
    clock,
    reset: (next) => {
      reset(next)
      requestIds = new SeededRandom(seed ^ 0x1d)
    },
    authentication,
    seed: () => seed,
    dataDir: options.dataDir
  })
  // Whatever a request changed is durable before its answer leaves (an acknowledged write survives kill -9).
  server.addHook("onSend", async (_request, _reply, payload) => {
    save()
    return payload
  })
  server.server.on("upgrade", (request, socket, head) => dataChannel.upgrade(request, socket, head))
  await server.ready()

  const requestHandler = requestHandlerOf(server, clock)

  let closed = false
  return {
    server,
    model,
    clock,
    requestHandler,
    dataChannel,
    faults: {
      add: (rule) => faults.add(rule),
      list: () => faults.list(),
      clear: () => faults.clear()
    },
    listen: async ({ host = "127.0.0.1", port = 0 } = {}) => {
      const url = await server.listen({ host, port })
      dataChannel.baseUrl = url.replace(/^http/, "ws")
      return url
    },
    createAutoScalingGroup: (group) => {
      const created = model.createAutoScalingGroup(group)
      save()
      return { arn: created.arn }
    },
    provisionCluster: (name, capacity) => {
      const provisioned = provisionClusterIn(model, name, capacity)
      save()
      return provisioned
    },
    provisionFileSystem: (fileSystemId) => {
      model.workspaces.provisionFileSystem(fileSystemId)
      save()
    },
    billing: () => Billing.compute(model),
    reset,
    close: async () => {
      if (closed) return
      closed = true
      if (saver !== undefined) clearInterval(saver)
      regions.close()
      dataChannel.close()
      await server.close()
    }
  }
}
