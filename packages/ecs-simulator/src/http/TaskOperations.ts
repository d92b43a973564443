/** The tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks. */
import { Schema } from "effect"
import type { EcsModel } from "../model/EcsModel.js"
import * as TaskDefinition from "../model/TaskDefinition.js"
import type { Operation } from "./AwsJson.js"
import { ClusterRef, input, KeyValue, Paging, pageOf, Strategy, Tag } from "./OperationInput.js"
import { taskJson } from "./WireShapes.js"

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

const RunTaskInput = Schema.Struct({
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
          filesystemType: Schema.optional(Schema.Literal("ext3", "ext4", "xfs", "ntfs")),
          terminationPolicy: Schema.optional(Schema.Struct({ deleteOnTermination: Schema.Boolean })),
          tagSpecifications: Schema.optional(
            Schema.Array(
              Schema.Struct({
                resourceType: Schema.Literal("volume"),
                tags: Schema.optional(
                  Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.String }))
                )
              })
            )
          )
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
})

const StartTaskInput = Schema.Struct({
  cluster: ClusterRef,
  taskDefinition: Schema.String,
  containerInstances: Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(10)),
  startedBy: Schema.optional(Schema.String.pipe(Schema.maxLength(128))),
  group: Schema.optional(Schema.String),
  enableExecuteCommand: Schema.optional(Schema.Boolean),
  overrides: Schema.optional(Overrides),
  tags: Schema.optional(Schema.Array(Tag))
})

/** What RunTask and StartTask both pass on: who started the task, its group, overrides, exec and tags. */
const launchOptions = (
  i: Pick<typeof StartTaskInput.Type, "startedBy" | "group" | "overrides" | "enableExecuteCommand" | "tags">
) => {
  const override = i.overrides?.containerOverrides?.[0]
  return {
    ...(i.startedBy === undefined ? {} : { startedBy: i.startedBy }),
    ...(i.group === undefined ? {} : { group: i.group }),
    ...(override?.environment === undefined ? {} : { environment: override.environment }),
    ...(override?.command === undefined ? {} : { command: override.command }),
    ...(i.enableExecuteCommand === undefined ? {} : { enableExecuteCommand: i.enableExecuteCommand }),
    ...(i.tags === undefined ? {} : { tags: i.tags })
  }
}

/** Registers the task operations into `operations`. */
export const registerTaskOperations = (operations: Map<string, Operation>, model: EcsModel): void => {
  operations.set("RunTask", (body) => {
    const i = input(() => RunTaskInput, body, "RunTask")
    TaskDefinition.requireLaunchConfiguration(model.taskDefinition(i.taskDefinition), {
      networkConfigured: i.networkConfiguration !== undefined,
      volumesConfigured: (i.volumeConfigurations ?? []).map((c) => c.name),
      accessPointExists: (id, fileSystemId) => model.workspaces.live(id, fileSystemId) !== undefined
    })
    const result = model.runTask({
      cluster: i.cluster ?? "default",
      taskDefinition: i.taskDefinition,
      count: i.count,
      ...(i.launchType === undefined ? {} : { launchType: i.launchType }),
      ...(i.capacityProviderStrategy === undefined
        ? {}
        : { capacityProviderStrategy: i.capacityProviderStrategy }),
      ...(i.clientToken === undefined ? {} : { clientToken: i.clientToken }),
      ...launchOptions(i)
    })
    return { tasks: result.tasks.map((t) => taskJson(model, t)), failures: result.failures }
  })
  operations.set("StartTask", (body) => {
    const i = input(() => StartTaskInput, body, "StartTask")
    const result = model.startTask({
      cluster: i.cluster,
      taskDefinition: i.taskDefinition,
      containerInstances: i.containerInstances,
      ...launchOptions(i)
    })
    return { tasks: result.tasks.map((t) => taskJson(model, t)), failures: result.failures }
  })
  operations.set("StopTask", (body) => {
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
  })
  operations.set("DescribeTasks", (body) => {
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
  })
  operations.set("ListTasks", (body) => {
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
          ...Paging(100)
        }),
      body,
      "ListTasks"
    )
    const arns = model.listTasks({
      cluster: i.cluster,
      desiredStatus: i.desiredStatus,
      startedBy: i.startedBy,
      family: i.family,
      containerInstance: i.containerInstance
    })
    const { page, ...next } = pageOf(arns, i)
    return { taskArns: page, ...next }
  })
}
