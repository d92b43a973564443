/**
 * `--data-dir`: the simulator's state in `DIR/fly-simulator.json`, written atomically (a temporary file renamed
 * over the old one) after every change and on close, and read back on start, so a restart loses nothing: apps,
 * machines (state, pending transition, config, events, ledger, metadata, leases), volumes with their snapshots
 * and files, the seeded generator's position and the clock's time (a virtual clock is moved forward to it).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"
import type { FlyModel } from "./model/FlyModel.js"
import { Machine, type MachineConfig } from "./model/Machine.js"

export const fileName = "fly-simulator.json"

const State = Schema.Literal(
  "created",
  "starting",
  "started",
  "stopping",
  "stopped",
  "suspending",
  "suspended",
  "destroying",
  "destroyed",
  "failed"
)
const LedgerEntry = Schema.Struct({
  intervals: Schema.Int,
  millis: Schema.Number,
  billedSeconds: Schema.Int,
  costMicroUsd: Schema.Int
})
const Files = Schema.Array(Schema.Tuple(Schema.String, Schema.String))

const MachineRecord = Schema.Struct({
  id: Schema.String,
  app: Schema.String,
  name: Schema.String,
  region: Schema.String,
  state: State,
  since: Schema.Number,
  pending: Schema.optional(
    Schema.Struct({
      at: Schema.Number,
      to: Schema.Literal("started", "stopped", "suspended", "destroyed"),
      type: Schema.String
    })
  ),
  config: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  ledger: Schema.Record({ key: Schema.String, value: LedgerEntry }),
  eventCount: Schema.Int,
  events: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      type: Schema.String,
      status: State,
      source: Schema.Literal("user", "flyd"),
      timestamp: Schema.Number
    })
  ),
  instanceId: Schema.String,
  version: Schema.Int,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  metadata: Files,
  lease: Schema.optional(
    Schema.Struct({ nonce: Schema.String, expiresAt: Schema.Number, description: Schema.String })
  ),
  cordoned: Schema.Boolean,
  rootfs: Schema.optional(Files)
})

const VolumeRecord = Schema.Struct({
  id: Schema.String,
  app: Schema.String,
  name: Schema.String,
  region: Schema.String,
  sizeGb: Schema.Int,
  encrypted: Schema.Boolean,
  state: Schema.Literal("created", "pending_destroy", "destroyed"),
  attachedMachineId: Schema.optional(Schema.String),
  createdAt: Schema.Number,
  snapshotRetention: Schema.Int,
  autoBackupEnabled: Schema.Boolean,
  history: Schema.Array(Schema.Struct({ at: Schema.Number, sizeGb: Schema.Int, billed: Schema.Boolean })),
  snapshots: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      volumeId: Schema.String,
      volumeSizeGb: Schema.Int,
      createdAt: Schema.Number,
      retentionDays: Schema.Int,
      files: Files
    })
  ),
  files: Files
})

const Snapshot = Schema.Struct({
  version: Schema.Literal(1),
  clockMillis: Schema.Number,
  random: Schema.Int,
  transitions: Schema.Int,
  apps: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      org: Schema.String,
      createdAt: Schema.Number,
      pulledRegions: Schema.Array(Schema.String)
    })
  ),
  machines: Schema.Array(MachineRecord),
  volumes: Schema.Array(VolumeRecord)
})
type Snapshot = typeof Snapshot.Encoded

export const snapshot = (model: FlyModel): Snapshot => ({
  version: 1,
  clockMillis: model.clock.now(),
  random: model.random.position,
  transitions: model.transitions,
  apps: [...model.apps.values()].map((a) => ({
    name: a.name,
    org: a.org,
    createdAt: a.createdAt,
    pulledRegions: [...a.pulledRegions]
  })),
  machines: [...model.machines.values()].map((m) => {
    const rootfs = model.rootfsFiles(m.id)
    return {
      id: m.id,
      app: m.app,
      name: m.name,
      region: m.region,
      state: m.rawState,
      since: m.since,
      ...(m.pending === undefined ? {} : { pending: m.pending }),
      config: m.config,
      ledger: m.ledger as Record<string, typeof LedgerEntry.Type>,
      eventCount: m.events.count,
      events: m.events.retained(),
      instanceId: m.instanceId,
      version: m.version,
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
      metadata: [...m.metadata],
      ...(m.lease === undefined ? {} : { lease: m.lease }),
      cordoned: m.cordoned,
      ...(rootfs === undefined ? {} : { rootfs: [...rootfs] })
    }
  }),
  volumes: [...model.volumes.values()].map((v) => ({
    id: v.id,
    app: v.app,
    name: v.name,
    region: v.region,
    sizeGb: v.sizeGb,
    encrypted: v.encrypted,
    state: v.state,
    ...(v.attachedMachineId === undefined ? {} : { attachedMachineId: v.attachedMachineId }),
    createdAt: v.createdAt,
    snapshotRetention: v.snapshotRetention,
    autoBackupEnabled: v.autoBackupEnabled,
    history: v.history,
    snapshots: v.snapshots.map((s) => ({ ...s, files: [...s.files] })),
    files: [...v.files]
  }))
})

export const save = (model: FlyModel, dataDir: string): void => {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, fileName)
  writeFileSync(`${path}.tmp`, JSON.stringify(snapshot(model)))
  renameSync(`${path}.tmp`, path)
}

/** Reads `DIR/fly-simulator.json` into an empty model; undefined when there is none. Throws on a corrupt file. */
export const read = (dataDir: string): typeof Snapshot.Type | undefined => {
  const path = join(dataDir, fileName)
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(Snapshot))(text)
  if (decoded._tag === "Left")
    throw new Error(`${path} is not a fly-simulator snapshot: ${decoded.left.message}`)
  return decoded.right
}

export const load = (model: FlyModel, s: typeof Snapshot.Type): void => {
  model.random.position = s.random
  model.transitions = s.transitions
  for (const a of s.apps)
    model.apps.set(a.name, {
      name: a.name,
      org: a.org,
      createdAt: a.createdAt,
      pulledRegions: new Set(a.pulledRegions)
    })
  for (const r of s.machines) {
    const m = new Machine(
      model.machineHost,
      r.id,
      r.app,
      r.name,
      r.region,
      r.config as unknown as MachineConfig,
      r.instanceId,
      r.createdAt
    )
    m.restore(r.state, r.since)
    m.pending = r.pending
    Object.assign(m.ledger, structuredClone(r.ledger))
    m.events.restore(r.events, r.eventCount)
    m.version = r.version
    m.updatedAt = r.updatedAt
    for (const [key, value] of r.metadata) m.metadata.set(key, value)
    m.lease = r.lease
    m.cordoned = r.cordoned
    model.addMachine(m)
    if (r.rootfs !== undefined) model.rootfsFiles(m.id, new Map(r.rootfs))
  }
  for (const v of s.volumes)
    model.volumes.set(v.id, {
      ...v,
      attachedMachineId: v.attachedMachineId,
      history: [...v.history],
      snapshots: v.snapshots.map((snap) => ({ ...snap, files: new Map(snap.files) })),
      files: new Map(v.files)
    })
  model.rearm()
}
