/**
 * The simulator's state and rules: apps, machines, volumes and their snapshots, events, leases, the Fly Proxy's
 * routing and autostart. Time comes from the injected clock; a transient state ends at an instant the machine
 * keeps (see Machine.ts), so a virtual clock moves a month of machines without a timer per transition. No
 * fastify and no wall clock here; files of the `process` exec backend go through the injected `Workspaces`.
 */
import type { VirtualClock } from "@hangar/core"
import * as ExecBackend from "@hangar/core/simulation/exec-backend"
import { Changes } from "./Changes.js"
import {
  type Action,
  allowedFrom,
  defaultTiming,
  illegalMessage,
  type MachineState,
  type TimingModel,
  transient
} from "./Lifecycle.js"
import {
  type LedgerEntry,
  Machine,
  type MachineConfig,
  type MachineHost,
  type Pending,
  type Service
} from "./Machine.js"
import { SeededRandom } from "./Random.js"

export type { Guest, MachineConfig, MachineEvent, Service } from "./Machine.js"
export { Machine } from "./Machine.js"

/** A refusal with the status code and `error` text Fly answers. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {}
  ) {
    super(message)
  }
}

export interface Snapshot {
  readonly id: string
  readonly volumeId: string
  readonly volumeSizeGb: number
  readonly createdAt: number
  readonly retentionDays: number
  readonly files: ReadonlyMap<string, string>
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
  snapshotRetention: number
  autoBackupEnabled: boolean
  /** Size and state changes, oldest first, for billing. */
  readonly history: Array<{ readonly at: number; readonly sizeGb: number; readonly billed: boolean }>
  readonly snapshots: Array<Snapshot>
  /** The volume's files under the scripted exec backend (`write`, `cat`). */
  readonly files: Map<string, string>
}

export interface App {
  readonly name: string
  readonly org: string
  readonly createdAt: number
  readonly pulledRegions: Set<string>
}

/** Real directories for the `process` exec backend (see Workspaces.ts). */
export interface Workspaces {
  /** The directory a command runs in; prepares it (fresh rootfs when `cleanRootfs`) and links the mounts. */
  readonly prepare: (
    machine: Machine,
    mounts: ReadonlyArray<{ readonly volumeId: string; readonly path: string }>,
    cleanRootfs: boolean
  ) => string
  readonly workspace: (machine: Machine) => string
  readonly copyVolume: (fromVolumeId: string, toVolumeId: string) => void
}

export interface ModelOptions {
  readonly clock: VirtualClock.SimulationClock
  readonly seed?: number
  readonly timing?: Partial<TimingModel>
  readonly exec?: ExecBackend.ExecBackend
  readonly workspaces?: Workspaces
  readonly regions?: ReadonlyArray<string>
  /** Milliseconds between Fly Proxy autostop passes ("every few minutes"). */
  readonly autostopPeriodMillis?: number
  /** An exec still running after this long answers 408 `deadline_exceeded` (default 30 s, as Fly does). */
  readonly execDeadlineMillis?: number
  /** How long a destroyed machine is still listed before it is forgotten (default one hour). */
  readonly destroyedRetentionMillis?: number
  /** At most this many destroyed machines are kept, the oldest forgotten first (default 1,000). */
  readonly maxDestroyedMachines?: number
}

/** What a balloon reclaim leaves a machine. */
export const minimumMemoryMb = 128

export const defaultDestroyedRetentionMillis = 3_600_000
export const defaultMaxDestroyedMachines = 1_000

/** A ledger per machine state, as a machine keeps it. */
export type Ledger = Partial<Record<MachineState, LedgerEntry>>

/** Fly answers an exec still running after ~30 s with 408 `deadline_exceeded` (reference §2.6). */
export const defaultExecDeadlineMillis = 30_000

export const defaultRegions = ["iad", "lhr", "nrt", "syd", "lax", "sjc", "ams", "fra", "sin"] as const

/** Suspend needs at most this much memory; larger machines are stopped instead (docs: suspend-resume). */
export const suspendMemoryLimitMb = 2048
export const defaultSoftLimit = 20
export const defaultAutostopPeriodMillis = 300_000

/** The autostop mode a machine's services ask for: off unless a service turns it on. */
export const autostopOf = (config: MachineConfig): "off" | "stop" | "suspend" => {
  for (const service of config.services ?? []) {
    const mode = service.autostop
    if (mode === true || mode === "stop") return "stop"
    if (mode === "suspend") return "suspend"
  }
  return "off"
}

/** Autostart is on unless a service turns it off (apps with no settings autostart). */
export const autostartOf = (config: MachineConfig): boolean =>
  (config.services ?? []).every((service: Service) => service.autostart !== false)

export const softLimitOf = (config: MachineConfig): number =>
  config.services?.[0]?.concurrency?.soft_limit ?? defaultSoftLimit

export class FlyModel {
  readonly apps = new Map<string, App>()
  readonly machines = new Map<string, Machine>()
  /** Machines by app, in creation order. */
  private readonly machinesByApp = new Map<string, Array<Machine>>()
  readonly volumes = new Map<string, Volume>()
  readonly timing: TimingModel
  readonly regions: ReadonlyArray<string>
  readonly clock: VirtualClock.SimulationClock
  readonly random: SeededRandom
  readonly autostopPeriodMillis: number
  private readonly exec: ExecBackend.ExecBackend
  /** True when exec is the default scripted backend, which gets the `write`/`cat` file rules. */
  private readonly scriptedWithFiles: boolean
  /**
   * The default scripted backend of each machine (its `write`/`cat` files, and its detached jobs, which live in
   * the machine's /tmp: dropped with the rootfs).
   */
  private readonly scriptedBackends = new Map<string, ExecBackend.ExecBackend>()
  readonly execDeadlineMillis: number
  private readonly workspaces: Workspaces | undefined
  /** Entities changed since the journal last wrote (see Changes.ts). */
  readonly changes = new Changes()
  readonly destroyedRetentionMillis: number
  readonly maxDestroyedMachines: number
  /** Machines destroying or destroyed, in the order they were destroyed, until they are forgotten. */
  private readonly doomed = new Map<string, Machine>()
  /** The closed ledgers of forgotten machines, summed by app, so the bill keeps what they cost. */
  readonly retired = new Map<string, Ledger>()
  /** Transitions made, for the benchmark. */
  transitions = 0
  /** Scripted-backend root filesystems by machine id (reset on a start from stopped). */
  private readonly rootfs = new Map<string, Map<string, string>>()
  private autostopArmed = false
  /** Called after an autostop pass (the simulator persists then). */
  onAutostop: (() => void) | undefined = undefined
  readonly machineHost: MachineHost

  constructor(options: ModelOptions) {
    this.clock = options.clock
    this.random = new SeededRandom(options.seed ?? 1)
    this.timing = { ...defaultTiming, ...options.timing }
    this.exec = options.exec ?? ExecBackend.scripted()
    this.scriptedWithFiles = options.exec === undefined
    this.execDeadlineMillis = options.execDeadlineMillis ?? defaultExecDeadlineMillis
    this.workspaces = options.workspaces
    this.regions = options.regions ?? defaultRegions
    this.autostopPeriodMillis = options.autostopPeriodMillis ?? defaultAutostopPeriodMillis
    this.destroyedRetentionMillis = options.destroyedRetentionMillis ?? defaultDestroyedRetentionMillis
    this.maxDestroyedMachines = options.maxDestroyedMachines ?? defaultMaxDestroyedMachines
    this.machineHost = {
      now: () => this.clock.now(),
      countTransition: () => {
        this.transitions++
      },
      changed: (machine) => {
        this.changes.machines.add(machine.id)
      },
      applied: (machine, pending) => {
        if (pending.to === "destroyed") this.detach(machine)
      }
    }
  }

  /**
   * Forgets every app, machine, volume and so every bill line, and reseeds ids (`POST /_sim/reset`). Timers set
   * before find their machine's transition gone and change nothing; waits on a forgotten machine time out.
   */
  reset(seed: number): void {
    for (const m of this.machines.values()) m.pending = undefined
    this.apps.clear()
    this.machines.clear()
    this.machinesByApp.clear()
    this.volumes.clear()
    this.scriptedBackends.clear()
    this.rootfs.clear()
    this.doomed.clear()
    this.retired.clear()
    this.random.position = seed >>> 0 || 1
    this.transitions = 0
  }

  /** The scripted backend's rootfs files of a machine (read, or replaced when `files` is given). */
  rootfsFiles(id: string, files?: Map<string, string>): ReadonlyMap<string, string> | undefined {
    if (files !== undefined) this.rootfs.set(id, files)
    return this.rootfs.get(id)
  }

  /** Re-arms the autostop loop after a load (any started or starting machine with autostop on). */
  rearm(): void {
    for (const machine of this.machines.values()) {
      const state = machine.state
      if ((state === "started" || state === "starting") && autostopOf(machine.config) !== "off") {
        this.armAutostop(machine)
        return
      }
    }
  }

  // ---- apps

  createApp(name: string, org: string): App {
    if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(name)) {
      throw new SimError(400, "app_name must be 2 to 63 lower-case letters, digits or dashes")
    }
    if (this.apps.has(name)) throw new SimError(409, `app ${name} already exists`)
    const app: App = { name, org, createdAt: this.clock.now(), pulledRegions: new Set() }
    this.apps.set(name, app)
    this.changes.apps.add(name)
    return app
  }

  app(name: string): App {
    const app = this.apps.get(name)
    if (app === undefined) throw new SimError(404, "app not found")
    return app
  }

  deleteApp(name: string): void {
    this.app(name)
    for (const m of this.appMachines(name)) {
      if (m.state !== "destroyed") {
        m.kill()
        m.pending = undefined
        m.record("destroyed", "destroy", "user")
        this.detach(m)
        this.doomed.set(m.id, m)
      }
    }
    for (const v of this.volumes.values())
      if (v.app === name && v.state === "created") this.setVolumeBilled(v, false, "destroyed")
    this.apps.delete(name)
    this.changes.apps.add(name)
    this.machinesByApp.delete(name)
  }

  // ---- machines

  /** Adds a machine to the indexes (creation and Persistence). */
  addMachine(m: Machine): void {
    this.machines.set(m.id, m)
    if (m.rawState === "destroyed" || m.rawState === "destroying") this.doomed.set(m.id, m)
    const list = this.machinesByApp.get(m.app)
    if (list === undefined) this.machinesByApp.set(m.app, [m])
    else list.push(m)
  }

  private appMachines(app: string): ReadonlyArray<Machine> {
    return this.machinesByApp.get(app) ?? []
  }

  machine(app: string, id: string): Machine {
    this.app(app)
    this.forgetDestroyed()
    const m = this.machines.get(id)
    if (m === undefined || m.app !== app) throw new SimError(404, "machine not found")
    return m
  }

  listMachines(
    app: string,
    filter: { includeDeleted?: boolean; region?: string; states?: ReadonlyArray<string> } = {}
  ): Array<Machine> {
    this.app(app)
    this.forgetDestroyed()
    const out: Array<Machine> = []
    for (const m of this.appMachines(app)) {
      const state = m.state
      if (filter.includeDeleted !== true && state === "destroyed") continue
      if (filter.region !== undefined && m.region !== filter.region) continue
      if (filter.states !== undefined && !filter.states.includes(state)) continue
      out.push(m)
    }
    return out
  }

  /** Enters a transient state now and schedules its end `millis` later. */
  private begin(
    m: Machine,
    state: MachineState,
    type: string,
    millis: number,
    end: Pending["to"],
    endType: string
  ): void {
    m.record(state, type, "user")
    m.pending = { at: this.clock.now() + millis, to: end, type: endType }
    if (m.watchers.size > 0) this.wake(m)
  }

  /** Arms a timer at the machine's pending instant, for those waiting on it. */
  wake(m: Machine): void {
    const pending = m.pending
    if (pending === undefined) return
    this.clock.schedule(pending.at, () => {
      if (m.pending === pending) void m.state
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
    this.forgetDestroyed()
    const region = request.region ?? this.regions[0]!
    if (!this.regions.includes(region)) {
      throw new SimError(400, `region ${region} is not one of ${this.regions.join(", ")}`)
    }
    const holder = (name: string) =>
      this.appMachines(app).find((m) => m.name === name && m.state !== "destroyed")
    let name = request.name
    if (name === undefined) {
      // A generated name is never one in use (six hex digits collide among thousands of machines).
      do name = `machine-${this.random.hex(6)}`
      while (holder(name) !== undefined)
    } else {
      const taken = holder(name)
      if (taken !== undefined)
        throw new SimError(409, `already_exists: a machine named ${name} exists: machine ID ${taken.id}`)
    }
    const mounts = request.config.mounts ?? []
    if (mounts.length > 1) throw new SimError(400, "a machine can mount at most one volume")
    for (const mount of mounts) this.checkMountable(app, region, mount.volume)
    const m = new Machine(
      this.machineHost,
      this.random.machineId(),
      app,
      name,
      region,
      request.config,
      this.random.ulid(),
      this.clock.now()
    )
    for (const mount of mounts) {
      this.volumes.get(mount.volume)!.attachedMachineId = m.id
      this.changes.volumes.add(mount.volume)
    }
    this.addMachine(m)
    m.record("created", "launch", "user")
    if (request.leaseTtl !== undefined) this.acquireLease(m, request.leaseTtl, "")
    if (request.skipLaunch !== true) {
      const pull = owner.pulledRegions.has(region) ? 0 : this.timing.firstImagePull
      owner.pulledRegions.add(region)
      this.changes.apps.add(app)
      this.beginStart(m, this.random.jitter(this.timing.create + pull), true)
    }
    return m
  }

  private checkMountable(app: string, region: string, volumeId: string): void {
    const volume = this.volumes.get(volumeId)
    if (volume === undefined || volume.app !== app || volume.state !== "created") {
      throw new SimError(400, `volume ${volumeId} not found`)
    }
    if (volume.region !== region)
      throw new SimError(400, `volume ${volumeId} is in ${volume.region}, not ${region}`)
    if (volume.attachedMachineId !== undefined) {
      const holder = this.machines.get(volume.attachedMachineId)
      if (holder !== undefined && holder.state !== "destroyed") {
        throw new SimError(409, `volume ${volumeId} is already attached to machine ${holder.id}`)
      }
    }
  }

  private beginStart(m: Machine, millis: number, cleanRootfs: boolean): void {
    // A boot (not a resume) starts with the whole guest memory.
    if (cleanRootfs || !(m.rawState === "suspended" || m.rawState === "suspending"))
      m.memoryLimitMb = undefined
    if (cleanRootfs) {
      this.rootfs.delete(m.id)
      this.scriptedBackends.delete(m.id)
    }
    if (this.workspaces !== undefined && this.exec.kind === "process") {
      this.workspaces.prepare(
        m,
        (m.config.mounts ?? []).map((mount) => ({ volumeId: mount.volume, path: mount.path })),
        cleanRootfs
      )
    }
    this.begin(m, "starting", "start", millis, "started", "start")
    this.armAutostop(m)
  }

  private check(m: Machine, action: Action, nonce: string | undefined): MachineState {
    this.checkLease(m, nonce)
    const state = m.state
    if (!allowedFrom[action].includes(state)) throw new SimError(412, illegalMessage(action, state))
    return state
  }

  start(m: Machine, nonce?: string): { previous_state: MachineState; migrated: boolean; new_host: string } {
    const previous = m.state
    if (previous === "started" || previous === "starting") {
      return { previous_state: previous, migrated: false, new_host: "" }
    }
    this.check(m, "start", nonce)
    const resume = previous === "suspended" || previous === "suspending"
    // Start from stopped resets the rootfs; a resume keeps it (docs: machines-resource).
    this.beginStart(
      m,
      this.random.jitter(resume ? this.timing.resumeFromSuspended : this.timing.bootFromStopped),
      previous === "stopped"
    )
    return { previous_state: previous, migrated: false, new_host: "" }
  }

  stop(m: Machine, nonce?: string): void {
    const state = m.state
    if (state === "stopped" || state === "stopping") return
    this.check(m, "stop", nonce)
    m.kill()
    this.begin(m, "stopping", "stop", this.random.jitter(this.timing.stop), "stopped", "exit")
  }

  /** Suspend; a machine too large to suspend is stopped instead, as Fly does. */
  suspend(m: Machine, nonce?: string): void {
    const state = m.state
    if (state === "suspended" || state === "suspending") return
    this.check(m, "suspend", nonce)
    const memoryMb = m.config.guest?.memory_mb ?? 256
    if (memoryMb > suspendMemoryLimitMb) {
      this.stop(m, nonce)
      return
    }
    const millis = this.random.jitter(this.timing.suspendBase + (this.timing.suspendPerGb * memoryMb) / 1024)
    this.begin(m, "suspending", "suspend", millis, "suspended", "suspend")
  }

  restart(m: Machine, nonce?: string): void {
    this.check(m, "restart", nonce)
    m.kill()
    this.beginStart(m, this.random.jitter(this.timing.bootFromStopped), false)
  }

  /** A signal to the main process: SIGKILL and SIGTERM-like signals end it, so the machine stops. */
  signal(m: Machine, signal: string, nonce?: string): void {
    this.checkLease(m, nonce)
    const state = m.state
    if (state !== "started") throw new SimError(412, `unable to signal machine from current state: ${state}`)
    if (["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT", "9", "15", "2"].includes(signal)) {
      m.kill()
      this.begin(m, "stopping", "exit", this.random.jitter(this.timing.stop), "stopped", "exit")
    }
  }

  update(m: Machine, config: MachineConfig, nonce?: string, skipLaunch = false): Machine {
    const state = this.check(m, "update", nonce)
    const mounts = config.mounts ?? []
    const before = (m.config.mounts ?? []).map((mount) => mount.volume).join(",")
    if (mounts.map((mount) => mount.volume).join(",") !== before)
      throw new SimError(400, "a machine's volume cannot be changed by update")
    m.reconfigure(config)
    m.version++
    m.instanceId = this.random.ulid()
    if (state === "started" && !skipLaunch) {
      m.kill()
      this.beginStart(m, this.random.jitter(this.timing.bootFromStopped), false)
    } else {
      // A machine not started before the update stays stopped (or created).
      m.pending = undefined
      m.record(state === "created" ? "created" : "stopped", "update", "user")
    }
    return m
  }

  destroy(m: Machine, force: boolean, nonce?: string): void {
    const state = m.state
    if (state === "destroyed" || state === "destroying") return
    this.checkLease(m, nonce)
    if ((state === "started" || state === "starting") && !force) {
      throw new SimError(
        412,
        "unable to destroy machine, not currently stopped, suspended or failed: use force"
      )
    }
    m.kill()
    this.begin(m, "destroying", "destroy", this.random.jitter(this.timing.destroy), "destroyed", "destroy")
    this.doomed.set(m.id, m)
    this.forgetDestroyed()
  }

  /**
   * Forgets destroyed machines past the retention, and the oldest beyond `maxDestroyedMachines`, as Fly lists a
   * destroyed machine for a while and then answers 404. A forgotten machine's ledger is added to its app's
   * retired ledger, so the bill does not change. Machines still destroying are kept until they are destroyed.
   */
  forgetDestroyed(): void {
    if (this.doomed.size === 0) return
    const now = this.clock.now()
    const apps = new Set<string>()
    for (const [id, m] of this.doomed) {
      const over = this.doomed.size > this.maxDestroyedMachines
      if (m.state !== "destroyed") {
        if (over) continue
        break
      }
      if (!over && m.since + this.destroyedRetentionMillis > now) break
      this.doomed.delete(id)
      this.retire(m)
      apps.add(m.app)
    }
    for (const app of apps) {
      const list = this.machinesByApp.get(app)
      if (list !== undefined)
        this.machinesByApp.set(
          app,
          list.filter((m) => this.machines.has(m.id))
        )
    }
  }

  private retire(m: Machine): void {
    this.machines.delete(m.id)
    this.changes.machines.add(m.id)
    this.rootfs.delete(m.id)
    this.scriptedBackends.delete(m.id)
    const ledger = this.retired.get(m.app) ?? {}
    for (const [state, entry] of Object.entries(m.ledger) as Array<[MachineState, LedgerEntry]>) {
      const sum = ledger[state] ?? { intervals: 0, millis: 0, billedSeconds: 0, costMicroUsd: 0 }
      sum.intervals += entry.intervals
      sum.millis += entry.millis
      sum.billedSeconds += entry.billedSeconds
      sum.costMicroUsd += entry.costMicroUsd
      ledger[state] = sum
    }
    this.retired.set(m.app, ledger)
    this.changes.retired.add(m.app)
  }

  /** Destroyed or destroying machines still kept. */
  get destroyedKept(): number {
    return this.doomed.size
  }

  private detach(m: Machine): void {
    m.kill()
    for (const v of this.volumes.values())
      if (v.attachedMachineId === m.id) {
        v.attachedMachineId = undefined
        this.changes.volumes.add(v.id)
      }
    this.rootfs.delete(m.id)
    this.scriptedBackends.delete(m.id)
  }

  /** Resolves true when the machine is in one of `states` (`settled`: any non-transient state), false after `timeoutMs`. */
  wait(m: Machine, states: ReadonlyArray<string>, timeoutMs: number): Promise<boolean> {
    const reached = () => {
      const state = m.state
      return states.includes(state) || (states.includes("settled") && !transient.has(state))
    }
    if (reached()) return Promise.resolve(true)
    return this.clock.idle(
      new Promise<boolean>((resolve) => {
        let cancelTimeout = () => {}
        const finish = (ok: boolean) => {
          m.watchers.delete(watcher)
          cancelTimeout()
          resolve(ok)
        }
        const watcher = () => {
          if (reached()) finish(true)
          else this.wake(m)
        }
        m.watchers.add(watcher)
        this.wake(m)
        cancelTimeout = this.clock.schedule(this.clock.now() + timeoutMs, () => finish(false))
      })
    )
  }

  async execute(
    m: Machine,
    command: ReadonlyArray<string>,
    timeoutSeconds: number,
    released?: Promise<void>
  ): Promise<ExecBackend.ExecOutcome> {
    const state = m.state
    if (state !== "started") throw new SimError(412, `machine is not started (state: ${state})`)
    const request = {
      command,
      timeoutMillis: timeoutSeconds * 1000,
      signal: m.signal,
      env: { ...m.config.env },
      ...(released === undefined ? {} : { released })
    }
    if (this.exec.kind === "process" && this.workspaces !== undefined) {
      return this.exec.run({ ...request, workspace: this.workspaces.workspace(m) }, this.clock)
    }
    if (this.scriptedWithFiles) {
      let backend = this.scriptedBackends.get(m.id)
      if (backend === undefined) {
        backend = ExecBackend.scripted({ ...ExecBackend.defaultRules, ...this.scriptedFiles(m) })
        this.scriptedBackends.set(m.id, backend)
      }
      return backend.run(request, this.clock)
    }
    return this.exec.run(request, this.clock)
  }

  /**
   * An exec as the API answers it: a command still running at the exec deadline answers 408
   * `deadline_exceeded` then, and keeps running in the background until it ends (on Fly the process may still
   * be running too). The request's own `timeout` still kills the command, as `execute` does.
   */
  async executeWithDeadline(
    m: Machine,
    command: ReadonlyArray<string>,
    timeoutSeconds: number
  ): Promise<ExecBackend.ExecOutcome> {
    if (timeoutSeconds * 1000 <= this.execDeadlineMillis) return this.execute(m, command, timeoutSeconds)
    // The command's own end, due at the same instant as the deadline, comes first: its timer was set earlier.
    // Not marked idle: the command's own wait on the clock already counts this request as blocked, until the
    // deadline releases it (then the command runs on unobserved).
    let release: () => void = () => undefined
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const running = this.execute(m, command, timeoutSeconds, released)
    running.catch(() => undefined)
    // Set after the command's own timers, so a tie goes to the command.
    const deadline = released.then(() => "deadline" as const)
    const cancel = this.clock.schedule(this.clock.now() + this.execDeadlineMillis, release)
    const first = await Promise.race([running, deadline])
    if (first !== "deadline") {
      cancel()
      return first
    }
    throw new SimError(
      408,
      `deadline_exceeded: the command ran past the exec deadline of ${this.execDeadlineMillis / 1000} s; it may still be running`
    )
  }

  /** The scripted backend's files: `write PATH TEXT…` and `cat PATH`, on the rootfs or a mounted volume. */
  scriptedFiles(m: Machine): Readonly<Record<string, ExecBackend.ScriptedRule>> {
    const resolve = (path: string): { files: Map<string, string>; key: string } => {
      for (const mount of m.config.mounts ?? []) {
        const prefix = mount.path.endsWith("/") ? mount.path : `${mount.path}/`
        const volume = this.volumes.get(mount.volume)
        if (volume !== undefined && path.startsWith(prefix))
          return { files: volume.files, key: path.slice(prefix.length) }
      }
      let files = this.rootfs.get(m.id)
      if (files === undefined) {
        files = new Map()
        this.rootfs.set(m.id, files)
      }
      return { files, key: path }
    }
    return {
      write: ([path = "", ...text]) => {
        const { files, key } = resolve(path)
        files.set(key, text.join(" "))
        this.changes.machines.add(m.id)
        for (const mount of m.config.mounts ?? []) this.changes.volumes.add(mount.volume)
        return { durationMillis: 1 }
      },
      cat: ([path = ""]) => {
        const { files, key } = resolve(path)
        const content = files.get(key)
        return content === undefined
          ? { stderr: `cat: ${path}: No such file or directory\n`, exitCode: 1, durationMillis: 1 }
          : { stdout: content, durationMillis: 1 }
      }
    }
  }

  get execKind(): "scripted" | "process" {
    return this.exec.kind
  }

  cordon(m: Machine, cordoned: boolean, nonce?: string): void {
    this.checkLease(m, nonce)
    m.cordoned = cordoned
    this.changes.machines.add(m.id)
  }

  // ---- metadata

  metadataValue(m: Machine, key: string): string {
    const value = m.metadata.get(key)
    if (value === undefined) throw new SimError(404, `metadata key ${key} not found`)
    return value
  }

  setMetadata(m: Machine, key: string, value: string): void {
    m.metadata.set(key, value)
    this.changes.machines.add(m.id)
  }

  /** Sets several keys at once; a null or empty value removes its key (all or nothing: nothing here can fail). */
  updateMetadata(m: Machine, entries: ReadonlyArray<readonly [string, string | null]>): void {
    for (const [key, value] of entries) {
      if (value === null || value === "") m.metadata.delete(key)
      else m.metadata.set(key, value)
    }
    this.changes.machines.add(m.id)
  }

  deleteMetadata(m: Machine, key: string): void {
    if (!m.metadata.delete(key)) throw new SimError(404, `metadata key ${key} not found`)
    this.changes.machines.add(m.id)
  }

  // ---- processes and memory (a started machine's main process; the balloon device's limit)

  private requireStarted(m: Machine, what: string): void {
    const state = m.state
    if (state !== "started")
      throw new SimError(412, `unable to ${what}: machine is not started (state: ${state})`)
  }

  /** The processes of a started machine: its main process, listening on its services' internal ports. */
  processes(m: Machine): Array<{
    pid: number
    command: string
    directory: string
    runningMillis: number
    listenSockets: Array<{ proto: string; address: string }>
  }> {
    this.requireStarted(m, "list processes")
    const init = m.config.init as { exec?: ReadonlyArray<string>; cmd?: ReadonlyArray<string> } | undefined
    const command = init?.exec ?? init?.cmd ?? [m.config.image]
    return [
      {
        pid: 1,
        command: command.join(" "),
        directory: "/",
        runningMillis: this.clock.now() - m.since,
        listenSockets: (m.config.services ?? []).flatMap((service) =>
          typeof service.internal_port === "number"
            ? [{ proto: String(service.protocol ?? "tcp"), address: `0.0.0.0:${service.internal_port}` }]
            : []
        )
      }
    ]
  }

  /** The guest memory the balloon leaves the machine (all of it unless lowered), as the memory endpoint shows it. */
  memory(m: Machine): { limitMb: number; availableMb: number } {
    this.requireStarted(m, "read memory")
    const limitMb = m.memoryLimitMb ?? m.config.guest?.memory_mb ?? 256
    return { limitMb, availableMb: limitMb }
  }

  setMemoryLimit(m: Machine, limitMb: number): { limitMb: number; availableMb: number } {
    this.requireStarted(m, "set the memory limit")
    const guestMb = m.config.guest?.memory_mb ?? 256
    if (limitMb > guestMb)
      throw new SimError(
        400,
        `invalid_argument: limit_mb ${limitMb} is above the machine's memory_mb ${guestMb}`
      )
    m.memoryLimitMb = limitMb
    this.changes.machines.add(m.id)
    return this.memory(m)
  }

  /** Takes up to `amountMb` back through the balloon, keeping 128 MB; answers how much it took. */
  reclaimMemory(m: Machine, amountMb: number): number {
    const { limitMb } = this.memory(m)
    const actual = Math.max(0, Math.min(amountMb, limitMb - minimumMemoryMb))
    m.memoryLimitMb = limitMb - actual
    this.changes.machines.add(m.id)
    return actual
  }

  // ---- leases

  /** The lease unless it has expired (an expired lease is left in place, so a read changes nothing). */
  private liveLease(m: Machine) {
    return m.lease !== undefined && m.lease.expiresAt > this.clock.now() ? m.lease : undefined
  }

  checkLease(m: Machine, nonce: string | undefined): void {
    const lease = this.liveLease(m)
    if (lease !== undefined && lease.nonce !== nonce) {
      throw new SimError(
        409,
        "lease currently held by another client; send its nonce in the fly-machine-lease-nonce header"
      )
    }
  }

  lease(m: Machine) {
    return this.liveLease(m)
  }

  acquireLease(m: Machine, ttlSeconds: number, description: string, nonce?: string) {
    const held = this.liveLease(m)
    if (held !== undefined && held.nonce !== nonce)
      throw new SimError(409, "lease currently held by another client")
    const lease = {
      nonce: held?.nonce ?? this.random.hex(12),
      expiresAt: this.clock.now() + ttlSeconds * 1000,
      description
    }
    m.lease = lease
    this.changes.machines.add(m.id)
    return lease
  }

  releaseLease(m: Machine, nonce: string | undefined): void {
    const held = this.liveLease(m)
    if (held === undefined) throw new SimError(404, "lease not found")
    if (held.nonce !== nonce) throw new SimError(409, "lease currently held by another client")
    m.lease = undefined
    this.changes.machines.add(m.id)
  }

  // ---- the Fly Proxy: routing and autostart

  /**
   * Picks the machine a proxied request to `app` goes to, as the Fly Proxy does: a started machine under its
   * soft limit (least loaded), else one already starting, else it autostarts a suspended, stopped or created
   * machine (in that order: suspended wakes fastest) and the request waits for it. Calls `done` with the machine (its
   * `inFlight` already counted) or a SimError.
   */
  route(app: string, done: (result: Machine | SimError) => void): void {
    let candidates: Array<Machine>
    try {
      candidates = this.listMachines(app).filter((m) => (m.config.services ?? []).length > 0 && !m.cordoned)
    } catch (error) {
      done(error as SimError)
      return
    }
    if (candidates.length === 0) {
      done(new SimError(503, `app ${app} has no machines with services to route to`))
      return
    }
    const accept = (m: Machine) => {
      m.activity++
      m.inFlight++
      m.lastActivityAt = this.clock.now()
      done(m)
    }
    const started = candidates.filter((m) => m.state === "started")
    const underSoftLimit = started.filter((m) => m.inFlight < softLimitOf(m.config))
    const pick = (ms: ReadonlyArray<Machine>) =>
      ms.reduce((best, m) => (m.inFlight < best.inFlight ? m : best), ms[0]!)
    if (underSoftLimit.length > 0) {
      accept(pick(underSoftLimit))
      return
    }
    const starting = candidates.find((m) => m.state === "starting")
    const asleep = [
      ...candidates.filter((m) => m.state === "suspended" && autostartOf(m.config)),
      ...candidates.filter((m) => m.state === "stopped" && autostartOf(m.config)),
      ...candidates.filter((m) => m.state === "created" && autostartOf(m.config))
    ]
    const waking = starting ?? asleep[0]
    if (waking === undefined) {
      if (started.length > 0) {
        accept(pick(started))
        return
      }
      done(new SimError(503, `no started machines in app ${app} and autostart is off for the rest`))
      return
    }
    if (waking !== starting) {
      const previous = waking.state
      this.beginStart(
        waking,
        this.random.jitter(
          previous === "suspended" ? this.timing.resumeFromSuspended : this.timing.bootFromStopped
        ),
        previous !== "suspended"
      )
    }
    const watcher = () => {
      const state = waking.state
      if (state === "started") {
        waking.watchers.delete(watcher)
        accept(waking)
      } else if (!transient.has(state)) {
        waking.watchers.delete(watcher)
        done(new SimError(503, `machine ${waking.id} did not start (state ${state})`))
      } else this.wake(waking)
    }
    waking.watchers.add(watcher)
    this.wake(waking)
  }

  /** Marks a proxied request or socket as finished. */
  release(m: Machine): void {
    m.inFlight = Math.max(0, m.inFlight - 1)
    m.lastActivityAt = this.clock.now()
  }

  /** Schedules the next autostop pass if `m` has autostop on and none is scheduled. */
  private armAutostop(m: Machine): void {
    if (this.autostopArmed || autostopOf(m.config) === "off") return
    this.autostopArmed = true
    this.clock.schedule(this.clock.now() + this.autostopPeriodMillis, () => {
      this.autostopArmed = false
      this.autostopPass()
      this.onAutostop?.()
      this.rearm()
    })
  }

  /**
   * One pass of the proxy's autostop loop. Per app and region, among started machines with autostop on: with
   * more than one, `excess = machines − (machines over soft limit + 1)` and one idle machine is stopped (or
   * suspended) when excess ≥ 1; a lone machine is stopped when idle. At most one machine per region per pass;
   * `min_machines_running` is kept in the primary region (the machines' PRIMARY_REGION env, else the region of
   * the app's oldest machine). Load is what the proxy saw: requests since the last pass plus open ones.
   */
  autostopPass(): void {
    const groups = new Map<string, Array<Machine>>()
    for (const m of this.machines.values()) {
      if (m.state !== "started" || autostopOf(m.config) === "off") continue
      const key = `${m.app}\u0000${m.region}`
      const group = groups.get(key)
      if (group === undefined) groups.set(key, [m])
      else group.push(m)
    }
    for (const group of groups.values()) {
      const load = (m: Machine) => m.activity + m.inFlight
      const overSoft = group.filter((m) => load(m) > softLimitOf(m.config)).length
      const excess = group.length > 1 ? group.length - (overSoft + 1) : load(group[0]!) === 0 ? 1 : 0
      const first = group[0]!
      const primary = first.config.env?.PRIMARY_REGION ?? this.primaryRegion(first.app)
      const minRunning = first.config.services?.[0]?.min_machines_running ?? 0
      const idle = group.filter((m) => load(m) === 0)
      const canStop = first.region !== primary || group.length > minRunning
      const victim = idle.reduce<Machine | undefined>(
        (best, m) => (best === undefined || m.lastActivityAt < best.lastActivityAt ? m : best),
        undefined
      )
      if (excess >= 1 && canStop && victim !== undefined) {
        // The proxy acts on leased machines too: leases guard API clients from each other, not the platform.
        if (autostopOf(victim.config) === "suspend") this.suspendUnchecked(victim)
        else this.stopUnchecked(victim)
      }
    }
    for (const m of this.machines.values()) m.activity = 0
  }

  private stopUnchecked(m: Machine): void {
    m.kill()
    this.begin(m, "stopping", "stop", this.random.jitter(this.timing.stop), "stopped", "exit")
  }

  private suspendUnchecked(m: Machine): void {
    const memoryMb = m.config.guest?.memory_mb ?? 256
    if (memoryMb > suspendMemoryLimitMb) {
      this.stopUnchecked(m)
      return
    }
    const millis = this.random.jitter(this.timing.suspendBase + (this.timing.suspendPerGb * memoryMb) / 1024)
    this.begin(m, "suspending", "suspend", millis, "suspended", "suspend")
  }

  private primaryRegion(app: string): string {
    let oldest: Machine | undefined
    for (const m of this.appMachines(app))
      if (oldest === undefined || m.createdAt < oldest.createdAt) oldest = m
    return oldest?.region ?? this.regions[0]!
  }

  // ---- volumes

  createVolume(
    app: string,
    request: {
      name: string
      region: string
      sizeGb: number
      encrypted: boolean
      snapshotRetention?: number
      autoBackupEnabled?: boolean
      snapshotId?: string
      sourceVolumeId?: string
    }
  ): Volume {
    this.app(app)
    if (!this.regions.includes(request.region))
      throw new SimError(400, `region ${request.region} is not one of ${this.regions.join(", ")}`)
    let files = new Map<string, string>()
    let sizeGb = request.sizeGb
    let copyFrom: string | undefined
    if (request.snapshotId !== undefined) {
      const snapshot = this.findSnapshot(app, request.snapshotId)
      files = new Map(snapshot.files)
      sizeGb = Math.max(sizeGb, snapshot.volumeSizeGb)
      copyFrom = snapshot.volumeId
    }
    if (request.sourceVolumeId !== undefined) {
      const source = this.volume(app, request.sourceVolumeId)
      files = new Map(source.files)
      sizeGb = Math.max(sizeGb, source.sizeGb)
      copyFrom = source.id
    }
    const volume: Volume = {
      id: this.random.volumeId(),
      app,
      name: request.name,
      region: request.region,
      sizeGb,
      encrypted: request.encrypted,
      state: "created",
      attachedMachineId: undefined,
      createdAt: this.clock.now(),
      snapshotRetention: request.snapshotRetention ?? 5,
      autoBackupEnabled: request.autoBackupEnabled ?? true,
      history: [{ at: this.clock.now(), sizeGb, billed: true }],
      snapshots: [],
      files
    }
    this.volumes.set(volume.id, volume)
    this.changes.volumes.add(volume.id)
    if (copyFrom !== undefined && this.workspaces !== undefined && this.exec.kind === "process")
      this.workspaces.copyVolume(copyFrom, volume.id)
    return volume
  }

  volume(app: string, id: string): Volume {
    this.app(app)
    const v = this.volumes.get(id)
    if (v === undefined || v.app !== app || v.state === "destroyed")
      throw new SimError(404, "volume not found")
    return v
  }

  listVolumes(app: string): Array<Volume> {
    this.app(app)
    return [...this.volumes.values()].filter((v) => v.app === app && v.state !== "destroyed")
  }

  updateVolume(v: Volume, update: { snapshotRetention?: number; autoBackupEnabled?: boolean }): void {
    this.changes.volumes.add(v.id)
    if (update.snapshotRetention !== undefined) v.snapshotRetention = update.snapshotRetention
    if (update.autoBackupEnabled !== undefined) v.autoBackupEnabled = update.autoBackupEnabled
  }

  extendVolume(v: Volume, sizeGb: number): { needsRestart: boolean } {
    if (sizeGb <= v.sizeGb)
      throw new SimError(400, `size_gb must be larger than the current ${v.sizeGb} GB: volumes only grow`)
    v.sizeGb = sizeGb
    this.changes.volumes.add(v.id)
    v.history.push({ at: this.clock.now(), sizeGb, billed: true })
    const holder = v.attachedMachineId === undefined ? undefined : this.machines.get(v.attachedMachineId)
    return { needsRestart: holder !== undefined && holder.state === "started" }
  }

  deleteVolume(v: Volume): void {
    if (v.state === "pending_destroy") return
    const holder = v.attachedMachineId === undefined ? undefined : this.machines.get(v.attachedMachineId)
    if (holder !== undefined && holder.state !== "destroyed") {
      throw new SimError(412, `volume ${v.id} is attached to machine ${holder.id}; destroy the machine first`)
    }
    this.setVolumeBilled(v, false, "pending_destroy")
  }

  private setVolumeBilled(v: Volume, billed: boolean, state: Volume["state"]): void {
    v.state = state
    this.changes.volumes.add(v.id)
    v.history.push({ at: this.clock.now(), sizeGb: v.sizeGb, billed })
  }

  /** Snapshots still within their retention. */
  liveSnapshots(v: Volume): Array<Snapshot> {
    const now = this.clock.now()
    return v.snapshots.filter((s) => s.createdAt + s.retentionDays * 86_400_000 > now)
  }

  createSnapshot(v: Volume): Snapshot {
    const snapshot: Snapshot = {
      id: `vs_${this.random.hex(16)}`,
      volumeId: v.id,
      volumeSizeGb: v.sizeGb,
      createdAt: this.clock.now(),
      retentionDays: v.snapshotRetention,
      files: new Map(v.files)
    }
    v.snapshots.push(snapshot)
    this.changes.volumes.add(v.id)
    return snapshot
  }

  private findSnapshot(app: string, id: string): Snapshot {
    for (const v of this.volumes.values()) {
      if (v.app !== app) continue
      const found = this.liveSnapshots(v).find((s) => s.id === id)
      if (found !== undefined) return found
    }
    throw new SimError(404, `snapshot ${id} not found`)
  }
}
