/**
 * The ECS-on-EC2 plugin on the unmodified @aws-sdk/client-ecs: one task per session, a task definition per size
 * preset (GPU ones with resourceRequirements), clientTokens derived from the task id so retries never start two
 * tasks, exec over ECS Exec's data channel. ECS tasks do not sleep: `sleep` stops the task (the workspace volume
 * stays) and `start` runs a new task for the session. Built through core's `ComputeProvider.make`.
 */
import type { ECSClientConfig } from "@aws-sdk/client-ecs"
import {
  Capabilities,
  type ComputeError,
  ComputeProvider,
  type Money,
  type Pricing,
  type PricingCatalog,
  Region,
  type Session,
  type VirtualClock
} from "@hangar/core"
import { type Config, Context, type Duration, Effect, Layer } from "effect"
import type * as ClusterCost from "./ClusterCost.js"
import * as Conventions from "./Conventions.js"
import * as EcsCostModel from "./EcsCostModel.js"
import * as ClusterObservation from "./internal/ClusterObservation.js"
import * as Configuration from "./internal/Configuration.js"
import * as EcsEnvironment from "./internal/EcsEnvironment.js"
import * as Exec from "./internal/Exec.js"
import * as Provenance from "./internal/Provenance.js"
import * as Sessions from "./internal/Sessions.js"
import * as TaskLifecycle from "./internal/TaskLifecycle.js"

/** A period of time, (from, to], in milliseconds since the epoch or as Dates. */
export interface Period {
  /** Default: the beginning (everything the cluster ever cost). */
  readonly from?: number | Date
  /** Default: now. */
  readonly to?: number | Date
}

export interface InstanceCost {
  readonly ec2InstanceId: string
  readonly instanceType: string
  readonly launchedAt: number
  readonly terminatedAt: number | undefined
  readonly source: ClusterCost.InstanceLifetime["source"]
  /** Compute and EBS root volume over the period. */
  readonly costMicroUsd: Money.MicroUsd
}

/** What the whole cluster cost in a period, and how much of it sessions account for. */
export interface ClusterCostReport {
  readonly cluster: string
  readonly fromMillis: number
  readonly toMillis: number
  readonly totalMicroUsd: Money.MicroUsd
  /** Capacity sessions' tasks reserved. */
  readonly reservedMicroUsd: Money.MicroUsd
  /** Idle capacity kept while sessions ran, attributed to them (part of their `usage`). */
  readonly attributedIdleMicroUsd: Money.MicroUsd
  /** Idle capacity kept while no session of this provider ran (warm minimum, scale-in lag). */
  readonly unattributedIdleMicroUsd: Money.MicroUsd
  readonly instances: ReadonlyArray<InstanceCost>
  /** Whose prices: `awsRegion`'s own catalog (`pricing`), or us-east-1's with a `note`; each price's source and date. */
  readonly pricing: Pricing.Ec2PricingReport
}

/** What only a cluster has, beside the provider contract. */
export interface Cluster {
  /** What the whole cluster cost in `period`, from its instances' lifetimes and the EC2 pricing catalog. */
  readonly clusterCost: (period?: Period) => Effect.Effect<ClusterCostReport, ComputeError.ComputeError>
}

/** The ECS provider, as `make` builds it: the provider contract and the cluster's cost. */
export interface Service extends ComputeProvider.ComputeProvider, Cluster {}

/** The provider contract (what `ProviderRegistry.layer` gathers). */
export class EcsProvider extends Context.Tag("@hangar/provider-ecs/EcsProvider")<
  EcsProvider,
  ComputeProvider.ComputeProvider
>() {}

/** The same provider's cluster, from the same `layer`: `yield* EcsProvider.clusterCost({ from })`. */
export class EcsCluster extends Context.Tag("@hangar/provider-ecs/EcsCluster")<EcsCluster, Cluster>() {}

/** What the cluster of the composed EcsProvider cost in `period` (default: everything until now). */
export const clusterCost = (
  period?: Period
): Effect.Effect<ClusterCostReport, ComputeError.ComputeError, EcsCluster> =>
  Effect.flatMap(EcsCluster, (cluster) => cluster.clusterCost(period))

export interface Options {
  readonly cluster: string
  /** Capacity provider strategy; with none, tasks use launchType EC2 on the cluster's fixed instances. */
  readonly capacityProviderStrategy?: ReadonlyArray<{ readonly capacityProvider: string }>
  /** The capacity provider of GPU instances (g4dn) that GPU tasks run on. */
  readonly gpuCapacityProvider?: string
  readonly image?: string
  readonly awsRegion?: string
  /** Hangar regions this cluster serves (a cluster is regional). */
  readonly regions?: ReadonlyArray<string>
  readonly endpoint?: string
  readonly requestHandler?: ECSClientConfig["requestHandler"]
  readonly credentials?: ECSClientConfig["credentials"]
  readonly taskRoleArn?: string
  readonly subnets?: ReadonlyArray<string>
  readonly securityGroups?: ReadonlyArray<string>
  /**
   * The repository's workspace, at /workspace in the agent's container. EFS (what persists): an access point per
   * repository on the file system, rooted at /workspaces/<owner>/<name>, made on its first session and reused by
   * every later and concurrent one. EBS (default, scratch): a volume ECS creates for each task and deletes with
   * it; nothing persists between sessions, and nothing is left behind.
   */
  readonly workspace?: WorkspaceOptions
  /** EBS root volume of each instance, GiB (default 30, the ECS-optimized AMI's), for `clusterCost`. */
  readonly rootVolumeGib?: number
  /**
   * `awsRegion`'s EC2 prices for `clusterCost` and `usage` (`PricingCatalog.parse` validates one from JSON). It
   * must name `awsRegion`: a catalog for another region is refused (`make` dies with `InvalidCatalog` naming
   * both). Without it the shipped us-east-1 prices are used, and the cost report's `pricing.note` says so when
   * `awsRegion` is another. Give the simulator the same catalog and `clusterCost` equals its bill.
   */
  readonly pricing?: PricingCatalog.PricingCatalog
  readonly familyPrefix?: string
  readonly clock?: VirtualClock.SimulationClock
  readonly retry?: Partial<ComputeProvider.RetryPolicy>
  /** How long create/start waits for RUNNING (a new instance can take minutes). */
  readonly startDeadline?: Duration.DurationInput
  /** Instance types, start times and spare capacity the cost model assumes (its prices are core's `Pricing`). */
  readonly costModel?: Partial<EcsCostModel.Options>
  /**
   * Other routers start tasks on this cluster too (several hangar-serve instances): a create looks for its task
   * id's task among the live tasks at that moment, not among those live when this process first created one, so
   * that a task another router started since is adopted instead of started twice.
   */
  readonly sharedCluster?: boolean
}

export type WorkspaceOptions =
  | {
      readonly kind: "ebs"
      /** The ECS infrastructure role that may create and attach volumes (required by AWS). */
      readonly roleArn?: string
      readonly sizeInGiB?: number
      readonly volumeType?: string
    }
  | { readonly kind: "efs"; readonly fileSystemId: string }

// ---------------------------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------------------------

const noSleep = "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)"

/** What this cluster offers: its regions, every size, no sleep, no edge. */
const capabilities = (options: Options) =>
  new Capabilities.Capabilities({
    regions: (options.regions ?? ["iad"]).map(Region.make) as unknown as readonly [
      Region.Region,
      ...Array<Region.Region>
    ],
    sizes: ["dev", "standard", "performance", "high-perf"],
    unsupported: { sleep: noSleep, suspend: noSleep, edge: "ECS runs in AWS regions, not at the edge" },
    startLatencySeconds: { cold: 150, warm: 10 }
  })

// ---------------------------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------------------------

/**
 * The provider over one environment: task lifecycle and sessions (`internal/TaskLifecycle`,
 * `internal/Sessions`), exec (`internal/Exec`), cost (`internal/ClusterObservation`), wired into core's `make`.
 */
/** An ECS task's last status as a Hangar session status. */
export const sessionStatusOf: (
  task: { readonly lastStatus?: string | undefined } | undefined
) => Session.SessionStatus = Conventions.statusOf

/**
 * A repository's workspace access point as a request (file system, client token from the repository, directory,
 * owner tag): what EcsProvider sends to CreateAccessPoint, for in-process callers that make it directly.
 */
export const workspaceAccessPoint = Conventions.accessPointRequest

export const make = (options: Options): Effect.Effect<Service> =>
  Effect.gen(function* () {
    const env = yield* EcsEnvironment.make(options)
    const provider = yield* ComputeProvider.make(
      {
        id: Provenance.providerId,
        capabilities: capabilities(options),
        costModel: EcsCostModel.make(options.costModel),
        // Task lifecycle
        create: (task) => TaskLifecycle.create(env, task),
        get: (sessionId) => TaskLifecycle.get(env, sessionId),
        start: (sessionId) => TaskLifecycle.start(env, sessionId),
        stop: (sessionId) => TaskLifecycle.stop(env, sessionId),
        destroy: (sessionId) => TaskLifecycle.destroy(env, sessionId),
        // Exec
        exec: (sessionId, command) => Exec.exec(env, sessionId, command),
        // Sessions
        list: () => Sessions.list(env),
        // Cost
        usage: (sessionId) =>
          Effect.flatMap(Sessions.sessionOf(env, sessionId, "usage"), (state) =>
            ClusterObservation.usage(env, sessionId, state.createdAt)
          )
      },
      options.retry === undefined ? {} : { retry: options.retry }
    )
    const clusterCost = (period?: Period) => ClusterObservation.clusterCost(env, provider.operation, period)
    return { ...provider, clusterCost } satisfies Service
  })

export const layer = (options: Options): Layer.Layer<EcsProvider | EcsCluster> =>
  Layer.effectContext(
    Effect.map(make(options), (service) =>
      Context.make(EcsProvider, service).pipe(Context.add(EcsCluster, { clusterCost: service.clusterCost }))
    )
  )

/** The options `layerConfig` reads from the environment (credentials are left to the SDK's chain). */
export const config: Config.Config<Options> = Configuration.config

/**
 * From the environment: HANGAR_ECS_CLUSTER (required), HANGAR_ECS_CAPACITY_PROVIDER (else launchType EC2),
 * HANGAR_ECS_GPU_CAPACITY_PROVIDER, HANGAR_ECS_REGIONS, HANGAR_ECS_IMAGE, HANGAR_ECS_TASK_ROLE_ARN,
 * HANGAR_ECS_SUBNETS and HANGAR_ECS_SECURITY_GROUPS (comma-separated; awsvpc when subnets are set),
 * HANGAR_ECS_EFS_FILE_SYSTEM_ID (EFS workspaces, else EBS with HANGAR_ECS_EBS_ROLE_ARN), AWS_REGION,
 * AWS_ENDPOINT_URL_ECS, HANGAR_ECS_PRICING_FILE (a JSON pricing catalog of AWS_REGION's EC2 prices, read and
 * validated here: a bad file or one for another region is a ConfigError naming the field). Credentials come from the SDK's standard chain and are never read or logged here.
 */
export const layerConfig: Layer.Layer<EcsProvider | EcsCluster, import("effect/ConfigError").ConfigError> =
  Layer.unwrapEffect(Effect.map(config, layer))
