/**
 * `--data-dir`: the simulator's state survives kill -9. Every change is appended to `DIR/fly-simulator.journal`
 * before the request that made it is answered: one JSON line per answered request that changed anything, holding
 * the apps, machines and volumes it touched as they now are (or their removal), the clock's time, the seeded
 * generator's position and a sequence number, written with one `writeSync` and made durable with `fsyncSync`. So a
 * write costs what it changed, not the size of the state. When the journal outgrows the last snapshot, the whole
 * state is written to `DIR/fly-simulator.json` (a temporary file, fsynced, renamed over the old one, the directory
 * fsynced) with the sequence number it covers, and the journal starts again. On start the snapshot is read, the
 * journal's lines after its sequence number are applied in order (a torn last line, from a kill in the middle of a
 * write that was never answered, is dropped; a bad line before it is corruption and stops the start), and a fresh
 * snapshot is written. Kept: apps, machines (state, pending transition, config, events, ledger, metadata, leases),
 * volumes with their snapshots and files, the generator's position and the clock's time (a virtual clock is moved
 * forward to it), so the bill and the simulated time carry on where they were.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { Pricing } from "@hangar/core"
import { DurableFile } from "@hangar/core/simulation"
import { Either, Schema } from "effect"
import type { FlyModel, Ledger, Volume } from "./model/FlyModel.js"
import { Machine, type MachineConfig } from "./model/Machine.js"

export const fileName = "fly-simulator.json"
export const journalName = "fly-simulator.journal"

const State = Pricing.FlyMachineState
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
  /** Pairs; files written before metadata moved to a Map hold an object, read as its entries. */
  metadata: Schema.Union(Files, Schema.Record({ key: Schema.String, value: Schema.String })),
  lease: Schema.optional(
    Schema.Struct({ nonce: Schema.String, expiresAt: Schema.Number, description: Schema.String })
  ),
  cordoned: Schema.Boolean,
  memoryLimitMb: Schema.optional(Schema.Int),
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

const AppRecord = Schema.Struct({
  name: Schema.String,
  org: Schema.String,
  createdAt: Schema.Number,
  pulledRegions: Schema.Array(Schema.String)
})

/** The summed ledger of an app's forgotten destroyed machines. */
const RetiredRecord = Schema.Struct({
  app: Schema.String,
  ledger: Schema.Record({ key: Schema.String, value: LedgerEntry })
})

const Snapshot = Schema.Struct({
  version: Schema.Literal(1),
  /** The last journal line this snapshot includes (0 for none). */
  seq: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  clockMillis: Schema.Number,
  random: Schema.Int,
  transitions: Schema.Int,
  apps: Schema.Array(AppRecord),
  machines: Schema.Array(MachineRecord),
  volumes: Schema.Array(VolumeRecord),
  retired: Schema.optionalWith(Schema.Array(RetiredRecord), { default: () => [] })
})
type Snapshot = typeof Snapshot.Encoded
export type State = typeof Snapshot.Type

/** One journal line: what one answered request changed. */
const JournalLine = Schema.Struct({
  seq: Schema.Int,
  clockMillis: Schema.Number,
  random: Schema.Int,
  transitions: Schema.Int,
  apps: Schema.Array(AppRecord),
  machines: Schema.Array(MachineRecord),
  volumes: Schema.Array(VolumeRecord),
  retired: Schema.optionalWith(Schema.Array(RetiredRecord), { default: () => [] }),
  removed: Schema.Struct({
    apps: Schema.Array(Schema.String),
    machines: Schema.Array(Schema.String),
    volumes: Schema.Array(Schema.String)
  })
})
type JournalLine = typeof JournalLine.Encoded

// ---- records of the model's entities

const appRecord = (app: { name: string; org: string; createdAt: number; pulledRegions: Set<string> }) => ({
  name: app.name,
  org: app.org,
  createdAt: app.createdAt,
  pulledRegions: [...app.pulledRegions]
})

const machineRecord = (model: FlyModel, m: Machine): typeof MachineRecord.Encoded => {
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
    ...(m.memoryLimitMb === undefined ? {} : { memoryLimitMb: m.memoryLimitMb }),
    ...(rootfs === undefined ? {} : { rootfs: [...rootfs] })
  }
}

const volumeRecord = (v: Volume): typeof VolumeRecord.Encoded => ({
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
})

const retiredRecord = (app: string, ledger: Ledger): typeof RetiredRecord.Encoded => ({
  app,
  ledger: ledger as Record<string, typeof LedgerEntry.Type>
})

/** The whole state, as the snapshot file holds it. */
export const snapshot = (model: FlyModel, seq = 0): Snapshot => ({
  version: 1,
  seq,
  clockMillis: model.clock.now(),
  random: model.random.position,
  transitions: model.transitions,
  apps: [...model.apps.values()].map(appRecord),
  machines: [...model.machines.values()].map((m) => machineRecord(model, m)),
  volumes: [...model.volumes.values()].map(volumeRecord),
  retired: [...model.retired].map(([app, ledger]) => retiredRecord(app, ledger))
})

/** What changed since the last line (the model's `changes`), as a journal line. */
const journalLine = (model: FlyModel, seq: number): JournalLine => {
  const { changes } = model
  const apps: Array<typeof AppRecord.Encoded> = []
  const machines: Array<typeof MachineRecord.Encoded> = []
  const volumes: Array<typeof VolumeRecord.Encoded> = []
  const removed = { apps: [] as Array<string>, machines: [] as Array<string>, volumes: [] as Array<string> }
  for (const name of changes.apps) {
    const app = model.apps.get(name)
    if (app === undefined) removed.apps.push(name)
    else apps.push(appRecord(app))
  }
  for (const id of changes.machines) {
    const m = model.machines.get(id)
    if (m === undefined) removed.machines.push(id)
    else machines.push(machineRecord(model, m))
  }
  for (const id of changes.volumes) {
    const v = model.volumes.get(id)
    if (v === undefined) removed.volumes.push(id)
    else volumes.push(volumeRecord(v))
  }
  const retired = [...changes.retired].map((app) => retiredRecord(app, model.retired.get(app) ?? {}))
  return {
    seq,
    clockMillis: model.clock.now(),
    random: model.random.position,
    transitions: model.transitions,
    apps,
    machines,
    volumes,
    retired,
    removed
  }
}

// ---- files

/** Writes the whole state to `DIR/fly-simulator.json` durably: temporary file fsynced, renamed, directory fsynced. */
export const writeSnapshot = (model: FlyModel, dataDir: string, seq = 0): number => {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, fileName)
  return DurableFile.replace(path, JSON.stringify(snapshot(model, seq)))
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
}

/** Applies one journal line to the state's records, by name and id. */
const applyLine = (
  records: {
    apps: Map<string, typeof AppRecord.Type>
    machines: Map<string, typeof MachineRecord.Type>
    volumes: Map<string, typeof VolumeRecord.Type>
    retired: Map<string, typeof RetiredRecord.Type>
  },
  line: typeof JournalLine.Type
) => {
  for (const app of line.apps) records.apps.set(app.name, app)
  for (const m of line.machines) records.machines.set(m.id, m)
  for (const v of line.volumes) records.volumes.set(v.id, v)
  for (const r of line.retired) records.retired.set(r.app, r)
  for (const name of line.removed.apps) records.apps.delete(name)
  for (const id of line.removed.machines) records.machines.delete(id)
  for (const id of line.removed.volumes) records.volumes.delete(id)
}

/**
 * The journal's complete lines after `seq`. A last line cut short (no newline, or not JSON) was never answered
 * and is left out; any other bad line throws.
 */
const readJournal = (path: string, seq: number) => {
  const text = readText(path) ?? ""
  const lines: Array<typeof JournalLine.Type> = []
  let offset = 0
  const decode = Schema.decodeUnknownEither(Schema.parseJson(JournalLine))
  while (offset < text.length) {
    const end = text.indexOf("\n", offset)
    const last = end < 0 || end === text.length - 1
    if (end < 0) break
    const decoded = decode(text.slice(offset, end))
    if (Either.isLeft(decoded)) {
      if (last) break
      throw new Error(`${path} is corrupt at byte ${offset}: ${decoded.left.message}`)
    }
    if (decoded.right.seq > seq) lines.push(decoded.right)
    offset = end + 1
  }
  return lines
}

/**
 * Reads `DIR`: the snapshot with the journal's later lines applied; undefined when there is neither. Throws on a
 * corrupt file.
 */
export const read = (dataDir: string): State | undefined => {
  const path = join(dataDir, fileName)
  const text = readText(path)
  let state: State | undefined
  if (text !== undefined) {
    const decoded = Schema.decodeUnknownEither(Schema.parseJson(Snapshot))(text)
    if (Either.isLeft(decoded))
      throw new Error(`${path} is not a fly-simulator snapshot: ${decoded.left.message}`)
    state = decoded.right
  }
  const lines = readJournal(join(dataDir, journalName), state?.seq ?? 0)
  if (lines.length === 0) return state
  const records = {
    apps: new Map((state?.apps ?? []).map((a) => [a.name, a] as const)),
    machines: new Map((state?.machines ?? []).map((m) => [m.id, m] as const)),
    volumes: new Map((state?.volumes ?? []).map((v) => [v.id, v] as const)),
    retired: new Map((state?.retired ?? []).map((r) => [r.app, r] as const))
  }
  for (const line of lines) applyLine(records, line)
  const last = lines[lines.length - 1]!
  return {
    version: 1,
    seq: last.seq,
    clockMillis: last.clockMillis,
    random: last.random,
    transitions: last.transitions,
    apps: [...records.apps.values()],
    machines: [...records.machines.values()],
    volumes: [...records.volumes.values()],
    retired: [...records.retired.values()]
  }
}

/** Fills an empty model from a state that `read` returned. */
export const load = (model: FlyModel, s: State): void => {
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
    const metadata = Array.isArray(r.metadata) ? r.metadata : Object.entries(r.metadata)
    for (const [key, value] of metadata) m.metadata.set(key, value)
    m.lease = r.lease
    m.cordoned = r.cordoned
    m.memoryLimitMb = r.memoryLimitMb
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
  for (const r of s.retired) model.retired.set(r.app, structuredClone(r.ledger) as Ledger)
  model.rearm()
  model.changes.clear()
}

// ---- the journal

/** The journal is folded into a snapshot once it is this large and larger than the last snapshot. */
export const compactAfterBytes = 4 * 1_048_576

export class Journal {
  private fd: number
  private seq: number
  private bytes: number
  private snapshotBytes: number
  private lastClock: number
  private lastRandom: number

  /**
   * Opens `DIR`'s journal for a model that `read`/`load` filled (or an empty one), after writing a fresh snapshot
   * of it, so the journal starts empty. `trackClock`: a line is written when only the clock moved (virtual time).
   */
  constructor(
    private readonly model: FlyModel,
    private readonly dataDir: string,
    private readonly trackClock: boolean,
    seq: number
  ) {
    mkdirSync(dataDir, { recursive: true })
    this.seq = seq
    this.snapshotBytes = writeSnapshot(model, dataDir, seq)
    this.fd = openSync(join(dataDir, journalName), "a")
    ftruncateSync(this.fd, 0)
    fsyncSync(this.fd)
    DurableFile.fsyncDirectory(dataDir)
    this.bytes = 0
    this.lastClock = model.clock.now()
    this.lastRandom = model.random.position
    model.changes.clear()
    model.changes.enable()
  }

  /** Whether anything needs writing: a changed entity, the generator moved, or (virtual time) the clock moved. */
  get pending(): boolean {
    return (
      !this.model.changes.empty ||
      this.model.random.position !== this.lastRandom ||
      (this.trackClock && this.model.clock.now() !== this.lastClock)
    )
  }

  /** Appends what changed as one line and makes it durable before returning; nothing when nothing changed. */
  flush(): void {
    if (!this.pending) return
    this.seq++
    const text = `${JSON.stringify(journalLine(this.model, this.seq))}\n`
    writeSync(this.fd, text)
    fsyncSync(this.fd)
    this.bytes += Buffer.byteLength(text)
    this.lastClock = this.model.clock.now()
    this.lastRandom = this.model.random.position
    this.model.changes.clear()
    if (this.bytes > compactAfterBytes && this.bytes > this.snapshotBytes) this.compact()
  }

  /** Writes the whole state as the snapshot covering every line so far, then empties the journal. */
  compact(): void {
    this.flush()
    this.snapshotBytes = writeSnapshot(this.model, this.dataDir, this.seq)
    ftruncateSync(this.fd, 0)
    fsyncSync(this.fd)
    this.bytes = 0
  }

  /** Lines written since the last snapshot (for tests). */
  get journalBytes(): number {
    return this.bytes
  }

  close(): void {
    this.compact()
    closeSync(this.fd)
  }
}
