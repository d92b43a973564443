/**
 * The simulator's pure state and rules: apps, machines, volumes, events, leases. Time comes from the injected
 * clock; transient states (starting, stopping, suspending, destroying) end on a timer of that clock, so a
 * virtual clock moves a month of machines without a wall-clock wait. No fastify and no wall clock here.
 */
import { ExecBackend, type VirtualClock } from "@hangar/core"
import {
  type Action,
  allowedFrom,
  defaultTiming,
  illegalMessage,
  type MachineState,
  type TimingModel,
  transient
} from "./Lifecycle.js"
import { SeededRandom } from "./Random.js"

/** A refusal with the status code and `error` text Fly answers. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

export interface Guest {
  readonly cpu_kind: "shared" | "performance"
  readonly cpus: number
  readonly memory_mb: number
}

export interface MachineConfig {
  readonly image: string
  readonly guest?: Guest
  readonly env?: Readonly<Record<string, string>>
  readonly mounts?: ReadonlyArray<{ readonly volume: string; readonly path: string }>
  readonly rootfs?: { readonly size_gb?: number }
  readonly [key: string]: unknown
}

export interface MachineEvent {
  readonly id: string
  readonly type: string
  readonly status: MachineState
  readonly source: "user" | "flyd"
  readonly timestamp: number
}

export interface Machine {
  readonly id: string
  readonly app: string
  name: string
  readonly region: string
  state: MachineState
  config: MachineConfig
  instanceId: string
  version: number
  readonly createdAt: number
  updatedAt: number
  /** Every state change, oldest first (billing reads all; the API shows the newest 50). */
  readonly events: Array<MachineEvent>
  metadata: Record<string, string>
  lease: { nonce: string; expiresAt: number; description: string } | undefined
  /** Bumped on every state change so a pending timer of an older change does nothing. */
  generation: number
  /** Aborts running exec commands when the machine stops. */
  running: AbortController
  cordoned: boolean
  /** Callbacks of pending `wait` requests, told of every state change. */
  readonly watchers: Set<() => void>
}

export interface Volume {
  readonly id: string
  readonly app: string
  readonly name: string
  readonly region: string
  sizeGb: number
  readonly encrypted: boolean
  state: "created" | "pending_destroy" | "destroyed"
  attachedMachineId: string | undefined
  readonly createdAt: number
  /** Size and state changes, oldest first, for billing. */
  readonly history: Array<{ readonly at: number; readonly sizeGb: number; readonly billed: boolean }>
}

export interface App {
  readonly name: string
  readonly org: string
  readonly createdAt: number
  readonly pulledRegions: Set<string>
}

export interface ModelOptions {
  readonly clock: VirtualClock.SimulationClock
  readonly seed?: number
  readonly timing?: Partial<TimingModel>
  readonly exec?: ExecBackend.ExecBackend
  readonly regions?: ReadonlyArray<string>
}

export const defaultRegions = ["iad", "lhr", "nrt", "syd", "lax", "sjc", "ams", "fra", "sin"] as const

export class FlyModel {
  readonly apps = new Map<string, App>()
  readonly machines = new Map<string, Machine>()
  readonly volumes = new Map<string, Volume>()
  readonly timing: TimingModel
  readonly regions: ReadonlyArray<string>
  readonly clock: VirtualClock.SimulationClock
  private readonly random: SeededRandom
  private readonly exec: ExecBackend.ExecBackend
  /** Transitions made, for the benchmark. */
  transitions = 0

  constructor(options: ModelOptions) {
    this.clock = options.clock
    this.random = new SeededRandom(options.seed ?? 1)
    this.timing = { ...defaultTiming, ...options.timing }
    this.exec = options.exec ?? ExecBackend.scripted()
    this.regions = options.regions ?? defaultRegions
  }

  // ---- apps

  createApp(name: string, org: string): App {
    if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(name)) {
      throw new SimError(400, "app_name must be 2 to 63 lower-case letters, digits or dashes")
    }
    if (this.apps.has(name)) throw new SimError(409, `app ${name} already exists`)
    const app: App = { name, org, createdAt: this.clock.now(), pulledRegions: new Set() }
    this.apps.set(name, app)
    return app
  }

  app(name: string): App {
    const app = this.apps.get(name)
    if (app === undefined) throw new SimError(404, "app not found")
    return app
  }

  deleteApp(name: string): void {
    this.app(name)
    for (const m of this.machines.values())
      if (m.app === name && m.state !== "destroyed") this.finishDestroy(m, "user")
    for (const v of this.volumes.values())
      if (v.app === name && v.state === "created") this.setVolumeBilled(v, false, "destroyed")
    this.apps.delete(name)
  }

  // ---- machines

  machine(app: string, id: string): Machine {
    this.app(app)
    const m = this.machines.get(id)
    if (m === undefined || m.app !== app) throw new SimError(404, "machine not found")
    return m
  }

  listMachines(
    app: string,
    filter: { includeDeleted?: boolean; region?: string; states?: ReadonlyArray<string> }
  ) {
    this.app(app)
    return [...this.machines.values()].filter(
      (m) =>
        m.app === app &&
        (filter.includeDeleted === true || m.state !== "destroyed") &&
        (filter.region === undefined || m.region === filter.region) &&
        (filter.states === undefined || filter.states.includes(m.state))
    )
  }

  private record(m: Machine, state: MachineState, type: string, source: "user" | "flyd"): void {
    m.state = state
    m.generation++
    m.updatedAt = this.clock.now()
    m.events.push({ id: this.random.ulid(), type, status: state, source, timestamp: this.clock.now() })
    this.transitions++
    for (const watcher of [...m.watchers]) watcher()
  }

  /** Moves `m` to `state` after `millis`, unless something else changed it first. */
  private after(m: Machine, millis: number, then: () => void): void {
    const generation = m.generation
    void this.clock.sleepUntil(this.clock.now() + millis).then(() => {
      if (m.generation === generation) then()
    })
  }

  createMachine(
    app: string,
    request: {
      config: MachineConfig
      name?: string
      region?: string
      skipLaunch?: boolean
      leaseTtl?: number
    }
  ): Machine {
    const owner = this.app(app)
    const region = request.region ?? this.regions[0]!
    if (!this.regions.includes(region)) {
      throw new SimError(400, `region ${region} is not one of ${this.regions.join(", ")}`)
    }
    const name = request.name ?? `machine-${this.random.hex(6)}`
    for (const m of this.machines.values()) {
      if (m.app === app && m.name === name && m.state !== "destroyed")
        throw new SimError(409, `machine name ${name} is already taken`)
    }
    for (const mount of request.config.mounts ?? []) {
      const volume = this.volumes.get(mount.volume)
      if (volume === undefined || volume.app !== app || volume.state !== "created") {
        throw new SimError(400, `volume ${mount.volume} not found`)
      }
      if (volume.region !== region)
        throw new SimError(400, `volume ${mount.volume} is in ${volume.region}, not ${region}`)
      if (volume.attachedMachineId !== undefined) {
        const holder = this.machines.get(volume.attachedMachineId)
        if (holder !== undefined && holder.state !== "destroyed") {
          throw new SimError(409, `volume ${mount.volume} is already attached to machine ${holder.id}`)
        }
      }
    }
    const m: Machine = {
      id: this.random.machineId(),
      app,
      name,
      region,
      state: "created",
      config: request.config,
      instanceId: this.random.ulid(),
      version: 1,
      createdAt: this.clock.now(),
      updatedAt: this.clock.now(),
      events: [],
      metadata: {},
      lease: undefined,
      generation: 0,
      running: new AbortController(),
      cordoned: false,
      watchers: new Set()
    }
    for (const mount of request.config.mounts ?? []) this.volumes.get(mount.volume)!.attachedMachineId = m.id
    this.machines.set(m.id, m)
    this.record(m, "created", "launch", "user")
    if (request.leaseTtl !== undefined) this.acquireLease(m, request.leaseTtl, "")
    if (request.skipLaunch !== true) {
      const pull = owner.pulledRegions.has(region) ? 0 : this.timing.firstImagePull
      owner.pulledRegions.add(region)
      this.beginStart(m, this.random.jitter(this.timing.create + pull), "created")
    }
    return m
  }

  private beginStart(m: Machine, millis: number, previous: MachineState): void {
    this.record(m, "starting", "start", "user")
    m.running = new AbortController()
    this.after(m, millis, () => this.record(m, "started", "start", "flyd"))
    void previous
  }

  private check(m: Machine, action: Action, nonce: string | undefined): void {
    this.checkLease(m, nonce)
    if (!allowedFrom[action].includes(m.state)) throw new SimError(412, illegalMessage(action, m.state))
  }

  start(m: Machine, nonce?: string): { previous_state: MachineState; migrated: boolean; new_host: string } {
    const previous = m.state
    if (previous === "started" || previous === "starting") {
      return { previous_state: previous, migrated: false, new_host: "" }
    }
    this.check(m, "start", nonce)
    const millis =
      previous === "suspended" || previous === "suspending"
        ? this.timing.resumeFromSuspended
        : this.timing.bootFromStopped
    this.beginStart(m, this.random.jitter(millis), previous)
    return { previous_state: previous, migrated: false, new_host: "" }
  }

  stop(m: Machine, nonce?: string): void {
    if (m.state === "stopped" || m.state === "stopping") return
    this.check(m, "stop", nonce)
    m.running.abort()
    this.record(m, "stopping", "stop", "user")
    this.after(m, this.random.jitter(this.timing.stop), () => this.record(m, "stopped", "exit", "flyd"))
  }

  suspend(m: Machine, nonce?: string): void {
    if (m.state === "suspended" || m.state === "suspending") return
    this.check(m, "suspend", nonce)
    const memoryGb = (m.config.guest?.memory_mb ?? 256) / 1024
    this.record(m, "suspending", "suspend", "user")
    this.after(m, this.random.jitter(this.timing.suspendBase + this.timing.suspendPerGb * memoryGb), () =>
      this.record(m, "suspended", "suspend", "flyd")
    )
  }

  restart(m: Machine, nonce?: string): void {
    this.check(m, "restart", nonce)
    m.running.abort()
    this.beginStart(m, this.random.jitter(this.timing.bootFromStopped), "started")
  }

  update(m: Machine, config: MachineConfig, nonce?: string): Machine {
    this.check(m, "update", nonce)
    const wasStarted = m.state === "started"
    m.config = config
    m.version++
    m.instanceId = this.random.ulid()
    if (wasStarted) {
      m.running.abort()
      this.beginStart(m, this.random.jitter(this.timing.bootFromStopped), "started")
    } else {
      this.record(m, m.state === "created" ? "created" : "stopped", "update", "user")
    }
    return m
  }

  destroy(m: Machine, force: boolean, nonce?: string): void {
    if (m.state === "destroyed" || m.state === "destroying") return
    this.checkLease(m, nonce)
    if (m.state === "started" && !force) {
      throw new SimError(
        412,
        "unable to destroy machine, not currently stopped, suspended or failed: use force"
      )
    }
    m.running.abort()
    this.record(m, "destroying", "destroy", "user")
    this.after(m, this.random.jitter(this.timing.destroy), () => this.finishDestroy(m, "flyd"))
  }

  private finishDestroy(m: Machine, source: "user" | "flyd"): void {
    m.running.abort()
    this.record(m, "destroyed", "destroy", source)
    for (const v of this.volumes.values()) if (v.attachedMachineId === m.id) v.attachedMachineId = undefined
  }

  /** Resolves true when the machine is in one of `states` (`settled`: any non-transient state), false after `timeoutMs`. */
  wait(m: Machine, states: ReadonlyArray<string>, timeoutMs: number): Promise<boolean> {
    const reached = () => states.includes(m.state) || (states.includes("settled") && !transient.has(m.state))
    if (reached()) return Promise.resolve(true)
    return this.clock.idle(
      new Promise<boolean>((resolve) => {
        const finish = (ok: boolean) => {
          m.watchers.delete(watcher)
          resolve(ok)
        }
        const watcher = () => {
          if (reached()) finish(true)
        }
        m.watchers.add(watcher)
        void this.clock.sleepUntil(this.clock.now() + timeoutMs).then(() => finish(false))
      })
    )
  }

  async execute(
    m: Machine,
    command: ReadonlyArray<string>,
    timeoutSeconds: number
  ): Promise<ExecBackend.ExecOutcome> {
    if (m.state !== "started") throw new SimError(412, `machine is not started (state: ${m.state})`)
    return this.exec.run(
      { command, timeoutMillis: timeoutSeconds * 1000, signal: m.running.signal, env: { ...m.config.env } },
      this.clock
    )
  }

  cordon(m: Machine, cordoned: boolean, nonce?: string): void {
    this.checkLease(m, nonce)
    m.cordoned = cordoned
  }

  // ---- leases

  private checkLease(m: Machine, nonce: string | undefined): void {
    if (m.lease !== undefined && m.lease.expiresAt <= this.clock.now()) m.lease = undefined
    if (m.lease !== undefined && m.lease.nonce !== nonce) {
      throw new SimError(
        409,
        `lease currently held by another client; send its nonce in fly-machine-lease-nonce`
      )
    }
  }

  acquireLease(m: Machine, ttlSeconds: number, description: string, nonce?: string) {
    if (m.lease !== undefined && m.lease.expiresAt <= this.clock.now()) m.lease = undefined
    if (m.lease !== undefined && m.lease.nonce !== nonce)
      throw new SimError(409, "lease currently held by another client")
    const lease = {
      nonce: m.lease?.nonce ?? this.random.hex(12),
      expiresAt: this.clock.now() + ttlSeconds * 1000,
      description
    }
    m.lease = lease
    return lease
  }

  releaseLease(m: Machine, nonce: string | undefined): void {
    if (m.lease === undefined || m.lease.expiresAt <= this.clock.now())
      throw new SimError(404, "lease not found")
    if (m.lease.nonce !== nonce) throw new SimError(409, "lease currently held by another client")
    m.lease = undefined
  }

  // ---- volumes

  createVolume(
    app: string,
    request: { name: string; region: string; sizeGb: number; encrypted: boolean }
  ): Volume {
    this.app(app)
    if (!this.regions.includes(request.region))
      throw new SimError(400, `region ${request.region} is not one of ${this.regions.join(", ")}`)
    const volume: Volume = {
      id: this.random.volumeId(),
      app,
      name: request.name,
      region: request.region,
      sizeGb: request.sizeGb,
      encrypted: request.encrypted,
      state: "created",
      attachedMachineId: undefined,
      createdAt: this.clock.now(),
      history: [{ at: this.clock.now(), sizeGb: request.sizeGb, billed: true }]
    }
    this.volumes.set(volume.id, volume)
    return volume
  }

  volume(app: string, id: string): Volume {
    this.app(app)
    const v = this.volumes.get(id)
    if (v === undefined || v.app !== app || v.state === "destroyed")
      throw new SimError(404, "volume not found")
    return v
  }

  extendVolume(v: Volume, sizeGb: number): { needsRestart: boolean } {
    if (sizeGb <= v.sizeGb)
      throw new SimError(400, `size_gb must be larger than the current ${v.sizeGb} GB: volumes only grow`)
    v.sizeGb = sizeGb
    v.history.push({ at: this.clock.now(), sizeGb, billed: true })
    const holder = v.attachedMachineId === undefined ? undefined : this.machines.get(v.attachedMachineId)
    return { needsRestart: holder !== undefined && holder.state === "started" }
  }

  deleteVolume(v: Volume): void {
    const holder = v.attachedMachineId === undefined ? undefined : this.machines.get(v.attachedMachineId)
    if (holder !== undefined && holder.state !== "destroyed") {
      throw new SimError(412, `volume ${v.id} is attached to machine ${holder.id}; destroy the machine first`)
    }
    this.setVolumeBilled(v, false, "pending_destroy")
  }

  private setVolumeBilled(v: Volume, billed: boolean, state: Volume["state"]): void {
    v.state = state
    v.history.push({ at: this.clock.now(), sizeGb: v.sizeGb, billed })
  }
}
