/**
 * The awsJson1_1 operations: each validates its input with Schema (a bad field is an
 * InvalidParameterException naming it), calls the model and serialises with timestamps in epoch seconds.
 */
import { Either, ParseResult, Schema } from "effect"
import * as Arn from "../model/Arn.js"
import { EcsError } from "../model/EcsError.js"
import type { ContainerDefinition, EcsModel, Instance, Task } from "../model/EcsModel.js"
import type { Volume as VolumeSpec } from "../model/TaskDefinition.js"

const Tag = Schema.Struct({ key: Schema.String, value: Schema.String })
const KeyValue = Schema.Struct({ name: Schema.String, value: Schema.String })
const Strategy = Schema.Array(
  Schema.Struct({
    capacityProvider: Schema.String,
    weight: Schema.optional(Schema.Int),
    base: Schema.optional(Schema.Int)
  })
)
const ClusterRef = Schema.optional(Schema.String)

/** A decimal integer string of at most 9 digits ("0x100", " 256 ", "1e3" and "256.0" are refused, as AWS does). */
const DecimalInteger = Schema.compose(
  Schema.String.pipe(
    Schema.pattern(/^[0-9]{1,9}$/, { message: () => 'expected a decimal integer string such as "1024"' })
  ),
  Schema.NumberFromString
)

/** Task CPU: CPU units ("1024") or vCPUs ("1 vCPU", "0.5 vcpu"), as RegisterTaskDefinition takes them. */
const TaskCpu = Schema.transformOrFail(Schema.String, Schema.Int, {
  strict: true,
  decode: (text, _options, ast) => {
    if (/^[0-9]{1,9}$/.test(text)) return ParseResult.succeed(Number(text))
    const vcpus = /^([0-9]{1,3}(?:\.[0-9]{1,2})?) ?vcpu$/i.exec(text)
    if (vcpus !== null && Number.isInteger(Number(vcpus[1]) * 1024))
      return ParseResult.succeed(Number(vcpus[1]) * 1024)
    return ParseResult.fail(
      new ParseResult.Type(
        ast,
        text,
        `expected CPU units ("1024") or vCPUs ("1 vCPU"), got ${JSON.stringify(text.slice(0, 32))}`
      )
    )
  },
  encode: (units) => ParseResult.succeed(String(units))
})

/** Task memory: MiB ("2048") or GB ("2 GB"), as RegisterTaskDefinition takes it. */
const TaskMemory = Schema.transformOrFail(Schema.String, Schema.Int, {
  strict: true,
  decode: (text, _options, ast) => {
    if (/^[0-9]{1,9}$/.test(text)) return ParseResult.succeed(Number(text))
    const gb = /^([0-9]{1,4}) ?gb$/i.exec(text)
    if (gb !== null) return ParseResult.succeed(Number(gb[1]) * 1024)
    return ParseResult.fail(
      new ParseResult.Type(
        ast,
        text,
        `expected MiB ("2048") or GB ("2 GB"), got ${JSON.stringify(text.slice(0, 32))}`
      )
    )
  },
  encode: (mib) => ParseResult.succeed(String(mib))
})

const decoders = new Map<string, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>()

/** Decodes an operation's input; each operation's schema is built and compiled once. */
const input = <A, I>(schema: () => Schema.Schema<A, I>, body: unknown, operation: string): A => {
  let decode = decoders.get(operation)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(schema(), { errors: "all" }) as (
      u: unknown
    ) => Either.Either<unknown, ParseResult.ParseError>
    decoders.set(operation, decode)
  }
  const result = decode(body ?? {}) as Either.Either<A, ParseResult.ParseError>
  if (Either.isRight(result)) return result.right
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left)
  throw new EcsError(
    "InvalidParameterException",
    `${operation}: ${issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`).join("; ")}`
  )
}

const MaxResults = (most: number) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.between(1, most)), { default: () => most })

/** One page of `items` from the offset `nextToken` carries, and the token of the next page if there is one. */
const pageOf = <A>(items: ReadonlyArray<A>, maxResults: number, nextToken: number | undefined) => {
  const from = nextToken ?? 0
  const to = from + maxResults
  return { page: items.slice(from, to), ...(to < items.length ? { nextToken: String(to) } : {}) }
}

const seconds = (millis: number | undefined) => (millis === undefined ? undefined : millis / 1000)

const taskJson = (model: EcsModel, t: Task, includeTags = true) => {
  const instance = t.instance === undefined ? undefined : model.instances.get(t.instance)
  return {
    taskArn: t.arn,
    clusterArn: model.clusters.get(t.cluster)?.arn,
    taskDefinitionArn: t.definition.arn,
    containerInstanceArn: instance?.arn,
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    launchType: "EC2",
    capacityProviderName: t.capacityProvider,
    cpu: String(t.definition.cpu),
    memory: String(t.definition.memory),
    createdAt: seconds(t.createdAt),
    startedAt: seconds(t.startedAt),
    stoppingAt: seconds(t.stoppingAt),
    stoppedAt: seconds(t.stoppedAt),
    pullStartedAt: seconds(t.pullStartedAt),
    stopCode: t.stopCode,
    stoppedReason: t.stoppedReason,
    startedBy: t.startedBy,
    group: t.group,
    enableExecuteCommand: t.enableExecuteCommand,
    availabilityZone: instance?.availabilityZone,
    ...(includeTags ? { tags: t.tags } : {}),
    containers: t.definition.containerDefinitions.map((c) => ({
      name: c.name,
      image: c.image,
      lastStatus: t.lastStatus === "RUNNING" ? "RUNNING" : t.lastStatus === "STOPPED" ? "STOPPED" : "PENDING",
      exitCode: t.exitCode,
      taskArn: t.arn,
      containerArn: `${t.arn.replace(":task/", ":container/")}/${c.name}`,
      managedAgents: t.enableExecuteCommand
        ? [{ name: "ExecuteCommandAgent", lastStatus: t.lastStatus === "RUNNING" ? "RUNNING" : "PENDING" }]
        : []
    })),
    overrides: { containerOverrides: [] }
  }
}

const instanceJson = (model: EcsModel, i: Instance) => {
  const cpu = i.reservedCpu
  const memory = i.reservedMemory
  const gpus = i.reservedGpus
  const resources = (c: number, m: number, g: number) => [
    { name: "CPU", type: "INTEGER", integerValue: c },
    { name: "MEMORY", type: "INTEGER", integerValue: m },
    ...(i.gpus > 0
      ? [{ name: "GPU", type: "STRINGSET", stringSetValue: Array.from({ length: g }, (_, n) => `gpu-${n}`) }]
      : [])
  ]
  return {
    containerInstanceArn: i.arn,
    ec2InstanceId: i.id,
    capacityProviderName: i.capacityProvider,
    status: i.status,
    ec2InstanceState: i.state,
    agentConnected: i.status === "ACTIVE",
    runningTasksCount: [...i.tasks].filter((a) => model.tasks.get(a)?.lastStatus === "RUNNING").length,
    pendingTasksCount: [...i.tasks].filter((a) => model.tasks.get(a)?.lastStatus !== "RUNNING").length,
    registeredAt: seconds(i.registeredAt),
    registeredResources: resources(i.cpu, i.memory, i.gpus),
    remainingResources: resources(i.cpu - cpu, i.memory - memory, i.gpus - gpus),
    attributes: [
      { name: "ecs.instance-type", value: i.instanceType },
      { name: "ecs.availability-zone", value: i.availabilityZone },
      // What Hangar's launch template and termination lifecycle hook record on AWS (the identity document's
      // pendingTime, and the moment the hook runs), here the exact instants the bill is computed from.
      { name: "hangar.launch-time", value: String(i.launchedAt) },
      ...(i.terminatedAt === undefined
        ? []
        : [{ name: "hangar.termination-time", value: String(i.terminatedAt) }])
    ]
  }
}

const clusterJson = (model: EcsModel, name: string) => {
  const c = model.clusters.get(name)!
  return {
    clusterArn: c.arn,
    clusterName: c.name,
    status: c.status,
    capacityProviders: c.capacityProviders,
    defaultCapacityProviderStrategy: c.defaultStrategy,
    registeredContainerInstancesCount: [...model.instances.values()].filter(
      (i) => i.cluster === name && i.status === "ACTIVE"
    ).length,
    runningTasksCount: [...model.tasks.values()].filter(
      (t) => t.cluster === name && t.lastStatus === "RUNNING"
    ).length,
    pendingTasksCount: [...model.tasks.values()].filter(
      (t) => t.cluster === name && ["PROVISIONING", "PENDING", "ACTIVATING"].includes(t.lastStatus)
    ).length,
    tags: c.tags
  }
}

const definitionJson = (d: ReturnType<EcsModel["taskDefinition"]>) => ({
  taskDefinitionArn: d.arn,
  family: d.family,
  revision: d.revision,
  status: d.status,
  cpu: String(d.cpu),
  memory: String(d.memory),
  containerDefinitions: d.containerDefinitions,
  networkMode: d.networkMode ?? "bridge",
  volumes: d.volumes ?? [],
  ...(d.taskRoleArn === undefined ? {} : { taskRoleArn: d.taskRoleArn }),
  requiresCompatibilities: ["EC2"],
  registeredAt: seconds(d.registeredAt)
})

const capacityProviderJson = (model: EcsModel, name: string) => {
  const p = model.capacityProviders.get(name)!
  return {
    capacityProviderArn: p.arn,
    name: p.name,
    status: "ACTIVE",
    autoScalingGroupProvider: {
      autoScalingGroupArn: model.groups.get(p.asg)?.arn,
      managedScaling: {
        status: p.managedScaling ? "ENABLED" : "DISABLED",
        targetCapacity: p.targetCapacity,
        minimumScalingStepSize: p.minimumScalingStepSize,
        maximumScalingStepSize: p.maximumScalingStepSize,
        instanceWarmupPeriod: Math.round(model.timing.instanceWarmup / 1000)
      },
      managedTerminationProtection: p.managedTerminationProtection ? "ENABLED" : "DISABLED"
    },
    tags: p.tags
  }
}

const Overrides = Schema.Struct({
  containerOverrides: Schema.optional(
    Schema.Array(
      Schema.Struct({
        name: Schema.optional(Schema.String),
        command: Schema.optional(Schema.Array(Schema.String)),
        environment: Schema.optional(Schema.Array(KeyValue))
      })
    ).pipe(Schema.maxItems(10))
  )
})

export interface ExecSessions {
  readonly open: (
    task: Task,
    command: ReadonlyArray<string>
  ) => { sessionId: string; streamUrl: string; tokenValue: string }
}

/** The operations by name, in a `Map` (so no name an object inherits, `__proto__` or `toString`, is one). */
export const operations = (
  model: EcsModel,
  exec: ExecSessions
): ReadonlyMap<string, (body: unknown) => unknown> => new Map(Object.entries(handlers(model, exec)))

const handlers = (
  model: EcsModel,
  exec: ExecSessions
): Readonly<Record<string, (body: unknown) => unknown>> => ({
  CreateCluster: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          clusterName: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,255}$/)), {
            default: () => "default"
          }),
          tags: Schema.optional(Schema.Array(Tag))
        }),
      body,
      "CreateCluster"
    )
    return { cluster: clusterJson(model, model.createCluster(i.clusterName, [...(i.tags ?? [])]).name) }
  },
  DescribeClusters: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          clusters: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["default"] })
        }),
      body,
      "DescribeClusters"
    )
    const clusters = []
    const failures = []
    for (const ref of i.clusters) {
      const name = Arn.clusterName(ref, model)
      const c = typeof name === "string" ? model.clusters.get(name) : undefined
      if (c === undefined) failures.push({ arn: ref, reason: "MISSING" })
      else clusters.push(clusterJson(model, c.name))
    }
    return { clusters, failures }
  },
  ListClusters: (body) => {
    const i = input(
      () => Schema.Struct({ maxResults: MaxResults(100), nextToken: Schema.optional(DecimalInteger) }),
      body,
      "ListClusters"
    )
    const active = [...model.clusters.values()].filter((c) => c.status === "ACTIVE").map((c) => c.arn)
    const { page, ...next } = pageOf(active, i.maxResults, i.nextToken)
    return { clusterArns: page, ...next }
  },
  DeleteCluster: (body) => {
    const i = input(() => Schema.Struct({ cluster: Schema.String }), body, "DeleteCluster")
    return { cluster: clusterJson(model, model.deleteCluster(i.cluster).name) }
  },
  RegisterTaskDefinition: (body) => {
    const Container = Schema.Struct({
      name: Schema.String,
      image: Schema.String,
      cpu: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
      memory: Schema.optional(Schema.Int.pipe(Schema.positive())),
      memoryReservation: Schema.optional(Schema.Int.pipe(Schema.positive())),
      essential: Schema.optional(Schema.Boolean),
      command: Schema.optional(Schema.Array(Schema.String)),
      environment: Schema.optional(Schema.Array(KeyValue)),
      resourceRequirements: Schema.optional(
        Schema.Array(
          Schema.Struct({ type: Schema.Literal("GPU", "InferenceAccelerator"), value: Schema.String })
        )
      ),
      mountPoints: Schema.optional(
        Schema.Array(
          Schema.Struct({
            sourceVolume: Schema.String,
            containerPath: Schema.String,
            readOnly: Schema.optional(Schema.Boolean)
          })
        )
      )
    })
    const Volume = Schema.Struct({
      name: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,255}$/)),
      configuredAtLaunch: Schema.optional(Schema.Boolean),
      efsVolumeConfiguration: Schema.optional(
        Schema.Struct({
          fileSystemId: Schema.String.pipe(Schema.pattern(/^fs-[0-9a-f]{1,40}$/)),
          rootDirectory: Schema.optional(Schema.String),
          transitEncryption: Schema.optional(Schema.Literal("ENABLED", "DISABLED"))
        })
      )
    })
    const i = input(
      () =>
        Schema.Struct({
          family: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,255}$/)),
          containerDefinitions: Schema.Array(Container),
          cpu: Schema.optional(TaskCpu.pipe(Schema.between(128, 10240))),
          memory: Schema.optional(TaskMemory.pipe(Schema.positive())),
          networkMode: Schema.optional(Schema.Literal("bridge", "host", "awsvpc", "none")),
          requiresCompatibilities: Schema.optional(Schema.Array(Schema.String)),
          taskRoleArn: Schema.optional(Schema.String),
          volumes: Schema.optional(Schema.Array(Volume)),
          tags: Schema.optional(Schema.Array(Tag))
        }),
      body,
      "RegisterTaskDefinition"
    )
    return {
      taskDefinition: definitionJson(
        model.registerTaskDefinition(
          i.family,
          i.containerDefinitions as ReadonlyArray<ContainerDefinition>,
          i.cpu,
          i.memory,
          {
            ...(i.networkMode === undefined ? {} : { networkMode: i.networkMode }),
            ...(i.volumes === undefined ? {} : { volumes: i.volumes as ReadonlyArray<VolumeSpec> }),
            ...(i.taskRoleArn === undefined ? {} : { taskRoleArn: i.taskRoleArn })
          }
        )
      )
    }
  },
  DescribeTaskDefinition: (body) => {
    const i = input(() => Schema.Struct({ taskDefinition: Schema.String }), body, "DescribeTaskDefinition")
    return { taskDefinition: definitionJson(model.taskDefinition(i.taskDefinition)) }
  },
  ListTaskDefinitions: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          familyPrefix: Schema.optional(Schema.String),
          status: Schema.optionalWith(Schema.Literal("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"), {
            default: () => "ACTIVE" as const
          }),
          sort: Schema.optionalWith(Schema.Literal("ASC", "DESC"), { default: () => "ASC" as const }),
          maxResults: MaxResults(100),
          nextToken: Schema.optional(DecimalInteger)
        }),
      body,
      "ListTaskDefinitions"
    )
    // familyPrefix is a whole family name here, as the API reference says; ordered by family, then revision.
    const arns = [...model.definitions.entries()]
      .filter(([family]) => i.familyPrefix === undefined || family === i.familyPrefix)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flatMap(([, revisions]) => revisions.filter((d) => d.status === i.status).map((d) => d.arn))
    if (i.sort === "DESC") arns.reverse()
    const { page, ...next } = pageOf(arns, i.maxResults, i.nextToken)
    return { taskDefinitionArns: page, ...next }
  },
  ListTaskDefinitionFamilies: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          familyPrefix: Schema.optional(Schema.String),
          status: Schema.optionalWith(Schema.Literal("ACTIVE", "INACTIVE", "ALL"), {
            default: () => "ACTIVE" as const
          }),
          maxResults: MaxResults(100),
          nextToken: Schema.optional(DecimalInteger)
        }),
      body,
      "ListTaskDefinitionFamilies"
    )
    // ACTIVE: families with an ACTIVE revision; INACTIVE: families with none.
    const families = [...model.definitions.entries()]
      .filter(([family]) => i.familyPrefix === undefined || family.startsWith(i.familyPrefix))
      .filter(([, revisions]) => {
        const active = revisions.some((d) => d.status === "ACTIVE")
        return i.status === "ALL" || (i.status === "ACTIVE") === active
      })
      .map(([family]) => family)
      .sort()
    const { page, ...next } = pageOf(families, i.maxResults, i.nextToken)
    return { families: page, ...next }
  },
  DeregisterTaskDefinition: (body) => {
    const i = input(() => Schema.Struct({ taskDefinition: Schema.String }), body, "DeregisterTaskDefinition")
    return { taskDefinition: definitionJson(model.deregisterTaskDefinition(i.taskDefinition)) }
  },
  CreateCapacityProvider: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          name: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,255}$/)),
          autoScalingGroupProvider: Schema.Struct({
            autoScalingGroupArn: Schema.String,
            managedScaling: Schema.optional(
              Schema.Struct({
                status: Schema.optional(Schema.Literal("ENABLED", "DISABLED")),
                targetCapacity: Schema.optional(Schema.Int.pipe(Schema.between(1, 100))),
                minimumScalingStepSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10000))),
                maximumScalingStepSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10000))),
                instanceWarmupPeriod: Schema.optional(Schema.Int.pipe(Schema.between(0, 10000)))
              })
            ),
            managedTerminationProtection: Schema.optional(Schema.Literal("ENABLED", "DISABLED"))
          }),
          tags: Schema.optional(Schema.Array(Tag))
        }),
      body,
      "CreateCapacityProvider"
    )
    const scaling = i.autoScalingGroupProvider.managedScaling
    const p = model.createCapacityProvider(
      i.name,
      i.autoScalingGroupProvider.autoScalingGroupArn,
      scaling?.targetCapacity ?? 100,
      (scaling?.status ?? "ENABLED") === "ENABLED",
      i.autoScalingGroupProvider.managedTerminationProtection === "ENABLED",
      {
        ...(scaling?.minimumScalingStepSize === undefined
          ? {}
          : { minimumScalingStepSize: scaling.minimumScalingStepSize }),
        ...(scaling?.maximumScalingStepSize === undefined
          ? {}
          : { maximumScalingStepSize: scaling.maximumScalingStepSize }),
        ...(i.tags === undefined ? {} : { tags: i.tags })
      }
    )
    return { capacityProvider: capacityProviderJson(model, p.name) }
  },
  PutClusterCapacityProviders: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: Schema.String,
          capacityProviders: Schema.Array(Schema.String),
          defaultCapacityProviderStrategy: Strategy
        }),
      body,
      "PutClusterCapacityProviders"
    )
    return {
      cluster: clusterJson(
        model,
        model.putClusterCapacityProviders(i.cluster, i.capacityProviders, i.defaultCapacityProviderStrategy)
          .name
      )
    }
  },
  DescribeCapacityProviders: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          capacityProviders: Schema.optional(Schema.Array(Schema.String).pipe(Schema.maxItems(100))),
          maxResults: MaxResults(10),
          nextToken: Schema.optional(DecimalInteger)
        }),
      body,
      "DescribeCapacityProviders"
    )
    const all = [...model.capacityProviders.values()].filter(
      (p) =>
        i.capacityProviders === undefined ||
        i.capacityProviders.includes(p.name) ||
        i.capacityProviders.includes(p.arn)
    )
    const { page, ...next } = pageOf(all, i.maxResults, i.nextToken)
    return {
      capacityProviders: page.map((p) => capacityProviderJson(model, p.name)),
      failures: [],
      ...next
    }
  },
  RunTask: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          taskDefinition: Schema.String,
          count: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10)), { default: () => 1 }),
          launchType: Schema.optional(Schema.Literal("EC2")),
          capacityProviderStrategy: Schema.optional(Strategy),
          startedBy: Schema.optional(Schema.String.pipe(Schema.maxLength(128))),
          group: Schema.optional(Schema.String),
          clientToken: Schema.optional(Schema.String.pipe(Schema.maxLength(64))),
          enableExecuteCommand: Schema.optional(Schema.Boolean),
          overrides: Schema.optional(Overrides),
          tags: Schema.optional(Schema.Array(Tag)),
          networkConfiguration: Schema.optional(
            Schema.Struct({
              awsvpcConfiguration: Schema.Struct({
                subnets: Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(16)),
                securityGroups: Schema.optional(Schema.Array(Schema.String).pipe(Schema.maxItems(5))),
                assignPublicIp: Schema.optional(Schema.Literal("ENABLED", "DISABLED"))
              })
            })
          ),
          volumeConfigurations: Schema.optional(
            Schema.Array(
              Schema.Struct({
                name: Schema.String,
                managedEBSVolume: Schema.Struct({
                  roleArn: Schema.optional(Schema.String),
                  volumeType: Schema.optional(Schema.String),
                  sizeInGiB: Schema.optional(Schema.Int.pipe(Schema.between(1, 16384))),
                  filesystemType: Schema.optional(Schema.Literal("ext3", "ext4", "xfs", "ntfs"))
                })
              })
            )
          ),
          placementStrategy: Schema.optional(
            Schema.Array(
              Schema.Struct({
                type: Schema.Literal("binpack", "spread", "random"),
                field: Schema.optional(Schema.String)
              })
            )
          )
        }),
      body,
      "RunTask"
    )
    const definition = model.taskDefinition(i.taskDefinition)
    if (definition.networkMode === "awsvpc" && i.networkConfiguration === undefined)
      throw new EcsError(
        "InvalidParameterException",
        "Network Configuration must be provided when networkMode 'awsvpc' is specified."
      )
    for (const volume of definition.volumes ?? [])
      if (volume.configuredAtLaunch === true && !i.volumeConfigurations?.some((c) => c.name === volume.name))
        throw new EcsError(
          "InvalidParameterException",
          `volumeConfigurations: the task definition's volume ${volume.name} is configured at launch; RunTask must configure it.`
        )
    for (const configuration of i.volumeConfigurations ?? [])
      if (
        !(definition.volumes ?? []).some(
          (v) => v.name === configuration.name && v.configuredAtLaunch === true
        )
      )
        throw new EcsError(
          "InvalidParameterException",
          `volumeConfigurations: ${configuration.name} is not a volume the task definition configures at launch.`
        )
    const override = i.overrides?.containerOverrides?.[0]
    const result = model.runTask({
      cluster: i.cluster ?? "default",
      taskDefinition: i.taskDefinition,
      count: i.count,
      ...(i.launchType === undefined ? {} : { launchType: i.launchType }),
      ...(i.capacityProviderStrategy === undefined
        ? {}
        : { capacityProviderStrategy: i.capacityProviderStrategy }),
      ...(i.startedBy === undefined ? {} : { startedBy: i.startedBy }),
      ...(i.group === undefined ? {} : { group: i.group }),
      ...(i.clientToken === undefined ? {} : { clientToken: i.clientToken }),
      ...(override?.environment === undefined ? {} : { environment: override.environment }),
      ...(override?.command === undefined ? {} : { command: override.command }),
      ...(i.enableExecuteCommand === undefined ? {} : { enableExecuteCommand: i.enableExecuteCommand }),
      ...(i.tags === undefined ? {} : { tags: i.tags })
    })
    return { tasks: result.tasks.map((t) => taskJson(model, t)), failures: result.failures }
  },
  StartTask: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          taskDefinition: Schema.String,
          containerInstances: Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(10)),
          startedBy: Schema.optional(Schema.String.pipe(Schema.maxLength(128))),
          group: Schema.optional(Schema.String),
          enableExecuteCommand: Schema.optional(Schema.Boolean),
          overrides: Schema.optional(Overrides),
          tags: Schema.optional(Schema.Array(Tag))
        }),
      body,
      "StartTask"
    )
    const override = i.overrides?.containerOverrides?.[0]
    const result = model.startTask({
      cluster: i.cluster,
      taskDefinition: i.taskDefinition,
      containerInstances: i.containerInstances,
      ...(i.startedBy === undefined ? {} : { startedBy: i.startedBy }),
      ...(i.group === undefined ? {} : { group: i.group }),
      ...(override?.environment === undefined ? {} : { environment: override.environment }),
      ...(override?.command === undefined ? {} : { command: override.command }),
      ...(i.enableExecuteCommand === undefined ? {} : { enableExecuteCommand: i.enableExecuteCommand }),
      ...(i.tags === undefined ? {} : { tags: i.tags })
    })
    return { tasks: result.tasks.map((t) => taskJson(model, t)), failures: result.failures }
  },
  StopTask: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          task: Schema.String,
          reason: Schema.optional(Schema.String.pipe(Schema.maxLength(255)))
        }),
      body,
      "StopTask"
    )
    return {
      task: taskJson(model, model.stopTask(model.task(i.cluster, i.task), i.reason ?? "Task stopped by user"))
    }
  },
  DescribeTasks: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          tasks: Schema.Array(Schema.String).pipe(Schema.maxItems(100)),
          include: Schema.optional(Schema.Array(Schema.Literal("TAGS")))
        }),
      body,
      "DescribeTasks"
    )
    model.cluster(i.cluster)
    const withTags = i.include?.includes("TAGS") ?? false
    const tasks = []
    const failures = []
    for (const ref of i.tasks) {
      try {
        tasks.push(taskJson(model, model.task(i.cluster, ref), withTags))
      } catch {
        failures.push({ arn: ref, reason: "MISSING" })
      }
    }
    return { tasks, failures }
  },
  ListTasks: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          startedBy: Schema.optional(Schema.String),
          family: Schema.optional(Schema.String),
          containerInstance: Schema.optional(Schema.String),
          desiredStatus: Schema.optionalWith(Schema.Literal("RUNNING", "PENDING", "STOPPED"), {
            default: () => "RUNNING" as const
          }),
          maxResults: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 100 }),
          nextToken: Schema.optional(DecimalInteger)
        }),
      body,
      "ListTasks"
    )
    const cluster = model.cluster(i.cluster)
    if (i.startedBy !== undefined && (i.family !== undefined || i.containerInstance !== undefined))
      throw new EcsError(
        "InvalidParameterException",
        "startedBy: when startedBy is given it must be the only filter besides desiredStatus."
      )
    const onInstance =
      i.containerInstance === undefined
        ? undefined
        : model.containerInstance(cluster.name, i.containerInstance)
    if (i.containerInstance !== undefined && onInstance === undefined)
      throw new EcsError(
        "InvalidParameterException",
        `containerInstance: no container instance ${i.containerInstance} in cluster ${cluster.name}.`
      )
    const all = [...model.tasks.values()].filter(
      (t) =>
        t.cluster === cluster.name &&
        model.visible(t) &&
        i.desiredStatus !== "PENDING" &&
        t.desiredStatus === i.desiredStatus &&
        (onInstance === undefined || t.instance === onInstance.id) &&
        (i.startedBy === undefined || t.startedBy === i.startedBy) &&
        (i.family === undefined || t.definition.family === i.family)
    )
    const { page, ...next } = pageOf(
      all.map((t) => t.arn),
      i.maxResults,
      i.nextToken
    )
    return { taskArns: page, ...next }
  },
  ListContainerInstances: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          status: Schema.optional(
            Schema.Literal("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED")
          ),
          maxResults: MaxResults(100),
          nextToken: Schema.optional(DecimalInteger)
        }),
      body,
      "ListContainerInstances"
    )
    const cluster = model.cluster(i.cluster)
    const arns = [...model.instances.values()]
      .filter(
        (x) =>
          x.cluster === cluster.name &&
          (i.status === undefined ? x.status !== "INACTIVE" : x.status === i.status)
      )
      .map((x) => x.arn)
    const { page, ...next } = pageOf(arns, i.maxResults, i.nextToken)
    return { containerInstanceArns: page, ...next }
  },
  DescribeContainerInstances: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          containerInstances: Schema.Array(Schema.String).pipe(Schema.maxItems(100))
        }),
      body,
      "DescribeContainerInstances"
    )
    const cluster = model.cluster(i.cluster)
    const containerInstances = []
    const failures = []
    const now = model.clock.now()
    for (const ref of i.containerInstances) {
      const found = model.containerInstance(cluster.name, ref)
      if (
        found === undefined ||
        (found.terminatedAt !== undefined && now - found.terminatedAt > model.timing.retention)
      )
        failures.push({ arn: ref, reason: "MISSING" })
      else containerInstances.push(instanceJson(model, found))
    }
    return { containerInstances, failures }
  },
  ExecuteCommand: (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          task: Schema.String,
          container: Schema.optional(Schema.String),
          command: Schema.NonEmptyString,
          interactive: Schema.Boolean
        }),
      body,
      "ExecuteCommand"
    )
    // "Amazon ECS only supports initiating interactive sessions, so you must specify true" (API reference).
    if (!i.interactive)
      throw new EcsError(
        "InvalidParameterException",
        "interactive: Amazon ECS only supports interactive execute-command sessions; expected true, got false."
      )
    const task = model.task(i.cluster, i.task)
    if (!task.enableExecuteCommand)
      throw new EcsError(
        "InvalidParameterException",
        "The execute command failed because execute command was not enabled when the task was run."
      )
    if (task.lastStatus !== "RUNNING")
      throw new EcsError(
        "TargetNotConnectedException",
        `The execute command failed because the task is ${task.lastStatus}.`
      )
    const container =
      i.container === undefined
        ? task.definition.containerDefinitions[0]!
        : task.definition.containerDefinitions.find((c) => c.name === i.container)
    if (container === undefined)
      throw new EcsError(
        "InvalidParameterException",
        `container: the task has no container named ${i.container}; it has ${task.definition.containerDefinitions.map((c) => c.name).join(", ")}.`
      )
    return {
      clusterArn: model.clusters.get(task.cluster)?.arn,
      taskArn: task.arn,
      containerName: container.name,
      containerArn: `${task.arn.replace(":task/", ":container/")}/${container.name}`,
      interactive: i.interactive,
      session: exec.open(
        task,
        i.command.split(" ").filter((s) => s.length > 0)
      )
    }
  },
  TagResource: (body) => {
    const i = input(
      () => Schema.Struct({ resourceArn: Schema.String, tags: Schema.Array(Tag).pipe(Schema.maxItems(50)) }),
      body,
      "TagResource"
    )
    model.tagResource(i.resourceArn, i.tags)
    return {}
  },
  ListTagsForResource: (body) => {
    const i = input(() => Schema.Struct({ resourceArn: Schema.String }), body, "ListTagsForResource")
    const tags = model.tagsOf(i.resourceArn)
    return { tags }
  }
})
