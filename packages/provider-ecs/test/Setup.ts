/** Shared test setup: the ECS simulator on a virtual clock with a cluster, a CPU and a GPU capacity provider. */
import { ECSClient } from "@aws-sdk/client-ecs"
import { VirtualClock } from "@hangar/core"
import { EcsSimulator } from "@hangar/ecs-simulator"
import { Effect } from "effect"
import * as EcsProvider from "../src/EcsProvider.js"

export const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" }

export const startSimulator = async (
  options: {
    instanceType?: string
    min?: number
    max?: number
    seed?: number
    execHandshake?: EcsSimulator.Options["execHandshake"]
    /** The simulator's region and catalog; the provider gets the same unless a test overrides them. */
    region?: string
    pricing?: EcsSimulator.Options["pricing"]
  } = {}
) => {
  const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const sim = await EcsSimulator.make({
    clock,
    seed: options.seed ?? 1,
    ...(options.execHandshake === undefined ? {} : { execHandshake: options.execHandshake }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.pricing === undefined ? {} : { pricing: options.pricing })
  })
  const url = await sim.listen({ port: 0 })
  const admin = new ECSClient({
    region: "us-east-1",
    endpoint: "http://ecs-sim.internal",
    credentials,
    requestHandler: sim.requestHandler
  })
  const send = (command: unknown) => VirtualClock.runToCompletion(clock, admin.send(command as never))
  const cpu: EcsSimulator.CapacitySpec = {
    name: "cp",
    group: {
      name: "asg",
      instanceType: options.instanceType ?? "t3.large",
      min: options.min ?? 1,
      max: options.max ?? 4,
      desired: options.min ?? 1
    },
    managedTerminationProtection: false
  }
  const gpu: EcsSimulator.CapacitySpec = {
    name: "gpu",
    group: { name: "gpu-asg", instanceType: "g4dn.xlarge", min: 0, max: 2, desired: 0 },
    managedTerminationProtection: false
  }
  sim.provisionCluster("hangar", options.instanceType === "g4dn.xlarge" ? [cpu] : [cpu, gpu])
  /** Every request the SDK sent: operation and JSON body. */
  const drops = new Map<string, number>()
  const requests: Array<{
    readonly operation: string
    readonly headers: Record<string, string>
    readonly body: Record<string, unknown>
  }> = []
  const requestHandler: typeof sim.requestHandler = {
    ...sim.requestHandler,
    handle: (request) => {
      const target = request.headers["x-amz-target"] ?? ""
      const operation = target.slice(target.indexOf(".") + 1)
      const body =
        request.body instanceof Uint8Array
          ? Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).toString(
              "utf8"
            )
          : request.body
      requests.push({
        operation,
        headers: request.headers,
        body: typeof body === "string" && body !== "" ? (JSON.parse(body) as Record<string, unknown>) : {}
      })
      const drop = drops.get(operation) ?? 0
      if (drop === 0) return sim.requestHandler.handle(request)
      drops.set(operation, drop - 1)
      // The request reaches ECS and takes effect; its response is lost on the way back.
      return sim.requestHandler.handle(request).then(() => {
        throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })
      })
    }
  }
  /** Loses the responses of the next `times` requests of `operation` (after the simulator acted on them). */
  const dropResponses = (operation: string, times = 1) => drops.set(operation, times)
  const provider = (strategy = "cp", extra: Partial<EcsProvider.Options> = {}) =>
    EcsProvider.layer({
      cluster: "hangar",
      capacityProviderStrategy: [{ capacityProvider: strategy }],
      endpoint: "http://ecs-sim.internal",
      requestHandler: requestHandler as never,
      credentials,
      clock,
      regions: ["iad", "lhr"],
      ...(options.region === undefined ? {} : { awsRegion: options.region }),
      ...(options.pricing === undefined ? {} : { pricing: options.pricing }),
      ...extra
    })
  /** Runs `effect` to completion on the simulator's virtual clock. */
  const drive = <A, E>(effect: Effect.Effect<A, E>) => VirtualClock.drive(clock, effect)
  return { clock, sim, url, provider, requests, requestHandler, send, dropResponses, drive }
}

/** The provider and its cluster's cost from one layer, as one object (tests call both). */
export const withCluster: Effect.Effect<
  EcsProvider.Service,
  never,
  EcsProvider.EcsProvider | EcsProvider.EcsCluster
> = Effect.map(Effect.all([EcsProvider.EcsProvider, EcsProvider.EcsCluster]), ([provider, cluster]) => ({
  ...provider,
  clusterCost: cluster.clusterCost
}))
