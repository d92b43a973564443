/**
 * `--data-dir`: the simulator's durable state, saved before a request is answered and durable against kill -9.
 *
 * It keeps what outlives a process on AWS: clusters, task definitions (every revision), Auto Scaling groups,
 * capacity providers, tags, the billing ledger of every instance launched, and the simulated time. Two files:
 *
 * - `DIR/ecs-simulator.journal`: one JSON line per save, `{seq, at, records}`, where `at` is the clock and
 *   `records` the groups, providers, definitions, clusters and ledger lines that changed since the line before
 *   (or a reset), appended and fsynced. A save costs what changed, not the size of the state.
 * - `DIR/ecs-simulator.json`: a snapshot (with the `seq` of the last line it contains), written to a temporary
 *   file, fsynced, renamed over the old one and the directory fsynced; after it the journal starts afresh the same
 *   way. Compaction runs at start, on close and once the journal passes `compactAfterBytes`.
 *
 * Loading reads the snapshot, then the journal lines after its `seq`; a last line cut short by a crash (never
 * acknowledged: the answer waits for its fsync) is dropped, any other bad line is an error naming the file and
 * line. Tasks and instances that were live are not brought back: the instances are recorded as terminated at
 * the last saved time (when the process that simulated them was last known to run) and the groups relaunch
 * their desired count. A virtual clock resumes at the saved time. The bill is computed from the ledger with the
 * prices the simulator runs with now, so every instance type in the files must have a price in its catalog.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { Pricing, VirtualClock } from "@hangar/core"
import { DurableFile } from "@hangar/core/simulation"
import { Either, Schema } from "effect"
import * as ContainerInstance from "./model/ContainerInstance.js"
import type { EcsModel } from "./model/EcsModel.js"
import type * as TaskDefinition from "./model/TaskDefinition.js"
import type { AccessPoint as AccessPointState } from "./model/Workspaces.js"

// ---- records

const Tag = Schema.Struct({ key: Schema.String, value: Schema.String })

const Group = Schema.Struct({
  name: Schema.String,
  arn: Schema.String,
  instanceType: Schema.String,
  min: Schema.Int,
  max: Schema.Int,
  desired: Schema.Int
})

const CapacityProvider = Schema.Struct({
  name: Schema.String,
  asg: Schema.String,
  targetCapacity: Schema.Int,
  managedScaling: Schema.Boolean,
  managedTerminationProtection: Schema.Boolean,
  minimumScalingStepSize: Schema.Int,
  maximumScalingStepSize: Schema.Int,
  tags: Schema.Array(Tag)
})

const Definition = Schema.Struct({
  family: Schema.String,
  /** Absent in version 1 files, whose revisions are in order. */
  revision: Schema.optional(Schema.Int),
  containerDefinitions: Schema.Array(Schema.Unknown),
  cpu: Schema.Int,
  memory: Schema.Int,
  status: Schema.Literal("ACTIVE", "INACTIVE"),
  networkMode: Schema.optional(Schema.Literal("bridge", "host", "awsvpc", "none")),
  volumes: Schema.optional(Schema.Array(Schema.Unknown)),
  taskRoleArn: Schema.optional(Schema.String)
})

const Cluster = Schema.Struct({
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

const LedgerLine = Schema.Struct({
  id: Schema.String,
  arn: Schema.String,
  cluster: Schema.String,
  capacityProvider: Schema.String,
  instanceType: Schema.String,
  availabilityZone: Schema.String,
  launchedAt: Schema.Number,
  /** Absent while the instance runs. */
  terminatedAt: Schema.optional(Schema.Number)
})

const AccessPoint = Schema.Struct({
  id: Schema.String,
  arn: Schema.String,
  fileSystemId: Schema.String,
  clientToken: Schema.String,
  rootDirectory: Schema.String,
  tags: Schema.Array(Tag),
  storedGb: Schema.Number,
  createdAt: Schema.Number,
  deletedAt: Schema.optional(Schema.Number)
})

const Snapshot = Schema.Struct({
  version: Schema.Literal(1, 2),
  /** The last journal line this snapshot contains (0 in version 1 files). */
  seq: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  savedAt: Schema.Number,
  groups: Schema.Array(Group),
  capacityProviders: Schema.Array(CapacityProvider),
  definitions: Schema.Array(Definition),
  clusters: Schema.Array(Cluster),
  ledger: Schema.Array(LedgerLine),
  /** The workspaces' file systems and access points (absent in older files). */
  fileSystems: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  accessPoints: Schema.optionalWith(Schema.Array(AccessPoint), { default: () => [] })
})
type Snapshot = typeof Snapshot.Type

const Change = Schema.Union(
  Schema.Struct({ group: Group }),
  Schema.Struct({ capacityProvider: CapacityProvider }),
  Schema.Struct({ definition: Definition }),
  Schema.Struct({ cluster: Cluster }),
  Schema.Struct({ instance: LedgerLine }),
  Schema.Struct({ fileSystem: Schema.String }),
  Schema.Struct({ accessPoint: AccessPoint }),
  Schema.Struct({ reset: Schema.Literal(true) })
)
type Change = typeof Change.Type

const JournalLine = Schema.Struct({ seq: Schema.Int, at: Schema.Number, changes: Schema.Array(Change) })
const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(JournalLine))
const decodeSnapshot = Schema.decodeUnknownEither(Schema.parseJson(Snapshot))

export const fileName = "ecs-simulator.json"
export const journalName = "ecs-simulator.journal"

/** The snapshot and journal file names of a store: `ecs-simulator`'s for the simulator's region, `ecs-simulator.<region>` for others. */
export const filesOf = (base = "ecs-simulator") => ({ snapshot: `${base}.json`, journal: `${base}.journal` })

// ---- the model as records

const groupRecord = (model: EcsModel, name: string) => {
  const g = model.groups.get(name)!
  return {
    name: g.name,
    arn: g.arn,
    instanceType: g.instanceType,
    min: g.min,
    max: g.max,
    desired: g.desired
  }
}

const capacityProviderRecord = (model: EcsModel, name: string) => {
  const p = model.capacityProviders.get(name)!
  return {
    name: p.name,
    asg: p.asg,
    targetCapacity: p.targetCapacity,
    managedScaling: p.managedScaling,
    managedTerminationProtection: p.managedTerminationProtection,
    minimumScalingStepSize: p.minimumScalingStepSize,
    maximumScalingStepSize: p.maximumScalingStepSize,
    tags: [...p.tags]
  }
}

const definitionRecord = (d: TaskDefinition.TaskDefinition) => ({
  family: d.family,
  revision: d.revision,
  containerDefinitions: [...d.containerDefinitions],
  cpu: d.cpu,
  memory: d.memory,
  status: d.status,
  ...(d.networkMode === undefined ? {} : { networkMode: d.networkMode }),
  ...(d.volumes === undefined ? {} : { volumes: [...d.volumes] }),
  ...(d.taskRoleArn === undefined ? {} : { taskRoleArn: d.taskRoleArn })
})

const clusterRecord = (model: EcsModel, name: string) => {
  const c = model.clusters.get(name)!
  return {
    name: c.name,
    status: c.status,
    tags: [...c.tags],
    capacityProviders: [...c.capacityProviders],
    defaultStrategy: [...c.defaultStrategy]
  }
}

const ledgerRecord = (model: EcsModel, id: string) => {
  const i = model.instances.get(id)!
  return {
    id: i.id,
    arn: i.arn,
    cluster: i.cluster,
    capacityProvider: i.capacityProvider,
    instanceType: i.instanceType,
    availabilityZone: i.availabilityZone,
    launchedAt: i.launchedAt,
    ...(i.terminatedAt === undefined ? {} : { terminatedAt: i.terminatedAt })
  }
}

/** The whole durable state (live instances without `terminatedAt`). */
export const snapshot = (model: EcsModel, seq = 0): Snapshot => ({
  version: 2,
  seq,
  savedAt: model.clock.now(),
  groups: [...model.groups.keys()].map((name) => groupRecord(model, name)),
  capacityProviders: [...model.capacityProviders.keys()].map((name) => capacityProviderRecord(model, name)),
  definitions: [...model.definitions.values()].flatMap((revisions) => revisions.map(definitionRecord)),
  clusters: [...model.clusters.keys()].map((name) => clusterRecord(model, name)),
  ledger: [...model.instances.keys()].map((id) => ledgerRecord(model, id)),
  fileSystems: [...model.workspaces.fileSystems],
  accessPoints: [...model.workspaces.accessPoints.values()].map(accessPointRecord)
})

const accessPointRecord = (ap: AccessPointState): typeof AccessPoint.Type => ({
  id: ap.id,
  arn: ap.arn,
  fileSystemId: ap.fileSystemId,
  clientToken: ap.clientToken,
  rootDirectory: ap.rootDirectory,
  tags: ap.tags.map((t) => ({ key: t.key, value: t.value })),
  storedGb: ap.storedGb,
  createdAt: ap.createdAt,
  ...(ap.deletedAt === undefined ? {} : { deletedAt: ap.deletedAt })
})

/** The changes the model recorded since the last save, as journal records (and clears them). */
const takeChanges = (model: EcsModel): Array<Change> => {
  const unsaved = model.unsaved
  const changes: Array<Change> = unsaved.reset ? [{ reset: true }] : []
  for (const name of unsaved.groups)
    if (model.groups.has(name)) changes.push({ group: groupRecord(model, name) })
  for (const name of unsaved.capacityProviders)
    if (model.capacityProviders.has(name))
      changes.push({ capacityProvider: capacityProviderRecord(model, name) })
  for (const d of unsaved.definitions) changes.push({ definition: definitionRecord(d) })
  for (const name of unsaved.clusters)
    if (model.clusters.has(name)) changes.push({ cluster: clusterRecord(model, name) })
  for (const id of unsaved.instances)
    if (model.instances.has(id)) changes.push({ instance: ledgerRecord(model, id) })
  for (const id of unsaved.workspaces) {
    const ap = model.workspaces.accessPoints.get(id)
    if (ap !== undefined) changes.push({ accessPoint: accessPointRecord(ap) })
    else if (model.workspaces.fileSystems.has(id)) changes.push({ fileSystem: id })
  }
  unsaved.clear()
  return changes
}

// ---- files

/** The durable state read back: the snapshot with the journal's later lines applied. */
export interface Saved {
  readonly state: Snapshot
  /** The last line applied. */
  readonly seq: number
  /** The simulated time of the last save. */
  readonly at: number
}

/** Reads `DIR`'s snapshot and journal; undefined when there is neither. Throws on a corrupt file. */
export const read = (dataDir: string, baseName?: string): Saved | undefined => {
  const files = filesOf(baseName)
  const snapshotPath = join(dataDir, files.snapshot)
  const journalPath = join(dataDir, files.journal)
  const hasSnapshot = existsSync(snapshotPath)
  if (!hasSnapshot && !existsSync(journalPath)) return undefined
  let base: Snapshot = {
    version: 2,
    seq: 0,
    savedAt: 0,
    groups: [],
    capacityProviders: [],
    definitions: [],
    clusters: [],
    ledger: [],
    fileSystems: [],
    accessPoints: []
  }
  if (hasSnapshot) {
    const decoded = decodeSnapshot(readFileSync(snapshotPath, "utf8"))
    if (Either.isLeft(decoded))
      throw new Error(`${snapshotPath} is not an ecs-simulator snapshot: ${decoded.left.message}`)
    base = decoded.right
  }
  const groups = new Map(base.groups.map((g) => [g.name, g]))
  const capacityProviders = new Map(base.capacityProviders.map((p) => [p.name, p]))
  const revisionOf = new Map<string, number>()
  const definitions = new Map<string, typeof Definition.Type>(
    base.definitions.map((d) => {
      const revision = d.revision ?? (revisionOf.get(d.family) ?? 0) + 1
      revisionOf.set(d.family, revision)
      return [`${d.family}:${revision}`, { ...d, revision }] as const
    })
  )
  const clusters = new Map(base.clusters.map((c) => [c.name, c]))
  const ledger = new Map(base.ledger.map((l) => [l.id, l]))
  const fileSystems = new Set(base.fileSystems)
  const accessPoints = new Map(base.accessPoints.map((a) => [a.id, a]))
  let seq = base.seq
  let at = base.savedAt
  const text = existsSync(journalPath) ? readFileSync(journalPath, "utf8") : ""
  const lines = text.split("\n")
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    if (line === "") continue
    const decoded = decodeLine(line)
    const last = n === lines.length - 1
    if (Either.isLeft(decoded)) {
      // Cut short by a crash before its fsync returned: that save was never acknowledged.
      if (last) break
      throw new Error(`${journalPath}: line ${n + 1} is not a journal line: ${decoded.left.message}`)
    }
    if (decoded.right.seq <= seq) continue
    seq = decoded.right.seq
    at = Math.max(at, decoded.right.at)
    for (const change of decoded.right.changes) {
      if ("reset" in change)
        for (const map of [
          groups,
          capacityProviders,
          definitions,
          clusters,
          ledger,
          fileSystems,
          accessPoints
        ])
          map.clear()
      else if ("fileSystem" in change) fileSystems.add(change.fileSystem)
      else if ("accessPoint" in change) accessPoints.set(change.accessPoint.id, change.accessPoint)
      else if ("group" in change) groups.set(change.group.name, change.group)
      else if ("capacityProvider" in change)
        capacityProviders.set(change.capacityProvider.name, change.capacityProvider)
      else if ("definition" in change)
        definitions.set(`${change.definition.family}:${change.definition.revision}`, change.definition)
      else if ("cluster" in change) clusters.set(change.cluster.name, change.cluster)
      else ledger.set(change.instance.id, change.instance)
    }
  }
  return {
    seq,
    at,
    state: {
      version: 2,
      seq,
      savedAt: at,
      groups: [...groups.values()],
      capacityProviders: [...capacityProviders.values()],
      // In first-registered order, each family's revisions ascending (a family's revisions are registered in turn).
      definitions: [...definitions.values()],
      clusters: [...clusters.values()],
      ledger: [...ledger.values()],
      fileSystems: [...fileSystems],
      accessPoints: [...accessPoints.values()]
    }
  }
}

/** Puts saved state into an empty model (instances live when it was saved are terminated at `at`). */
export const apply = (model: EcsModel, saved: Saved, where: string): void => {
  const s = saved.state
  const unpriced = [
    ...s.groups.map((g, i) => ({ path: `groups.${i}.instanceType`, type: g.instanceType })),
    ...s.ledger.map((l, i) => ({ path: `ledger.${i}.instanceType`, type: l.instanceType }))
  ].flatMap(({ path, type }) => {
    const why = Pricing.ec2Unpriced(type, model.pricing)
    return why === undefined ? [] : [`${path}: ${why}`]
  })
  if (unpriced.length > 0)
    throw new Error(`${where} cannot be billed with the simulator's prices: ${unpriced.join("; ")}`)
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
  for (const id of s.fileSystems) model.workspaces.fileSystems.add(id)
  for (const ap of s.accessPoints) model.workspaces.restore({ ...ap, deletedAt: ap.deletedAt })
  for (const line of s.ledger) {
    const terminatedAt = line.terminatedAt ?? saved.at
    model.instances.set(line.id, {
      ...line,
      terminatedAt,
      warmAt: line.launchedAt,
      cpu: 0,
      memory: 0,
      gpus: 0,
      state: "terminated",
      status: "INACTIVE",
      registeredAt: line.launchedAt,
      ...ContainerInstance.unreserved()
    })
  }
  for (const c of s.clusters) {
    const cluster = model.createCluster(c.name, c.tags)
    if (c.status === "INACTIVE") cluster.status = "INACTIVE"
    else model.putClusterCapacityProviders(c.name, c.capacityProviders, c.defaultStrategy)
  }
}

// ---- the store

export interface StoreOptions {
  /** Compact once the journal is this long (default 4 MiB). */
  readonly compactAfterBytes?: number
  /** The files' base name (default `ecs-simulator`). */
  readonly base?: string
}

/** The journal and snapshot of one data directory, for one model. */
export class Store {
  private journal: number | undefined
  private seq = 0
  private savedAt: number
  private journalBytes = 0
  private readonly compactAfterBytes: number
  private readonly files: { readonly snapshot: string; readonly journal: string }

  private constructor(
    private readonly dataDir: string,
    private readonly model: EcsModel,
    options: StoreOptions
  ) {
    this.savedAt = model.clock.now()
    this.compactAfterBytes = options.compactAfterBytes ?? 4 * 1_048_576
    this.files = filesOf(options.base)
  }

  /**
   * Opens `dataDir` for `model` (empty, fresh): reads what was saved, moves a virtual clock on to the saved time,
   * fills the model, and compacts.
   */
  static async open(dataDir: string, model: EcsModel, options: StoreOptions = {}): Promise<Store> {
    mkdirSync(dataDir, { recursive: true })
    const saved = read(dataDir, options.base)
    const store = new Store(dataDir, model, options)
    if (saved !== undefined) {
      const clock = model.clock
      if (clock instanceof VirtualClock.VirtualClock && clock.now() < saved.at)
        await clock.advanceTo(saved.at)
      apply(model, saved, join(dataDir, store.files.snapshot))
      store.seq = saved.seq
    }
    store.compact()
    return store
  }

  /**
   * Saves what changed (and the clock) as one fsynced journal line; nothing when neither moved. The clock alone is
   * saved when it moved by at least `clockStepMillis` (a real clock moves all the time).
   */
  flush(clockStepMillis = 0): void {
    const now = this.model.clock.now()
    const moved = now - this.savedAt
    if (this.model.unsaved.empty && (moved === 0 || moved < clockStepMillis)) return
    const line = `${JSON.stringify({ seq: this.seq + 1, at: now, changes: takeChanges(this.model) })}\n`
    const fd = this.openJournal()
    writeSync(fd, line)
    fsyncSync(fd)
    this.seq++
    this.savedAt = now
    this.journalBytes += Buffer.byteLength(line)
    if (this.journalBytes >= this.compactAfterBytes) this.compact()
  }

  /** Writes the whole state as the snapshot and starts an empty journal. */
  compact(): void {
    this.model.unsaved.clear()
    const now = this.model.clock.now()
    DurableFile.replace(
      join(this.dataDir, this.files.snapshot),
      JSON.stringify(snapshot(this.model, this.seq))
    )
    this.savedAt = now
    this.closeJournal()
    DurableFile.replace(join(this.dataDir, this.files.journal), "")
    this.journalBytes = 0
  }

  close(): void {
    this.flush()
    this.compact()
    this.closeJournal()
  }

  private openJournal(): number {
    this.journal ??= openSync(join(this.dataDir, this.files.journal), "a")
    return this.journal
  }

  private closeJournal(): void {
    if (this.journal !== undefined) closeSync(this.journal)
    this.journal = undefined
  }
}
