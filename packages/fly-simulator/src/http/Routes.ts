/**
 * The Machines API routes (paths under /v1, Fly's bodies, status codes and `{"error": …}` shapes). Each route
 * validates its parameters and body, calls the model, and serialises; nothing else happens here.
 */

import { Schema } from "effect"
import type { FastifyInstance, FastifyRequest } from "fastify"
import type { Bill } from "../model/Billing.js"
import {
  type FlyModel,
  type Machine,
  type MachineConfig,
  SimError,
  type Snapshot,
  type Volume
} from "../model/FlyModel.js"
import { BooleanFromString, decode, IntFromString } from "./Validation.js"

const Guest = Schema.Struct({
  cpu_kind: Schema.optionalWith(Schema.Literal("shared", "performance"), {
    default: () => "shared" as const
  }),
  cpus: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 16)), { default: () => 1 }),
  memory_mb: Schema.optionalWith(Schema.Int.pipe(Schema.between(256, 131072)), { default: () => 256 })
})

/** autostop accepts a bool or off|stop|suspend and is echoed as false|true|"suspend", as Fly does. */
const Autostop = Schema.transform(
  Schema.Union(Schema.Boolean, Schema.Literal("off", "stop", "suspend")),
  Schema.Union(Schema.Boolean, Schema.Literal("suspend")),
  {
    strict: true,
    decode: (value) => (value === "off" ? false : value === "stop" ? true : value),
    encode: (value) => value
  }
)

const Service = Schema.Struct(
  {
    protocol: Schema.optional(Schema.Literal("tcp", "udp")),
    internal_port: Schema.optional(Schema.Int.pipe(Schema.between(1, 65535))),
    autostop: Schema.optional(Autostop),
    autostart: Schema.optional(Schema.Boolean),
    min_machines_running: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
    concurrency: Schema.optional(
      Schema.Struct(
        {
          type: Schema.optional(Schema.Literal("connections", "requests")),
          soft_limit: Schema.optional(Schema.Int.pipe(Schema.positive())),
          hard_limit: Schema.optional(Schema.Int.pipe(Schema.positive()))
        },
        { key: Schema.String, value: Schema.Unknown }
      )
    )
  },
  { key: Schema.String, value: Schema.Unknown }
)

const Config = Schema.Struct(
  {
    image: Schema.NonEmptyString,
    guest: Schema.optional(Guest),
    env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
    mounts: Schema.optional(
      Schema.Array(
        Schema.Struct(
          { volume: Schema.String, path: Schema.String },
          { key: Schema.String, value: Schema.Unknown }
        )
      )
    ),
    services: Schema.optional(Schema.Array(Service)),
    rootfs: Schema.optional(
      Schema.Struct(
        { size_gb: Schema.optional(Schema.Int.pipe(Schema.positive())) },
        { key: Schema.String, value: Schema.Unknown }
      )
    )
  },
  { key: Schema.String, value: Schema.Unknown }
)

const CreateMachine = Schema.Struct({
  config: Config,
  name: Schema.optional(Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9_-]{1,63}$/))),
  region: Schema.optional(Schema.String),
  skip_launch: Schema.optional(Schema.Boolean),
  lease_ttl: Schema.optional(Schema.Int.pipe(Schema.positive())),
  skip_service_registration: Schema.optional(Schema.Boolean)
})

const UpdateMachine = Schema.Struct({
  config: Config,
  current_version: Schema.optional(Schema.String),
  skip_launch: Schema.optional(Schema.Boolean),
  name: Schema.optional(Schema.String),
  region: Schema.optional(Schema.String)
})
const SignalBody = Schema.Struct({
  signal: Schema.Union(
    Schema.String.pipe(Schema.pattern(/^SIG[A-Z0-9]+$/)),
    Schema.Int.pipe(Schema.between(1, 64))
  )
})
const CreateApp = Schema.Struct({
  app_name: Schema.String,
  org_slug: Schema.optionalWith(Schema.String, { default: () => "personal" }),
  network: Schema.optional(Schema.String)
})
const AppParams = Schema.Struct({ app: Schema.String })
const MachineParams = Schema.Struct({
  app: Schema.String,
  id: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{14}$/))
})
const VolumeParams = Schema.Struct({ app: Schema.String, id: Schema.String })
const StopBody = Schema.Struct({
  signal: Schema.optional(Schema.String.pipe(Schema.pattern(/^SIG[A-Z0-9]+$/))),
  timeout: Schema.optional(Schema.Union(Schema.String, Schema.Number))
})
const ExecBody = Schema.Struct({
  command: Schema.optional(Schema.NonEmptyArray(Schema.String)),
  cmd: Schema.optional(Schema.NonEmptyString),
  timeout: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 3600)), { default: () => 30 }),
  stdin: Schema.optional(Schema.String),
  container: Schema.optional(Schema.String)
})
const ListMachinesQuery = Schema.Struct({
  include_deleted: Schema.optional(BooleanFromString),
  region: Schema.optional(Schema.String),
  state: Schema.optional(Schema.String),
  summary: Schema.optional(BooleanFromString)
})
/** fly-go sends `state` repeated (`state=started&state=stopped`); others send it comma-separated. */
const WaitQuery = Schema.Struct({
  state: Schema.optionalWith(Schema.Union(Schema.String, Schema.Array(Schema.String)), {
    default: () => "started"
  }),
  timeout: Schema.optionalWith(IntFromString, { default: () => 60 }),
  instance_id: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String),
  from_event_id: Schema.optional(Schema.String)
})
const EventsQuery = Schema.Struct({
  limit: Schema.optionalWith(IntFromString.pipe(Schema.between(1, 50)), { default: () => 20 })
})
const DeleteQuery = Schema.Struct({
  force: Schema.optional(BooleanFromString),
  kill: Schema.optional(BooleanFromString)
})
const LeaseBody = Schema.Struct({
  ttl: Schema.optional(Schema.Int.pipe(Schema.positive())),
  description: Schema.optional(Schema.String)
})
const LeaseQuery = Schema.Struct({ ttl: Schema.optional(IntFromString.pipe(Schema.positive())) })
const MetadataBody = Schema.Struct({ value: Schema.String, updated_at: Schema.optional(Schema.String) })
const metadataKeyPattern = /^[A-Za-z0-9_.-]{1,64}$/
const MetadataKey = Schema.String.pipe(Schema.pattern(metadataKeyPattern))
const MetadataParams = Schema.Struct({ app: Schema.String, id: Schema.String, key: MetadataKey })
/** `PUT|PATCH …/metadata`: keys to set, a null or empty value removes one; 412 on a stale machine_version. */
const UpdateMetadata = Schema.Struct({
  metadata: Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.String) }).pipe(
    Schema.filter((metadata) => {
      const bad = Object.keys(metadata).find((key) => !metadataKeyPattern.test(key))
      return bad === undefined || `key ${JSON.stringify(bad)} must be 1 to 64 letters, digits, _, . or -`
    })
  ),
  machine_version: Schema.optional(Schema.String),
  updated_at: Schema.optional(Schema.String)
})
const ProcessesQuery = Schema.Struct({
  sort_by: Schema.optional(Schema.Literal("pid", "cpu", "rss", "rtime", "stime", "command")),
  order: Schema.optional(Schema.Literal("asc", "desc"))
})
const MemoryLimitBody = Schema.Struct({ limit_mb: Schema.Int.pipe(Schema.positive()) })
const ReclaimMemoryBody = Schema.Struct({ amount_mb: Schema.Int.pipe(Schema.positive()) })
const CreateVolume = Schema.Struct({
  name: Schema.String.pipe(Schema.pattern(/^[a-z0-9_]{1,30}$/)),
  region: Schema.String,
  size_gb: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 500)), { default: () => 1 }),
  encrypted: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  snapshot_id: Schema.optional(Schema.String),
  source_volume_id: Schema.optional(Schema.String),
  snapshot_retention: Schema.optional(Schema.Int.pipe(Schema.between(1, 60))),
  auto_backup_enabled: Schema.optional(Schema.Boolean),
  require_unique_zone: Schema.optional(Schema.Boolean),
  fstype: Schema.optional(Schema.Literal("ext4", "raw"))
})
const ExtendVolume = Schema.Struct({ size_gb: Schema.Int.pipe(Schema.between(1, 500)) })
const UpdateVolume = Schema.Struct({
  snapshot_retention: Schema.optional(Schema.Int.pipe(Schema.between(1, 60))),
  auto_backup_enabled: Schema.optional(Schema.Boolean)
})

const iso = (millis: number) => new Date(millis).toISOString()

/**
 * An image reference split as Fly's `image_ref` shows it: the registry host (Docker Hub's when the first path
 * part is not a host), the repository without that host (`library/` for Docker Hub's official images), the tag
 * (default `latest`) and the digest when the reference pins one.
 */
export const imageRef = (image: string) => {
  const at = image.indexOf("@")
  const named = at < 0 ? image : image.slice(0, at)
  const digest = at < 0 ? undefined : image.slice(at + 1)
  const slash = named.indexOf("/")
  const first = slash < 0 ? "" : named.slice(0, slash)
  const hasHost = first.includes(".") || first.includes(":") || first === "localhost"
  const path = hasHost ? named.slice(slash + 1) : named
  const colon = path.lastIndexOf(":")
  const repository = colon < 0 ? path : path.slice(0, colon)
  return {
    registry: hasHost ? first : "registry-1.docker.io",
    repository: hasHost || repository.includes("/") ? repository : `library/${repository}`,
    tag: colon < 0 ? "latest" : path.slice(colon + 1),
    ...(digest === undefined ? {} : { digest })
  }
}

export const machineJson = (m: Machine, summary = false, now = Number.POSITIVE_INFINITY) => ({
  id: m.id,
  name: m.name,
  state: m.state,
  region: m.region,
  instance_id: m.instanceId,
  private_ip: `fdaa:0:1::${m.id.slice(0, 4)}`,
  image_ref: imageRef(m.config.image),
  created_at: iso(m.createdAt),
  updated_at: iso(m.updatedAt),
  ...(summary
    ? {}
    : {
        config: { ...m.config, metadata: Object.fromEntries(m.metadata) },
        events: m.recentEvents(5),
        checks: []
      }),
  ...(m.lease === undefined || m.lease.expiresAt <= now ? {} : { nonce: m.lease.nonce })
})

const volumeJson = (v: Volume) => ({
  id: v.id,
  name: v.name,
  state: v.state,
  size_gb: v.sizeGb,
  region: v.region,
  encrypted: v.encrypted,
  attached_machine_id: v.attachedMachineId ?? null,
  created_at: iso(v.createdAt),
  zone: `${v.region}-1`,
  fstype: "ext4",
  snapshot_retention: v.snapshotRetention,
  auto_backup_enabled: v.autoBackupEnabled,
  host_status: "ok",
  type: "local",
  block_size: 4096,
  blocks: v.sizeGb * 262_144
})

const snapshotJson = (s: Snapshot) => ({
  id: s.id,
  size: s.volumeSizeGb * 1_073_741_824,
  volume_size: s.volumeSizeGb * 1_073_741_824,
  digest: `sha256:${s.id.slice(3)}`,
  created_at: iso(s.createdAt),
  status: "created",
  retention_days: s.retentionDays
})

const memoryJson = (memory: { limitMb: number; availableMb: number }) => ({
  limit_mb: memory.limitMb,
  available_mb: memory.availableMb
})

const nonceOf = (request: FastifyRequest) => {
  const header = request.headers["fly-machine-lease-nonce"]
  return Array.isArray(header) ? header[0] : header
}

export interface RouteContext {
  readonly model: FlyModel
  readonly billing: () => Bill
}

/** What every route group shares: the model, a machine looked up from the path, and the machine's JSON. */
interface Handlers {
  readonly model: FlyModel
  readonly machine: (request: FastifyRequest) => Machine
  readonly json: (m: Machine, summary?: boolean) => ReturnType<typeof machineJson>
}

const handlers = (model: FlyModel): Handlers => ({
  model,
  machine: (request) => {
    const { app, id } = decode(MachineParams, request.params, "path")
    return model.machine(app, id)
  },
  json: (m, summary = false) => machineJson(m, summary, model.clock.now())
})

const leaseJson = (m: Machine, lease: { nonce: string; expiresAt: number; description: string }) => ({
  status: "success",
  data: {
    nonce: lease.nonce,
    expires_at: Math.floor(lease.expiresAt / 1000),
    owner: "hangar",
    description: lease.description,
    version: m.instanceId
  }
})

// ---- apps

const registerApps = (server: FastifyInstance, { model }: Handlers): void => {
  server.get("/v1/apps", async () => {
    const apps = [...model.apps.values()]
    return {
      total_apps: apps.length,
      apps: apps.map((a) => ({
        name: a.name,
        machine_count: model.listMachines(a.name).length,
        network: "default"
      }))
    }
  })
  server.post("/v1/apps", async (request, reply) => {
    const body = decode(CreateApp, request.body, "body")
    const app = model.createApp(body.app_name, body.org_slug)
    return reply.code(201).send({ name: app.name, organization: { slug: app.org } })
  })
  server.get("/v1/apps/:app", async (request) => {
    const app = model.app(decode(AppParams, request.params, "path").app)
    return { name: app.name, organization: { slug: app.org }, status: "deployed" }
  })
  server.delete("/v1/apps/:app", async (request, reply) => {
    model.deleteApp(decode(AppParams, request.params, "path").app)
    return reply.code(202).send()
  })
}

// ---- machines: list, create, update, lifecycle

const registerMachines = (server: FastifyInstance, { model, machine, json }: Handlers): void => {
  server.get("/v1/apps/:app/machines", async (request) => {
    const { app } = decode(AppParams, request.params, "path")
    const query = decode(ListMachinesQuery, request.query, "query")
    return model
      .listMachines(app, {
        ...(query.include_deleted === undefined ? {} : { includeDeleted: query.include_deleted }),
        ...(query.region === undefined ? {} : { region: query.region }),
        ...(query.state === undefined ? {} : { states: query.state.split(",") })
      })
      .map((m) => json(m, query.summary === true))
  })
  server.post("/v1/apps/:app/machines", async (request) => {
    const { app } = decode(AppParams, request.params, "path")
    const body = decode(CreateMachine, request.body, "body")
    const created = model.createMachine(app, {
      config: body.config as MachineConfig,
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.region === undefined ? {} : { region: body.region }),
      ...(body.skip_launch === undefined ? {} : { skipLaunch: body.skip_launch }),
      ...(body.lease_ttl === undefined ? {} : { leaseTtl: body.lease_ttl })
    })
    // Fly answers a create with the machine as it was created (state `created`, a `launch` event); it starts after.
    return { ...json(created), state: "created" }
  })
  server.get("/v1/apps/:app/machines/:id", async (request) => json(machine(request)))
  server.post("/v1/apps/:app/machines/:id", async (request) => {
    const m = machine(request)
    const body = decode(UpdateMachine, request.body, "body")
    if (body.name !== undefined && body.name !== m.name)
      throw new SimError(400, "invalid_argument: body.name cannot be changed by update")
    if (body.region !== undefined && body.region !== m.region)
      throw new SimError(400, "invalid_argument: body.region cannot be changed by update")
    if (body.current_version !== undefined && body.current_version !== m.instanceId)
      throw new SimError(412, `current_version ${body.current_version} is not the machine's version`)
    return json(model.update(m, body.config as MachineConfig, nonceOf(request), body.skip_launch === true))
  })
  server.delete("/v1/apps/:app/machines/:id", async (request) => {
    const m = machine(request)
    const query = decode(DeleteQuery, request.query, "query")
    model.destroy(m, query.force === true || query.kill === true, nonceOf(request))
    return { ok: true }
  })
  server.post("/v1/apps/:app/machines/:id/start", async (request) =>
    model.start(machine(request), nonceOf(request))
  )
  server.post("/v1/apps/:app/machines/:id/stop", async (request) => {
    const m = machine(request)
    decode(StopBody, request.body, "body")
    model.stop(m, nonceOf(request))
    return { ok: true }
  })
  server.post("/v1/apps/:app/machines/:id/suspend", async (request) => {
    model.suspend(machine(request), nonceOf(request))
    return { ok: true }
  })
  server.post("/v1/apps/:app/machines/:id/restart", async (request) => {
    model.restart(machine(request), nonceOf(request))
    return { ok: true }
  })
  server.post("/v1/apps/:app/machines/:id/signal", async (request) => {
    const m = machine(request)
    const { signal } = decode(SignalBody, request.body, "body")
    model.signal(m, String(signal), nonceOf(request))
    return { ok: true }
  })
  for (const [path, cordoned] of [
    ["cordon", true],
    ["uncordon", false]
  ] as const) {
    server.post(`/v1/apps/:app/machines/:id/${path}`, async (request) => {
      model.cordon(machine(request), cordoned, nonceOf(request))
      return { ok: true }
    })
  }
}

// ---- wait, exec, events, versions

const registerWaitExecEvents = (server: FastifyInstance, { model, machine }: Handlers): void => {
  server.get("/v1/apps/:app/machines/:id/wait", async (request, reply) => {
    const m = machine(request)
    const query = decode(WaitQuery, request.query, "query")
    if (query.timeout < 1 || query.timeout > 60) {
      throw new SimError(400, "invalid_argument: timeout must be between 1 and 60 seconds")
    }
    if (query.instance_id !== undefined && query.instance_id !== m.instanceId)
      throw new SimError(
        400,
        `invalid_argument: instance_id ${query.instance_id} is not the machine's version`
      )
    if (query.version !== undefined && query.version !== m.instanceId)
      throw new SimError(400, `invalid_argument: version ${query.version} is currently replaced`)
    const states = [query.state].flat().flatMap((state) => state.split(","))
    for (const s of states) {
      if (!["started", "stopped", "suspended", "destroyed", "failed", "settled"].includes(s)) {
        throw new SimError(
          400,
          `invalid_argument: state ${s} is not one of started, stopped, suspended, destroyed, failed, settled`
        )
      }
    }
    const ok = await model.wait(m, states, query.timeout * 1000)
    if (!ok)
      return reply
        .code(408)
        .send({ error: "deadline_exceeded: machine did not reach the requested state in time" })
    const last = m.events.last()
    return { ok: true, state: m.state, version: m.instanceId, event_id: last?.id ?? "" }
  })
  server.post("/v1/apps/:app/machines/:id/exec", async (request) => {
    const m = machine(request)
    const body = decode(ExecBody, request.body, "body")
    const command = body.command ?? body.cmd?.split(" ").filter((part) => part.length > 0)
    if (command === undefined)
      throw new SimError(400, "invalid_argument: body.command (string array) or body.cmd is required")
    const outcome = await model.executeWithDeadline(m, command, body.timeout)
    return {
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      exit_code: outcome.exitCode,
      exit_signal: outcome.exitCode === 137 ? 9 : 0
    }
  })
  server.get("/v1/apps/:app/machines/:id/events", async (request) => {
    const m = machine(request)
    const { limit } = decode(EventsQuery, request.query, "query")
    void m.state
    return m.recentEvents(limit)
  })
  server.get("/v1/apps/:app/machines/:id/versions", async (request) => {
    const m = machine(request)
    return [{ version: m.instanceId, user_config: m.config }]
  })
}

// ---- metadata

const registerMetadata = (server: FastifyInstance, { model, machine }: Handlers): void => {
  server.get("/v1/apps/:app/machines/:id/metadata", async (request) =>
    Object.fromEntries(machine(request).metadata)
  )
  server.get("/v1/apps/:app/machines/:id/metadata/:key", async (request) => {
    const { app, id, key } = decode(MetadataParams, request.params, "path")
    return { value: model.metadataValue(model.machine(app, id), key) }
  })
  server.post("/v1/apps/:app/machines/:id/metadata/:key", async (request, reply) => {
    const { app, id, key } = decode(MetadataParams, request.params, "path")
    const m = model.machine(app, id)
    const { value } = decode(MetadataBody, request.body, "body")
    model.setMetadata(m, key, value)
    return reply.code(204).send()
  })
  for (const method of ["PUT", "PATCH"] as const) {
    server.route({
      method,
      url: "/v1/apps/:app/machines/:id/metadata",
      handler: async (request, reply) => {
        const m = machine(request)
        const body = decode(UpdateMetadata, request.body, "body")
        if (body.machine_version !== undefined && body.machine_version !== m.instanceId)
          throw new SimError(
            412,
            `failed_precondition: machine_version ${body.machine_version} is not the machine's version ${m.instanceId}`
          )
        model.updateMetadata(m, Object.entries(body.metadata))
        return reply.code(204).send()
      }
    })
  }

  server.delete("/v1/apps/:app/machines/:id/metadata/:key", async (request, reply) => {
    const { app, id, key } = decode(MetadataParams, request.params, "path")
    model.deleteMetadata(model.machine(app, id), key)
    return reply.code(204).send()
  })
  // Leases answer the status/data envelope Fly returns (docs and fly-go), not the flat `Lease` schema of the
  // spec; conformance tests check the envelope's `data` against that schema instead.
}

// ---- processes and memory

const registerProcessesAndMemory = (server: FastifyInstance, { model, machine }: Handlers): void => {
  server.get("/v1/apps/:app/machines/:id/ps", async (request) => {
    const m = machine(request)
    const { sort_by, order } = decode(ProcessesQuery, request.query, "query")
    const processes = model.processes(m).map((p) => ({
      pid: p.pid,
      command: p.command,
      directory: p.directory,
      cpu: 0,
      rss: 0,
      rtime: p.runningMillis,
      stime: 0,
      listen_sockets: p.listenSockets
    }))
    if (sort_by === undefined) return processes
    const sign = order === "desc" ? -1 : 1
    return processes.sort((a, b) => sign * (a[sort_by] < b[sort_by] ? -1 : a[sort_by] > b[sort_by] ? 1 : 0))
  })
  server.get("/v1/apps/:app/machines/:id/memory", async (request) =>
    memoryJson(model.memory(machine(request)))
  )
  server.put("/v1/apps/:app/machines/:id/memory", async (request) => {
    const m = machine(request)
    const { limit_mb } = decode(MemoryLimitBody, request.body, "body")
    return memoryJson(model.setMemoryLimit(m, limit_mb))
  })
  server.post("/v1/apps/:app/machines/:id/memory/reclaim", async (request) => {
    const m = machine(request)
    const { amount_mb } = decode(ReclaimMemoryBody, request.body, "body")
    return { actual_mb: model.reclaimMemory(m, amount_mb) }
  })
}

// ---- leases

const registerLeases = (server: FastifyInstance, { model, machine }: Handlers): void => {
  server.post("/v1/apps/:app/machines/:id/lease", async (request, reply) => {
    const m = machine(request)
    const body = decode(LeaseBody, request.body, "body")
    const query = decode(LeaseQuery, request.query, "query")
    const ttl = body.ttl ?? query.ttl ?? 30
    const lease = model.acquireLease(m, ttl, body.description ?? "", nonceOf(request))
    return reply.code(201).send(leaseJson(m, lease))
  })
  server.get("/v1/apps/:app/machines/:id/lease", async (request) => {
    const m = machine(request)
    const lease = model.lease(m)
    if (lease === undefined) throw new SimError(404, "lease not found")
    return leaseJson(m, lease)
  })
  server.delete("/v1/apps/:app/machines/:id/lease", async (request) => {
    model.releaseLease(machine(request), nonceOf(request))
    return { status: "success", data: { ok: true } }
  })
}

// ---- volumes, snapshots and regions

const registerVolumes = (server: FastifyInstance, { model }: Handlers): void => {
  server.get("/v1/apps/:app/volumes", async (request) => {
    const { app } = decode(AppParams, request.params, "path")
    return model.listVolumes(app).map(volumeJson)
  })
  server.post("/v1/apps/:app/volumes", async (request) => {
    const { app } = decode(AppParams, request.params, "path")
    const body = decode(CreateVolume, request.body, "body")
    return volumeJson(
      model.createVolume(app, {
        name: body.name,
        region: body.region,
        sizeGb: body.size_gb,
        encrypted: body.encrypted,
        ...(body.snapshot_retention === undefined ? {} : { snapshotRetention: body.snapshot_retention }),
        ...(body.auto_backup_enabled === undefined ? {} : { autoBackupEnabled: body.auto_backup_enabled }),
        ...(body.snapshot_id === undefined ? {} : { snapshotId: body.snapshot_id }),
        ...(body.source_volume_id === undefined ? {} : { sourceVolumeId: body.source_volume_id })
      })
    )
  })
  server.get("/v1/apps/:app/volumes/:id", async (request) => {
    const { app, id } = decode(VolumeParams, request.params, "path")
    return volumeJson(model.volume(app, id))
  })
  server.put("/v1/apps/:app/volumes/:id", async (request) => {
    const { app, id } = decode(VolumeParams, request.params, "path")
    const v = model.volume(app, id)
    const body = decode(UpdateVolume, request.body, "body")
    model.updateVolume(v, {
      ...(body.snapshot_retention === undefined ? {} : { snapshotRetention: body.snapshot_retention }),
      ...(body.auto_backup_enabled === undefined ? {} : { autoBackupEnabled: body.auto_backup_enabled })
    })
    return volumeJson(v)
  })
  server.delete("/v1/apps/:app/volumes/:id", async (request) => {
    const { app, id } = decode(VolumeParams, request.params, "path")
    const v = model.volume(app, id)
    model.deleteVolume(v)
    return volumeJson(v)
  })
  server.put("/v1/apps/:app/volumes/:id/extend", async (request) => {
    const { app, id } = decode(VolumeParams, request.params, "path")
    const v = model.volume(app, id)
    const { needsRestart } = model.extendVolume(v, decode(ExtendVolume, request.body, "body").size_gb)
    return { volume: volumeJson(v), needs_restart: needsRestart }
  })
  server.get("/v1/apps/:app/volumes/:id/snapshots", async (request) => {
    const { app, id } = decode(VolumeParams, request.params, "path")
    return model.liveSnapshots(model.volume(app, id)).map(snapshotJson)
  })
  // Fly answers a snapshot create with 200 and an empty body.
  server.post("/v1/apps/:app/volumes/:id/snapshots", async (request, reply) => {
    const { app, id } = decode(VolumeParams, request.params, "path")
    model.createSnapshot(model.volume(app, id))
    return reply.code(200).send()
  })
  server.get("/v1/platform/regions", async () => ({
    Regions: model.regions.map((code) => ({
      code,
      name: code,
      gateway_available: true,
      requires_paid_plan: false
    }))
  }))
}

export const register = (server: FastifyInstance, { model }: RouteContext): void => {
  const shared = handlers(model)
  registerApps(server, shared)
  registerMachines(server, shared)
  registerWaitExecEvents(server, shared)
  registerMetadata(server, shared)
  registerProcessesAndMemory(server, shared)
  registerLeases(server, shared)
  registerVolumes(server, shared)
}
