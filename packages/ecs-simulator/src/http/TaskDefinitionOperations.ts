/** The task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition. */
import { ParseResult, Schema } from "effect"
import type { ContainerDefinition, EcsModel } from "../model/EcsModel.js"
import * as TaskDefinition from "../model/TaskDefinition.js"
import type { Operation } from "./AwsJson.js"
import { input, KeyValue, Paging, pageOf, Tag } from "./OperationInput.js"
import { definitionJson } from "./WireShapes.js"

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

/** RegisterTaskDefinition's input: the family, its containers and volumes, task-level size and settings. */
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
    Schema.Array(Schema.Struct({ type: Schema.Literal("GPU", "InferenceAccelerator"), value: Schema.String }))
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
      transitEncryption: Schema.optional(Schema.Literal("ENABLED", "DISABLED")),
      authorizationConfig: Schema.optional(
        Schema.Struct({
          accessPointId: Schema.optional(Schema.String.pipe(Schema.pattern(/^fsap-[0-9a-f]{8,40}$/))),
          iam: Schema.optional(Schema.Literal("ENABLED", "DISABLED"))
        })
      )
    })
  )
})
const RegisterTaskDefinitionInput = Schema.Struct({
  family: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,255}$/)),
  containerDefinitions: Schema.Array(Container),
  cpu: Schema.optional(TaskCpu.pipe(Schema.between(128, 10240))),
  memory: Schema.optional(TaskMemory.pipe(Schema.positive())),
  networkMode: Schema.optional(Schema.Literal("bridge", "host", "awsvpc", "none")),
  requiresCompatibilities: Schema.optional(Schema.Array(Schema.String)),
  taskRoleArn: Schema.optional(Schema.String),
  volumes: Schema.optional(Schema.Array(Volume)),
  tags: Schema.optional(Schema.Array(Tag))
})

/** Registers the task definition operations into `operations`. */
export const registerTaskDefinitionOperations = (
  operations: Map<string, Operation>,
  model: EcsModel
): void => {
  operations.set("RegisterTaskDefinition", (body) => {
    const i = input(() => RegisterTaskDefinitionInput, body, "RegisterTaskDefinition")
    return {
      taskDefinition: definitionJson(
        model.registerTaskDefinition(
          i.family,
          i.containerDefinitions as ReadonlyArray<ContainerDefinition>,
          i.cpu,
          i.memory,
          {
            ...(i.networkMode === undefined ? {} : { networkMode: i.networkMode }),
            ...(i.volumes === undefined
              ? {}
              : { volumes: i.volumes as ReadonlyArray<TaskDefinition.Volume> }),
            ...(i.taskRoleArn === undefined ? {} : { taskRoleArn: i.taskRoleArn })
          }
        )
      )
    }
  })
  operations.set("DescribeTaskDefinition", (body) => {
    const i = input(() => Schema.Struct({ taskDefinition: Schema.String }), body, "DescribeTaskDefinition")
    return { taskDefinition: definitionJson(model.taskDefinition(i.taskDefinition)) }
  })
  operations.set("ListTaskDefinitions", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          familyPrefix: Schema.optional(Schema.String),
          status: Schema.optionalWith(Schema.Literal("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"), {
            default: () => "ACTIVE" as const
          }),
          sort: Schema.optionalWith(Schema.Literal("ASC", "DESC"), { default: () => "ASC" as const }),
          ...Paging(100)
        }),
      body,
      "ListTaskDefinitions"
    )
    const arns = TaskDefinition.listArns(model.definitions, i)
    const { page, ...next } = pageOf(arns, i)
    return { taskDefinitionArns: page, ...next }
  })
  operations.set("ListTaskDefinitionFamilies", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          familyPrefix: Schema.optional(Schema.String),
          status: Schema.optionalWith(Schema.Literal("ACTIVE", "INACTIVE", "ALL"), {
            default: () => "ACTIVE" as const
          }),
          ...Paging(100)
        }),
      body,
      "ListTaskDefinitionFamilies"
    )
    const families = TaskDefinition.listFamilies(model.definitions, i)
    const { page, ...next } = pageOf(families, i)
    return { families: page, ...next }
  })
  operations.set("DeregisterTaskDefinition", (body) => {
    const i = input(() => Schema.Struct({ taskDefinition: Schema.String }), body, "DeregisterTaskDefinition")
    return { taskDefinition: definitionJson(model.deregisterTaskDefinition(i.taskDefinition)) }
  })
}
