/**
 * `--data-dir`: the simulator's durable state in `DIR/ecs-simulator.json`, written atomically (temp file +
 * rename) after every configuration change and on close, read back on start. It keeps what outlives a process on
 * AWS: clusters, task definitions (every revision), Auto Scaling groups, capacity providers, tags, and the billing
 * ledger of every instance launched. Tasks and instances that were live when the simulator stopped are not
 * brought back: the instances are recorded as terminated at that moment (the process that simulated them ended)
 * and the groups relaunch their desired count on start. The bill is computed from the ledger with the prices the
 * simulator runs with now, so every instance type in the file must have a price in its catalog.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Pricing } from "@hangar/core"
import { Schema } from "effect"
import type { EcsModel } from "./model/EcsModel.js"

const Tag = Schema.Struct({ key: Schema.String, value: Schema.String })

const Snapshot = Schema.Struct({
  version: Schema.Literal(1),
  savedAt: Schema.Number,
  groups: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      arn: Schema.String,
      instanceType: Schema.String,
      min: Schema.Int,
      max: Schema.Int,
      desired: Schema.Int
    })
  ),
  capacityProviders: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      asg: Schema.String,
      targetCapacity: Schema.Int,
      managedScaling: Schema.Boolean,
      managedTerminationProtection: Schema.Boolean,
      minimumScalingStepSize: Schema.Int,
      maximumScalingStepSize: Schema.Int,
      tags: Schema.Array(Tag)
    })
  ),
  definitions: Schema.Array(
    Schema.Struct({
      family: Schema.String,
      containerDefinitions: Schema.Array(Schema.Unknown),
      cpu: Schema.Int,
      memory: Schema.Int,
      status: Schema.Literal("ACTIVE", "INACTIVE"),
      networkMode: Schema.optional(Schema.Literal("bridge", "host", "awsvpc", "none")),
      volumes: Schema.optional(Schema.Array(Schema.Unknown)),
      taskRoleArn: Schema.optional(Schema.String)
    })
  ),
  clusters: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      status: Schema.Literal("ACTIVE", "INACTIVE"),
      tags: Schema.Array(Tag),
      capacityProviders: Schema.Array(Schema.String),
      defaultStrategy: Schema.Array(
        Schema.Struct({
          capacityProvider: Schema.String,
          weight: Schema.optional(Schema.Int),
          base: Schema.optional(Schema.Int)
        })
      )
    })
  ),
  ledger: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      arn: Schema.String,
      cluster: Schema.String,
      capacityProvider: Schema.String,
      instanceType: Schema.String,
      availabilityZone: Schema.String,
      launchedAt: Schema.Number,
      terminatedAt: Schema.Number
    })
  )
})
type Snapshot = typeof Snapshot.Type

export const fileName = "ecs-simulator.json"

export const snapshot = (model: EcsModel): Snapshot => {
  const now = model.clock.now()
  return {
    version: 1,
    savedAt: now,
    groups: [...model.groups.values()].map((g) => ({ ...g })),
    capacityProviders: [...model.capacityProviders.values()].map((p) => ({ ...p, tags: [...p.tags] })),
    definitions: [...model.definitions.values()].flatMap((revisions) =>
      revisions.map((d) => ({
        family: d.family,
        containerDefinitions: [...d.containerDefinitions],
        cpu: d.cpu,
        memory: d.memory,
        status: d.status,
        ...(d.networkMode === undefined ? {} : { networkMode: d.networkMode }),
        ...(d.volumes === undefined ? {} : { volumes: [...d.volumes] }),
        ...(d.taskRoleArn === undefined ? {} : { taskRoleArn: d.taskRoleArn })
      }))
    ),
    clusters: [...model.clusters.values()].map((c) => ({
      name: c.name,
      status: c.status,
      tags: [...c.tags],
      capacityProviders: [...c.capacityProviders],
      defaultStrategy: [...c.defaultStrategy]
    })),
    ledger: [...model.instances.values()].map((i) => ({
      id: i.id,
      arn: i.arn,
      cluster: i.cluster,
      capacityProvider: i.capacityProvider,
      instanceType: i.instanceType,
      availabilityZone: i.availabilityZone,
      launchedAt: i.launchedAt,
      terminatedAt: i.terminatedAt ?? now
    }))
  }
}

export const save = (model: EcsModel, dataDir: string): void => {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, fileName)
  writeFileSync(`${path}.tmp`, JSON.stringify(snapshot(model)))
  renameSync(`${path}.tmp`, path)
}

/** Loads `DIR/ecs-simulator.json` into an empty model; false when there is none. Throws on a corrupt file. */
export const load = (model: EcsModel, dataDir: string): boolean => {
  let text: string
  try {
    text = readFileSync(join(dataDir, fileName), "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false
    throw error
  }
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(Snapshot))(text)
  if (decoded._tag === "Left")
    throw new Error(`${join(dataDir, fileName)} is not an ecs-simulator snapshot: ${decoded.left.message}`)
  const s = decoded.right
  const unpriced = [
    ...s.groups.map((g, i) => ({ path: `groups.${i}.instanceType`, type: g.instanceType })),
    ...s.ledger.map((l, i) => ({ path: `ledger.${i}.instanceType`, type: l.instanceType }))
  ].flatMap(({ path, type }) => {
    const why = Pricing.ec2Unpriced(type, model.pricing)
    return why === undefined ? [] : [`${path}: ${why}`]
  })
  if (unpriced.length > 0)
    throw new Error(
      `${join(dataDir, fileName)} cannot be billed with the simulator's prices: ${unpriced.join("; ")}`
    )
  for (const g of s.groups) model.groups.set(g.name, { ...g })
  for (const p of s.capacityProviders)
    model.createCapacityProvider(
      p.name,
      p.asg,
      p.targetCapacity,
      p.managedScaling,
      p.managedTerminationProtection,
      {
        minimumScalingStepSize: p.minimumScalingStepSize,
        maximumScalingStepSize: p.maximumScalingStepSize,
        tags: p.tags
      }
    )
  for (const d of s.definitions)
    model.registerTaskDefinition(d.family, d.containerDefinitions as never, d.cpu, d.memory, {
      ...(d.networkMode === undefined ? {} : { networkMode: d.networkMode }),
      ...(d.volumes === undefined ? {} : { volumes: d.volumes as never }),
      ...(d.taskRoleArn === undefined ? {} : { taskRoleArn: d.taskRoleArn })
    }).status = d.status
  for (const line of s.ledger) {
    model.instances.set(line.id, {
      ...line,
      warmAt: line.launchedAt,
      cpu: 0,
      memory: 0,
      gpus: 0,
      state: "terminated",
      status: "INACTIVE",
      registeredAt: line.launchedAt,
      tasks: new Set(),
      reservedCpu: 0,
      reservedMemory: 0,
      reservedGpus: 0,
      images: new Set(),
      emptySince: undefined
    })
  }
  for (const c of s.clusters) {
    const cluster = model.createCluster(c.name, c.tags)
    if (c.status === "INACTIVE") cluster.status = "INACTIVE"
    else model.putClusterCapacityProviders(c.name, c.capacityProviders, c.defaultStrategy)
  }
  return true
}
