/**
 * The ECS-on-EC2 plugin on the unmodified @aws-sdk/client-ecs: one task per session, a task definition per size
 * preset (GPU ones with resourceRequirements), clientTokens derived from the task id so retries never start two
 * tasks, exec over ECS Exec's data channel. ECS tasks do not sleep: `sleep` stops the task (the workspace volume
 * stays) and `start` runs a new task for the session. Built through core's `ComputeProvider.make`.
 */
import { createHash, randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import {
  type ContainerInstance,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  type ECSClientConfig,
  ExecuteCommandCommand,
  ListContainerInstancesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task
} from "@aws-sdk/client-ecs"
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  Money,
  Pricing,
  PricingCatalog,
  Region,
  Session,
  type SizePreset,
  TaskResult,
  TaskSpec,
  Usage,
  type VirtualClock
} from "@hangar/core"
import { Clock, Config, ConfigError, Context, Duration, Effect, Either, Layer } from "effect"
import * as ClusterCost from "./ClusterCost.js"
import * as EcsErrors from "./EcsErrors.js"
import * as SessionManagerChannel from "./SessionManagerChannel.js"

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
   * The repository's workspace. EBS (default): an ECS-managed volume per task, created at RunTask, tagged with
   * the repository and kept when the task stops. EFS: the file system mounted at /workspaces, the repository's
   * directory /workspaces/<owner>/<name> (WORKSPACE in the environment).
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

const workspaceDirectory = (repository: string) => `/workspaces/${repository}`

const statusOf = (task: Task | undefined): Session.SessionStatus => {
  switch (task?.lastStatus) {
    case "RUNNING":
      return "running"
    case "PROVISIONING":
    case "PENDING":
    case "ACTIVATING":
      return "provisioning"
    default:
      return "stopped"
  }
}

interface SessionState {
  readonly task: TaskSpec.TaskSpec
  /** Every task the session has had, oldest first (across a destroy and a later create of the same task id). */
  readonly arns: Array<string>
  destroyed: boolean
  readonly createdAt: number
}

/**
 * The first DescribeTasks poll of a task starting or stopping, doubled after each: AWS's advice after RunTask is
 * exponential backoff "starting with a couple of seconds" (the SDK's RunTaskCommand documentation; a start on a
 * warm instance with the image cached takes a few seconds).
 */
const firstPollMillis = 2_000

/** The session's latest task, if it has had one. */
const latestArn = (state: SessionState): string | undefined => state.arns[state.arns.length - 1]

export const make = (options: Options): Effect.Effect<Service> =>
  Effect.gen(function* () {
    const cluster = options.cluster
    // A catalog for another region is a configuration bug: refused here (a defect naming both regions).
    const pricing = yield* Effect.sync(() =>
      Pricing.ec2Pricing(
        options.awsRegion ?? "us-east-1",
        options.pricing === undefined ? undefined : PricingCatalog.parse(options.pricing, "pricing"),
        "awsRegion"
      )
    )
    const prefix = options.familyPrefix ?? "hangar"
    const client = new ECSClient({
      region: options.awsRegion ?? "us-east-1",
      maxAttempts: 1,
      // The middleware stack is resolved once per command class instead of on every send: nothing here changes it.
      cacheMiddleware: true,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials })
    })
    const track = <A>(p: Promise<A>) => (options.clock === undefined ? p : options.clock.track(p))
    const send = <A>(method: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: () => track(f()), catch: EcsErrors.fromSdk(method, cluster) })
    const sessions = new Map<string, SessionState>()
    /**
     * Part of a session's first clientToken: retries within this process share it, while a later process (whose
     * create first adopts any task still running for the task id) does not get an old, stopped task back.
     */
    const nonce = randomUUID()
    const startDeadline = Duration.toMillis(options.startDeadline ?? "30 minutes")
    const stopDeadline = 10 * 60_000

    // What the task definition holds besides its size: a change of image, role, network mode or workspace gives
    // new families instead of reusing ones registered with the old settings.
    const settings = createHash("sha256")
      .update(
        JSON.stringify([
          options.image ?? null,
          options.taskRoleArn ?? null,
          options.subnets === undefined ? "bridge" : "awsvpc",
          options.workspace?.kind === "efs" ? options.workspace.fileSystemId : "ebs"
        ])
      )
      .digest("hex")
      .slice(0, 8)
    const family = (size: SizePreset.SizePreset, gpu: boolean) =>
      `${prefix}-${size}${gpu ? "-gpu" : ""}-${settings}`

    /** Task definition ARNs by family, once described or registered (a family's settings never change). */
    const definitions = new Map<string, string>()
    const ensureTaskDefinition = (size: SizePreset.SizePreset, gpu: boolean) => {
      const known = definitions.get(family(size, gpu))
      return known === undefined
        ? Effect.tap(lookUpOrRegister(size, gpu), (arn) =>
            Effect.sync(() => definitions.set(family(size, gpu), arn))
          )
        : Effect.succeed(known)
    }
    const lookUpOrRegister = (size: SizePreset.SizePreset, gpu: boolean) =>
      send("DescribeTaskDefinition", () =>
        client.send(new DescribeTaskDefinitionCommand({ taskDefinition: family(size, gpu) }))
      ).pipe(
        Effect.map((r) => r.taskDefinition?.taskDefinitionArn ?? family(size, gpu)),
        Effect.catchTag("InvalidRequest", () => {
          const resources = Pricing.ecsTaskBySize[size]
          return send("RegisterTaskDefinition", () =>
            client.send(
              new RegisterTaskDefinitionCommand({
                family: family(size, gpu),
                cpu: String(resources.cpu),
                memory: String(resources.memoryMib),
                ...(options.taskRoleArn === undefined ? {} : { taskRoleArn: options.taskRoleArn }),
                networkMode: options.subnets === undefined ? "bridge" : "awsvpc",
                containerDefinitions: [
                  {
                    name: "agent",
                    image: options.image ?? "ghcr.io/hangar/agent:latest",
                    essential: true,
                    mountPoints: [
                      {
                        sourceVolume: "workspace",
                        containerPath: options.workspace?.kind === "efs" ? "/workspaces" : "/workspace"
                      }
                    ],
                    ...(gpu ? { resourceRequirements: [{ type: "GPU", value: "1" }] } : {})
                  }
                ],
                volumes: [
                  options.workspace?.kind === "efs"
                    ? {
                        name: "workspace",
                        efsVolumeConfiguration: {
                          fileSystemId: options.workspace.fileSystemId,
                          transitEncryption: "ENABLED" as const
                        }
                      }
                    : { name: "workspace", configuredAtLaunch: true }
                ]
              })
            )
          ).pipe(Effect.map((r) => r.taskDefinition?.taskDefinitionArn ?? family(size, gpu)))
        })
      )

    const describe = (arn: string) =>
      send("DescribeTasks", () =>
        client.send(new DescribeTasksCommand({ cluster, tasks: [arn], include: ["TAGS"] }))
      ).pipe(
        Effect.map((r) => {
          const task = r.tasks?.[0]
          if (task !== undefined) remember(task)
          return task
        })
      )

    /** What cost attribution needs of every task this provider started, kept once the task has stopped. */
    const taskRecords = new Map<string, { readonly sessionId: string; task: Task }>()
    const sessionOfTask = new Map<string, string>()
    const remember = (task: Task) => {
      const sessionId = task.taskArn === undefined ? undefined : sessionOfTask.get(task.taskArn)
      if (sessionId !== undefined) taskRecords.set(task.taskArn!, { sessionId, task })
      if (task.containerInstanceArn !== undefined && !instanceRecords.has(task.containerInstanceArn))
        unseenInstances.add(task.containerInstanceArn)
    }

    /**
     * Polls until the task runs; a task that stops first had no capacity. `seen` is what RunTask just answered
     * (a task is never RUNNING in RunTask's answer), so the first look is after the first delay.
     */
    const awaitRunning = (arn: string, seen?: Task) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        let first = seen
        for (let delay = firstPollMillis; ; delay = Math.min(delay * 2, 15_000)) {
          const task = first ?? (yield* describe(arn))
          first = undefined
          if (task?.lastStatus === "RUNNING") return task
          if (task === undefined || task.lastStatus === "STOPPED") {
            return yield* new ComputeError.CapacityUnavailable({
              module: "EcsProvider",
              method: "awaitRunning",
              provider: "ecs",
              reason: "ProvisioningFailed",
              detail: task?.stoppedReason ?? "the task disappeared before it ran"
            })
          }
          if ((yield* Clock.currentTimeMillis) - started > startDeadline) {
            return yield* new ComputeError.Timeout({
              module: "EcsProvider",
              method: "awaitRunning",
              provider: "ecs",
              reason: "Deadline",
              timeoutMillis: startDeadline
            })
          }
          yield* Effect.sleep(Duration.millis(delay))
        }
      })

    /** Waits for RUNNING; a task that misses the deadline is stopped, so no compute runs without a session. */
    const awaitOrStop = (arn: string, seen?: Task) =>
      awaitRunning(arn, seen).pipe(
        Effect.tapErrorTag("Timeout", () =>
          send("StopTask", () =>
            client.send(new StopTaskCommand({ cluster, task: arn, reason: "hangar: did not start in time" }))
          ).pipe(Effect.ignore)
        )
      )

    /**
     * After a create that failed for good, stops any task ECS started for the session that this process has no
     * record of (a RunTask that took effect although its answer never arrived). Retryable failures keep it: the
     * retry's RunTask carries the same clientToken and gets that very task back.
     */
    const stopOrphans = (sessionId: string, state: SessionState) =>
      Effect.gen(function* () {
        for (const task of yield* liveTasks) {
          if (task.taskArn !== undefined && state.arns.includes(task.taskArn)) continue
          const owner = task.tags?.find((tag) => tag.key === "hangar:session")?.value
          if (owner !== sessionId || task.taskArn === undefined || task.lastStatus === "STOPPED") continue
          state.arns.push(task.taskArn)
          sessionOfTask.set(task.taskArn, sessionId)
          yield* send("StopTask", () =>
            client.send(
              new StopTaskCommand({
                cluster,
                task: task.taskArn!,
                reason: "hangar: the create that started it failed"
              })
            )
          )
        }
      })

    /** Brings the session's current task to RUNNING, or runs a new one if it has none or it stopped. */
    const ensureRunning = (sessionId: string, state: SessionState) =>
      Effect.gen(function* () {
        const task = yield* current(state)
        if (task?.lastStatus === "RUNNING") return task
        if (task?.taskArn !== undefined && task.lastStatus !== "STOPPED")
          return yield* awaitOrStop(task.taskArn)
        return yield* runFor(sessionId, state)
      })

    const runFor = (sessionId: string, state: SessionState) =>
      Effect.gen(function* () {
        const definition = yield* ensureTaskDefinition(state.task.size, state.task.requiresGpu)
        // The token names the task this one follows: the same for every retry of one start (a RunTask whose
        // response was lost returns the task it started), new once a task has been recorded.
        const token = createHash("sha256")
          .update(`${sessionId}:${latestArn(state) ?? `first:${nonce}`}`)
          .digest("hex")
          .slice(0, 64)
        const result = yield* send("RunTask", () =>
          client.send(
            new RunTaskCommand({
              cluster,
              taskDefinition: definition,
              ...(options.workspace?.kind === "efs"
                ? {}
                : {
                    volumeConfigurations: [
                      {
                        name: "workspace",
                        managedEBSVolume: {
                          roleArn: options.workspace?.roleArn,
                          volumeType: options.workspace?.volumeType ?? "gp3",
                          sizeInGiB: options.workspace?.sizeInGiB ?? 20,
                          filesystemType: "ext4" as const,
                          tagSpecifications: [
                            {
                              resourceType: "volume" as const,
                              tags: [{ key: "hangar:repository", value: state.task.repository }]
                            }
                          ],
                          terminationPolicy: { deleteOnTermination: false }
                        }
                      }
                    ]
                  }),
              clientToken: token,
              startedBy: prefix,
              enableExecuteCommand: true,
              ...(state.task.requiresGpu && options.gpuCapacityProvider !== undefined
                ? { capacityProviderStrategy: [{ capacityProvider: options.gpuCapacityProvider }] }
                : options.capacityProviderStrategy === undefined
                  ? { launchType: "EC2" as const }
                  : {
                      capacityProviderStrategy: options.capacityProviderStrategy.map((s) => ({
                        capacityProvider: s.capacityProvider
                      }))
                    }),
              ...(options.subnets === undefined
                ? {}
                : {
                    networkConfiguration: {
                      awsvpcConfiguration: {
                        subnets: [...options.subnets],
                        securityGroups: [...(options.securityGroups ?? [])]
                      }
                    }
                  }),
              overrides: {
                containerOverrides: [
                  {
                    name: "agent",
                    environment: [
                      ...Object.entries(state.task.env).map(([name, value]) => ({ name, value })),
                      { name: "REPOSITORY", value: state.task.repository },
                      { name: "BRANCH", value: state.task.branch },
                      { name: "TASK_ID", value: state.task.taskId },
                      {
                        name: "WORKSPACE",
                        value:
                          options.workspace?.kind === "efs"
                            ? workspaceDirectory(state.task.repository)
                            : "/workspace"
                      }
                    ]
                  }
                ]
              },
              tags: [
                { key: "hangar:session", value: sessionId },
                { key: "hangar:repository", value: state.task.repository }
              ]
            })
          )
        )
        const failure = result.failures?.[0]
        const arn = result.tasks?.[0]?.taskArn
        if (arn === undefined) {
          return yield* new ComputeError.CapacityUnavailable({
            module: "EcsProvider",
            method: "runTask",
            provider: "ecs",
            reason: "InsufficientResources",
            detail: `${failure?.reason ?? "no task started"}${failure?.detail === undefined ? "" : `: ${failure.detail}`}`
          })
        }
        if (!state.arns.includes(arn)) state.arns.push(arn)
        sessionOfTask.set(arn, sessionId)
        const answered = result.tasks?.[0]
        if (answered !== undefined) remember(answered)
        return yield* awaitOrStop(arn, answered)
      })

    /** The cluster's tasks this provider family started that have not stopped, with their tags. */
    const liveTasks = Effect.gen(function* () {
      const arns: Array<string> = []
      let nextToken: string | undefined
      do {
        const page = yield* send("ListTasks", () =>
          client.send(
            new ListTasksCommand({ cluster, startedBy: prefix, ...(nextToken ? { nextToken } : {}) })
          )
        )
        arns.push(...(page.taskArns ?? []))
        nextToken = page.nextToken
      } while (nextToken !== undefined)
      const tasks: Array<Task> = []
      for (let i = 0; i < arns.length; i += 100) {
        const chunk = arns.slice(i, i + 100)
        const described = yield* send("DescribeTasks", () =>
          client.send(new DescribeTasksCommand({ cluster, tasks: chunk, include: ["TAGS"] }))
        )
        tasks.push(...(described.tasks ?? []))
      }
      return tasks
    })

    /**
     * The live tasks as they were when this process first created a session: those a predecessor left running.
     * Taken once, so a create of a new task id costs no listing of the cluster (a ListTasks and a DescribeTasks
     * of every live task); a listing that failed is asked for again by the next create.
     */
    let inherited: ReadonlyArray<Task> | undefined
    const inheritedTasks = Effect.suspend(() =>
      inherited !== undefined
        ? Effect.succeed(inherited)
        : Effect.tap(liveTasks, (tasks) => Effect.sync(() => (inherited ??= tasks)))
    )

    /**
     * A session this process did not create (a restarted router's), recovered from the tasks' tags: among the
     * live tasks now (a lookup of an unknown session), or among those inherited (a create).
     */
    const recover = (
      sessionId: string,
      spec?: TaskSpec.TaskSpec,
      tasks: Effect.Effect<ReadonlyArray<Task>, ComputeError.ComputeError> = liveTasks
    ) =>
      Effect.gen(function* () {
        const task = (yield* tasks).find((t) =>
          t.tags?.some((tag) => tag.key === "hangar:session" && tag.value === sessionId)
        )
        if (task?.taskArn === undefined) return undefined
        const repository = task.tags?.find((tag) => tag.key === "hangar:repository")?.value ?? "unknown"
        const state: SessionState = {
          task:
            spec ??
            TaskSpec.TaskSpec.make({
              taskId: sessionId.replace(/^ecs-/, "") as TaskSpec.TaskId,
              repository: repository as TaskSpec.Repository
            }),
          arns: [task.taskArn],
          destroyed: false,
          createdAt: task.createdAt?.getTime() ?? (yield* Clock.currentTimeMillis)
        }
        sessions.set(sessionId, state)
        sessionOfTask.set(task.taskArn, sessionId)
        remember(task)
        return state
      })

    const sessionOf = (sessionId: string, method: string) =>
      Effect.gen(function* () {
        const state = sessions.get(sessionId) ?? (yield* recover(sessionId))
        if (state === undefined || state.destroyed) {
          return yield* new ComputeError.SessionNotFound({
            module: "EcsProvider",
            method,
            provider: "ecs",
            reason: state === undefined ? "Unknown" : "Destroyed",
            sessionId
          })
        }
        return state
      })

    const toSession = (sessionId: string, state: SessionState, task: Task | undefined) =>
      new Session.Session({
        id: sessionId,
        provider: "ecs" as TaskSpec.ProviderId,
        taskId: state.task.taskId,
        repository: state.task.repository,
        region: state.task.region,
        status: statusOf(task),
        metadata: { cluster, taskArn: task?.taskArn ?? "", lastStatus: task?.lastStatus ?? "NONE" }
      })

    /** The session's task now, as DescribeTasks answers. */
    const current = (state: SessionState) => {
      const arn = latestArn(state)
      return arn === undefined ? Effect.succeed(undefined) : describe(arn)
    }

    /** The session's task as this process last saw it in any answer (RunTask, DescribeTasks, StopTask). */
    const lastSeen = (state: SessionState): Task | undefined => {
      const arn = latestArn(state)
      return arn === undefined ? undefined : taskRecords.get(arn)?.task
    }

    const stop = (sessionId: string) =>
      Effect.gen(function* () {
        const state = yield* sessionOf(sessionId, "stop")
        const arn = latestArn(state)
        const seen = lastSeen(state)
        // STOPPED is final, so a task last seen so is not asked about again.
        if (arn === undefined || seen?.lastStatus === "STOPPED") return toSession(sessionId, state, seen)
        // StopTask answers with the task, and a task that has stopped already is answered as it is, so no
        // DescribeTasks goes first. One ECS no longer shows (stopped past its retention) is refused: described,
        // it is missing, and the session stopped.
        const stopped = yield* send("StopTask", () =>
          client.send(new StopTaskCommand({ cluster, task: arn, reason: "hangar: session released" }))
        ).pipe(
          Effect.map((r) => {
            if (r.task !== undefined) remember(r.task)
            return r.task
          }),
          Effect.catchTag("InvalidRequest", (e) =>
            Effect.flatMap(current(state), (now) =>
              now === undefined || now.lastStatus === "STOPPED" ? Effect.succeed(now) : Effect.fail(e)
            )
          )
        )
        if (stopped === undefined) return toSession(sessionId, state, undefined)
        if (stopped.lastStatus !== "STOPPED") {
          // SIGTERM, the container's stop timeout (30 s by default), SIGKILL: STOPPED within a minute or two.
          const started = yield* Clock.currentTimeMillis
          for (let delay = firstPollMillis; ; delay = Math.min(delay * 2, 10_000)) {
            yield* Effect.sleep(Duration.millis(delay))
            const now = yield* describe(arn)
            if (now === undefined || now.lastStatus === "STOPPED")
              return toSession(sessionId, state, now ?? { ...stopped, lastStatus: "STOPPED" })
            if ((yield* Clock.currentTimeMillis) - started > stopDeadline) {
              return yield* new ComputeError.Timeout({
                module: "EcsProvider",
                method: "stop",
                provider: "ecs",
                reason: "Deadline",
                timeoutMillis: stopDeadline
              })
            }
          }
        }
        return toSession(sessionId, state, stopped)
      })

    /** The cluster's instances as far as the ECS API has shown them (deregistered ones cannot be listed). */
    const instanceRecords = new Map<string, ClusterCost.InstanceLifetime & { readonly final: boolean }>()
    /** Container instances tasks ran on that have not been described yet. */
    const unseenInstances = new Set<string>()
    const lastSeenRegistered = new Map<string, number>()
    const rootVolumeGib = options.rootVolumeGib ?? Pricing.defaultEbsRootGib

    const lifetimeOf = (
      described: ContainerInstance,
      observedAt: number
    ): (ClusterCost.InstanceLifetime & { readonly final: boolean }) | undefined => {
      const attribute = (name: string) => described.attributes?.find((a) => a.name === name)?.value
      const resource = (name: string) =>
        described.registeredResources?.find((r) => r.name === name)?.integerValue
      const instanceType = attribute("ecs.instance-type")
      const arn = described.containerInstanceArn
      if (instanceType === undefined || arn === undefined) return undefined
      const shape = Pricing.ec2InstanceTypes[instanceType]
      const launch = attribute("hangar.launch-time")
      const termination = attribute("hangar.termination-time")
      const inactive = described.status === "INACTIVE"
      const previous = instanceRecords.get(arn)
      const launchedAt =
        launch !== undefined
          ? Number(launch)
          : (described.registeredAt?.getTime() ?? previous?.launchedAt ?? observedAt)
      // Without the termination attribute, a deregistered instance is taken to have gone when it was last
      // seen registered (an estimate: the ECS API keeps no deregistration time).
      const terminatedAt =
        termination !== undefined
          ? Number(termination)
          : inactive
            ? (previous?.terminatedAt ?? lastSeenRegistered.get(arn) ?? observedAt)
            : undefined
      return {
        containerInstanceArn: arn,
        ec2InstanceId: described.ec2InstanceId ?? arn,
        instanceType,
        launchedAt,
        terminatedAt,
        cpu: resource("CPU") ?? (shape === undefined ? 0 : shape.vcpus * 1024),
        memory: resource("MEMORY") ?? shape?.memoryMib ?? 0,
        source:
          launch !== undefined && (termination !== undefined || !inactive) ? "attributes" : "registration",
        final: inactive
      }
    }

    /** Lists the cluster's registered instances and describes them with every known one not yet final. */
    const observeInstances = Effect.gen(function* () {
      const listed: Array<string> = []
      let nextToken: string | undefined
      do {
        const page = yield* send("ListContainerInstances", () =>
          client.send(new ListContainerInstancesCommand({ cluster, ...(nextToken ? { nextToken } : {}) }))
        )
        listed.push(...(page.containerInstanceArns ?? []))
        nextToken = page.nextToken
      } while (nextToken !== undefined)
      const wanted = new Set([...listed, ...unseenInstances])
      for (const [arn, record] of instanceRecords) if (!record.final) wanted.add(arn)
      const arns = [...wanted]
      const now = yield* Clock.currentTimeMillis
      for (let i = 0; i < arns.length; i += 100) {
        const chunk = arns.slice(i, i + 100)
        const described = yield* send("DescribeContainerInstances", () =>
          client.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: chunk }))
        )
        for (const instance of described.containerInstances ?? []) {
          const record = lifetimeOf(instance, now)
          if (record === undefined) continue
          instanceRecords.set(record.containerInstanceArn, record)
          if (!record.final) lastSeenRegistered.set(record.containerInstanceArn, now)
          if (instance.containerInstanceArn !== undefined)
            unseenInstances.delete(instance.containerInstanceArn)
        }
        for (const failure of described.failures ?? []) {
          if (failure.arn === undefined) continue
          unseenInstances.delete(failure.arn)
          const record = instanceRecords.get(failure.arn)
          // Gone past the retention window before it was seen deregistered: last seen is all there is.
          if (record !== undefined && !record.final)
            instanceRecords.set(failure.arn, {
              ...record,
              terminatedAt: record.terminatedAt ?? lastSeenRegistered.get(failure.arn) ?? now,
              source: "registration",
              final: true
            })
        }
      }
    })

    /** Describes this provider's tasks that have not stopped yet (stopped ones are kept as last seen). */
    const observeTasks = Effect.gen(function* () {
      const open = [...sessionOfTask.keys()].filter(
        (arn) => taskRecords.get(arn)?.task.lastStatus !== "STOPPED"
      )
      for (let i = 0; i < open.length; i += 100) {
        const chunk = open.slice(i, i + 100)
        const described = yield* send("DescribeTasks", () =>
          client.send(new DescribeTasksCommand({ cluster, tasks: chunk }))
        )
        for (const task of described.tasks ?? []) remember(task)
      }
    })

    const intervals = (now: number): Array<ClusterCost.TaskInterval> =>
      [...taskRecords.values()].flatMap(({ sessionId, task }) =>
        task.startedAt === undefined || task.taskArn === undefined || task.containerInstanceArn === undefined
          ? []
          : [
              {
                sessionId,
                taskArn: task.taskArn,
                containerInstanceArn: task.containerInstanceArn,
                startedAt: task.startedAt.getTime(),
                stoppedAt: task.stoppedAt?.getTime() ?? (task.lastStatus === "STOPPED" ? now : undefined),
                cpu: Number(task.cpu ?? 0),
                memory: Number(task.memory ?? 0)
              }
            ]
      )

    const unpriced = (instances: ReadonlyArray<ClusterCost.InstanceLifetime>) => {
      for (const i of instances) {
        const why = Pricing.ec2Unpriced(i.instanceType, pricing)
        if (why !== undefined) return { instanceType: i.instanceType, why }
      }
      return undefined
    }

    /** Observes tasks and instances, then attributes the cluster's bill over (from, to]. */
    const attribution = (from: number, to: number) =>
      Effect.gen(function* () {
        yield* observeTasks
        yield* observeInstances
        const instances = [...instanceRecords.values()]
        const missing = unpriced(instances)
        if (missing !== undefined) {
          return yield* new ComputeError.InvalidRequest({
            module: "EcsProvider",
            method: "clusterCost",
            provider: "ecs",
            field: "instanceType",
            expected: `an instance type with a shape and a price in the ${pricing.catalogRegion} EC2 pricing catalog (${missing.why})`,
            actual: missing.instanceType
          })
        }
        return {
          instances,
          result: ClusterCost.attribute(instances, intervals(to), from, to, rootVolumeGib, pricing.catalog)
        }
      })

    const millisOf = (t: number | Date | undefined, fallback: number) =>
      t === undefined ? fallback : typeof t === "number" ? t : t.getTime()

    const retryPolicy: ComputeProvider.RetryPolicy = {
      ...ComputeProvider.defaultRetryPolicy,
      ...options.retry
    }
    const withRetry = <A>(method: string, effect: Effect.Effect<A, ComputeError.ComputeError>) =>
      Effect.flatMap(Clock.currentTimeMillis, (startedAt) =>
        ComputeProvider.retry(effect, retryPolicy, startedAt)
      ).pipe(Effect.withSpan(`EcsProvider.${method}`, { attributes: { cluster }, captureStackTrace: false }))

    const clusterCost = (period: Period = {}): Effect.Effect<ClusterCostReport, ComputeError.ComputeError> =>
      withRetry(
        "clusterCost",
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const from = millisOf(period.from, 0)
          const to = millisOf(period.to, now)
          const { instances, result } = yield* attribution(from, to)
          return {
            cluster,
            fromMillis: from,
            toMillis: to,
            totalMicroUsd: Money.microUsd(result.totalMicroUsd),
            reservedMicroUsd: Money.microUsd(Math.round(result.reservedMicroUsd)),
            attributedIdleMicroUsd: Money.microUsd(Math.round(result.attributedIdleMicroUsd)),
            unattributedIdleMicroUsd: Money.microUsd(Math.round(result.unattributedIdleMicroUsd)),
            instances: instances
              .map((i) => ({
                ec2InstanceId: i.ec2InstanceId,
                instanceType: i.instanceType,
                launchedAt: i.launchedAt,
                terminatedAt: i.terminatedAt,
                source: i.source,
                costMicroUsd: Money.microUsd(
                  ClusterCost.billedBy(i, to, rootVolumeGib, pricing.catalog) -
                    ClusterCost.billedBy(i, from, rootVolumeGib, pricing.catalog)
                )
              }))
              .filter((i) => i.costMicroUsd > 0),
            pricing: Pricing.ec2PricingReport(
              pricing,
              instances.map((i) => i.instanceType)
            )
          }
        })
      )

    const provider = yield* ComputeProvider.make(
      {
        id: "ecs" as TaskSpec.ProviderId,
        capabilities: new Capabilities.Capabilities({
          regions: (options.regions ?? ["iad"]).map(Region.make) as unknown as readonly [
            Region.Region,
            ...Array<Region.Region>
          ],
          sizes: ["dev", "standard", "performance", "high-perf"],
          unsupported: {
            sleep: "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
            suspend:
              "ECS tasks do not sleep: releasing a session stops its task (the workspace volume stays)",
            edge: "ECS runs in AWS regions, not at the edge"
          },
          startLatencySeconds: { cold: 150, warm: 10 }
        }),
        create: (task) =>
          Effect.gen(function* () {
            const sessionId = `ecs-${task.taskId}`
            // A restarted process adopts the task its predecessor started for this task id, if one runs.
            const existing = sessions.get(sessionId) ?? (yield* recover(sessionId, task, inheritedTasks))
            const state: SessionState =
              existing !== undefined && !existing.destroyed
                ? existing
                : {
                    task,
                    arns: existing?.arns ?? [],
                    destroyed: false,
                    createdAt: yield* Clock.currentTimeMillis
                  }
            sessions.set(sessionId, state)
            const running = yield* ensureRunning(sessionId, state).pipe(
              Effect.tapError((error) =>
                error.isRetryable ? Effect.void : stopOrphans(sessionId, state).pipe(Effect.ignore)
              )
            )
            return toSession(sessionId, state, running)
          }),
        get: (sessionId) =>
          Effect.flatMap(sessionOf(sessionId, "get"), (state) =>
            Effect.map(current(state), (t) => toSession(sessionId, state, t))
          ),
        start: (sessionId) =>
          Effect.gen(function* () {
            const state = yield* sessionOf(sessionId, "start")
            return toSession(sessionId, state, yield* ensureRunning(sessionId, state))
          }),
        stop,
        destroy: (sessionId) =>
          Effect.gen(function* () {
            yield* stop(sessionId)
            const state = sessions.get(sessionId)
            if (state !== undefined) state.destroyed = true
          }),
        exec: (sessionId, command) =>
          Effect.gen(function* () {
            const state = yield* sessionOf(sessionId, "exec")
            const notRunning = (task: Task | undefined) =>
              new ComputeError.InvalidRequest({
                module: "EcsProvider",
                method: "exec",
                provider: "ecs",
                reason: "Conflict",
                field: "session",
                expected: "a running session (start it first)",
                actual: task?.lastStatus ?? "no task"
              })
            // A task last seen RUNNING gets its ExecuteCommand at once; if that is refused, the task is described
            // to tell a session that stopped meanwhile (a Conflict) from a failure of ECS Exec itself. One last
            // seen STOPPED stays so; one on its way to RUNNING is described now.
            const seen = lastSeen(state)
            const known = seen?.lastStatus === "RUNNING" || seen?.lastStatus === "STOPPED"
            const task = known ? seen : yield* current(state)
            if (task?.lastStatus !== "RUNNING") return yield* notRunning(task)
            const started = yield* Clock.currentTimeMillis
            const response = yield* send("ExecuteCommand", () =>
              client.send(
                new ExecuteCommandCommand({
                  cluster,
                  task: task.taskArn!,
                  container: "agent",
                  command: command.join(" "),
                  // ECS only supports interactive sessions.
                  interactive: true
                })
              )
            ).pipe(
              Effect.catchAll((e) =>
                known
                  ? current(state).pipe(
                      Effect.orElseFail(() => e),
                      Effect.flatMap((now) =>
                        Effect.fail(now?.lastStatus === "RUNNING" ? e : notRunning(now))
                      )
                    )
                  : Effect.fail(e)
              )
            )
            const stream = response.session
            if (stream?.streamUrl === undefined || stream.tokenValue === undefined) {
              return yield* new ComputeError.ProviderUnavailable({
                module: "EcsProvider",
                method: "exec",
                provider: "ecs",
                reason: "MalformedResponse",
                detail: "ExecuteCommand returned no session"
              })
            }
            const outcome = yield* Effect.tryPromise({
              try: (signal) =>
                track(SessionManagerChannel.run(stream.streamUrl!, stream.tokenValue!, signal)),
              catch: (e) =>
                ComputeError.normalise(e, { module: "EcsProvider", method: "exec", provider: "ecs" })
            })
            const ended = yield* Clock.currentTimeMillis
            return new TaskResult.TaskResult({
              exitCode: outcome.exitCode,
              stdout: outcome.stdout,
              stderr: outcome.stderr,
              durationMs: ended - started
            })
          }),
        list: () =>
          Effect.gen(function* () {
            return (yield* liveTasks).flatMap((t) => {
              const sessionId =
                t.tags?.find((tag) => tag.key === "hangar:session")?.value ?? t.taskArn ?? "unknown"
              const state = sessions.get(sessionId)
              const repository = t.tags?.find((tag) => tag.key === "hangar:repository")?.value ?? "unknown"
              return [
                new Session.Session({
                  id: sessionId,
                  provider: "ecs" as TaskSpec.ProviderId,
                  taskId: (state?.task.taskId ?? sessionId.replace(/^ecs-/, "")) as TaskSpec.TaskId,
                  repository: (state?.task.repository ?? repository) as TaskSpec.Repository,
                  region: (state?.task.region ?? "iad") as Region.Region,
                  status: statusOf(t),
                  metadata: { cluster, taskArn: t.taskArn ?? "" }
                })
              ]
            })
          }),
        usage: (sessionId) =>
          Effect.gen(function* () {
            const state = yield* sessionOf(sessionId, "usage")
            const now = yield* Clock.currentTimeMillis
            const { result } = yield* attribution(0, now)
            const running = (result.runningMillisBySession.get(sessionId) ?? 0) / 1000
            return new Usage.Usage({
              sessionId,
              seconds: {
                ...Usage.zeroSeconds,
                running,
                stopped: Math.max(0, (now - state.createdAt) / 1000 - running)
              },
              costMicroUsd: Money.microUsd(Math.round(result.bySession.get(sessionId) ?? 0))
            })
          })
      },
      options.retry === undefined ? {} : { retry: options.retry }
    )
    return { ...provider, clusterCost } satisfies Service
  })

/** One provider (and its cluster) from `options`. */
export const layer = (options: Options): Layer.Layer<EcsProvider | EcsCluster> =>
  Layer.effectContext(
    Effect.map(make(options), (service) =>
      Context.make(EcsProvider, service).pipe(Context.add(EcsCluster, { clusterCost: service.clusterCost }))
    )
  )

const list = (name: string) =>
  Config.option(
    Config.string(name).pipe(
      Config.map((value) =>
        value
          .split(",")
          .map((part) => part.trim())
          .filter((part) => part !== "")
      )
    )
  )
const optional = (name: string) => Config.option(Config.string(name))

/** The options `layerConfig` reads from the environment (credentials are left to the SDK's chain). */
export const config: Config.Config<Options> = Config.mapOrFail(
  Config.all({
    cluster: Config.string("HANGAR_ECS_CLUSTER"),
    capacityProvider: optional("HANGAR_ECS_CAPACITY_PROVIDER"),
    gpuCapacityProvider: optional("HANGAR_ECS_GPU_CAPACITY_PROVIDER"),
    awsRegion: Config.string("AWS_REGION").pipe(Config.withDefault("us-east-1")),
    endpoint: optional("AWS_ENDPOINT_URL_ECS"),
    regions: list("HANGAR_ECS_REGIONS"),
    image: optional("HANGAR_ECS_IMAGE"),
    taskRoleArn: optional("HANGAR_ECS_TASK_ROLE_ARN"),
    subnets: list("HANGAR_ECS_SUBNETS"),
    securityGroups: list("HANGAR_ECS_SECURITY_GROUPS"),
    efsFileSystemId: optional("HANGAR_ECS_EFS_FILE_SYSTEM_ID"),
    ebsRoleArn: optional("HANGAR_ECS_EBS_ROLE_ARN"),
    pricingFile: optional("HANGAR_ECS_PRICING_FILE")
  }),
  (c): Either.Either<Options, ConfigError.ConfigError> => {
    const some = <A, K extends string>(key: K, o: { _tag: "Some"; value: A } | { _tag: "None" }) =>
      (o._tag === "Some" ? { [key]: o.value } : {}) as { [P in K]?: A }
    let pricing: PricingCatalog.PricingCatalog | undefined
    if (c.pricingFile._tag === "Some") {
      const file = c.pricingFile.value
      try {
        pricing = PricingCatalog.parseJson(readFileSync(file, "utf8"), `HANGAR_ECS_PRICING_FILE ${file}`)
        Pricing.ec2Pricing(c.awsRegion, pricing, "AWS_REGION")
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        const message =
          code === undefined
            ? (error as Error).message
            : `HANGAR_ECS_PRICING_FILE ${file}: cannot read it (${code})`
        return Either.left(
          ConfigError.InvalidData(
            ["HANGAR_ECS_PRICING_FILE"],
            message.startsWith("HANGAR_ECS_PRICING_FILE")
              ? message
              : `HANGAR_ECS_PRICING_FILE ${file}: ${message}`
          )
        )
      }
    }
    return Either.right({
      cluster: c.cluster,
      awsRegion: c.awsRegion,
      ...(c.capacityProvider._tag === "Some"
        ? { capacityProviderStrategy: [{ capacityProvider: c.capacityProvider.value }] }
        : {}),
      ...some("gpuCapacityProvider", c.gpuCapacityProvider),
      ...some("endpoint", c.endpoint),
      ...some("regions", c.regions),
      ...some("image", c.image),
      ...some("taskRoleArn", c.taskRoleArn),
      ...some("subnets", c.subnets),
      ...some("securityGroups", c.securityGroups),
      workspace:
        c.efsFileSystemId._tag === "Some"
          ? { kind: "efs", fileSystemId: c.efsFileSystemId.value }
          : { kind: "ebs", ...some("roleArn", c.ebsRoleArn) },
      ...(pricing === undefined ? {} : { pricing })
    })
  }
)

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
