/**
 * One Fly Machine: its state, config, bounded event log, leases, and its billing ledger.
 *
 * A transient state (starting, stopping, suspending, destroying) ends at a known instant. Instead of a timer per
 * transition, the machine keeps that instant as `pending` and materialises the change (with the event stamped at
 * the instant it happened) the first time anything reads `state` at or after it. Reads go through the `state`
 * getter, so nothing outside can see a stale state; `wait` and the proxy arm a timer only when someone waits.
 * Billing closes one interval per state change into a per-state ledger (intervals, billed seconds, cost), so a
 * month of transitions costs constant memory per machine.
 */
import { Money, Pricing } from "@hangar/core"
import type { MachineState } from "./Lifecycle.js"

const machineStopped = Object.freeze({ name: "MachineStopped", message: "the machine stopped" })

export interface Guest {
  readonly cpu_kind: "shared" | "performance"
  readonly cpus: number
  readonly memory_mb: number
}

export interface Service {
  readonly autostop?: boolean | "off" | "stop" | "suspend"
  readonly autostart?: boolean
  readonly min_machines_running?: number
  readonly concurrency?: { readonly soft_limit?: number; readonly hard_limit?: number }
  readonly [key: string]: unknown
}

export interface MachineConfig {
  readonly image: string
  readonly guest?: Guest
  readonly env?: Readonly<Record<string, string>>
  readonly mounts?: ReadonlyArray<{ readonly volume: string; readonly path: string }>
  readonly rootfs?: { readonly size_gb?: number }
  readonly services?: ReadonlyArray<Service>
  readonly [key: string]: unknown
}

export interface MachineEvent {
  readonly id: string
  readonly type: string
  readonly status: MachineState
  readonly source: "user" | "flyd"
  readonly timestamp: number
}

/** A transient state's end: at `at` the machine becomes `to` (an event of `type` from flyd). */
export interface Pending {
  readonly at: number
  readonly to: "started" | "stopped" | "suspended" | "destroyed"
  readonly type: string
}

/** Closed intervals of one state. */
export interface LedgerEntry {
  intervals: number
  millis: number
  billedSeconds: number
  costMicroUsd: number
}

export interface Lease {
  readonly nonce: string
  readonly expiresAt: number
  readonly description: string
}

/** The events API returns at most 50; the model keeps no more. */
export const eventLogSize = 50

const statusCodes: ReadonlyArray<MachineState> = Pricing.FlyMachineState.literals
const typeCodes: ReadonlyArray<string> = [
  "launch",
  "start",
  "stop",
  "exit",
  "suspend",
  "destroy",
  "update",
  "restart"
]
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/**
 * An event id shaped like Fly's (a 26-character ULID): 10 characters of the millisecond timestamp and 16 derived
 * from the machine id and the event's sequence number, so ids are unique, sortable and reproducible from the
 * seed without storing a string per event.
 */
export const eventId = (machineId: string, seq: number, timestamp: number): string => {
  let t = timestamp
  const time: Array<string> = []
  for (let i = 0; i < 10; i++) {
    time.push(crockford[t % 32]!)
    t = Math.floor(t / 32)
  }
  let out = time.reverse().join("")
  let h1 = 0x811c9dc5 ^ seq
  let h2 = 0x01000193 ^ Math.imul(seq, 0x9e3779b1)
  for (let i = 0; i < machineId.length; i++) {
    h1 = Math.imul(h1 ^ machineId.charCodeAt(i), 0x01000193)
    h2 = Math.imul(h2 ^ machineId.charCodeAt(i), 0x85ebca6b)
  }
  for (let i = 0; i < 8; i++) {
    out += crockford[(h1 >>> (i * 4)) & 31]!
    h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35)
  }
  for (let i = 0; i < 8; i++) {
    out += crockford[(h2 >>> (i * 4)) & 31]!
    h2 = Math.imul(h2 ^ (h2 >>> 16), 0x27d4eb2f)
  }
  return out
}

/**
 * The newest `eventLogSize` events of a machine in a ring of typed arrays: recording an event allocates nothing,
 * so a month of transitions leaves no garbage behind; event objects are built when the API reads them.
 */
export class EventLog {
  private readonly timestamps = new Float64Array(eventLogSize)
  private readonly statuses = new Uint8Array(eventLogSize)
  private readonly types = new Uint8Array(eventLogSize)
  private readonly sources = new Uint8Array(eventLogSize)
  /** Events ever recorded (the next event's sequence number). */
  count = 0

  constructor(private readonly machineId: string) {}

  push(status: MachineState, type: string, source: "user" | "flyd", timestamp: number): void {
    const slot = this.count % eventLogSize
    this.timestamps[slot] = timestamp
    this.statuses[slot] = statusCodes.indexOf(status)
    const code = typeCodes.indexOf(type)
    this.types[slot] = Math.max(code, 0)
    this.sources[slot] = source === "user" ? 0 : 1
    this.count++
  }

  private at(seq: number): MachineEvent {
    const slot = seq % eventLogSize
    const timestamp = this.timestamps[slot]!
    return {
      id: eventId(this.machineId, seq, timestamp),
      type: typeCodes[this.types[slot]!]!,
      status: statusCodes[this.statuses[slot]!]!,
      source: this.sources[slot] === 0 ? "user" : "flyd",
      timestamp
    }
  }

  /** The newest `limit` events, newest first. */
  recent(limit: number): Array<MachineEvent> {
    const out: Array<MachineEvent> = []
    const oldest = Math.max(0, this.count - eventLogSize, this.count - limit)
    for (let seq = this.count - 1; seq >= oldest; seq--) out.push(this.at(seq))
    return out
  }

  last(): MachineEvent | undefined {
    return this.count === 0 ? undefined : this.at(this.count - 1)
  }

  /** The retained events, oldest first (for persistence). */
  retained(): Array<MachineEvent> {
    return this.recent(eventLogSize).reverse()
  }

  /** Refills the log from persisted events (oldest first) and the total count. */
  restore(events: ReadonlyArray<Omit<MachineEvent, "id">>, count: number): void {
    this.count = count - events.length
    for (const e of events) this.push(e.status, e.type, e.source, e.timestamp)
  }
}

/** What the machine needs from its model. */
export interface MachineHost {
  now(): number
  /** Called when a pending change has been applied (for side effects such as detaching volumes). */
  applied(machine: Machine, pending: Pending): void
  countTransition(): void
  /** Called when anything persisted of the machine changes (state, config, version). */
  changed(machine: Machine): void
}

export const guestOf = (config: MachineConfig): Pricing.FlyGuest => {
  const guest = config.guest
  return guest === undefined
    ? Pricing.flyGuestBySize.dev
    : { cpuKind: guest.cpu_kind, cpus: guest.cpus, memoryMb: guest.memory_mb }
}

export const rootfsGbOf = (config: MachineConfig): number =>
  config.rootfs?.size_gb ?? Pricing.defaultFlyRootfsGb

export class Machine {
  #state: MachineState = "created"
  pending: Pending | undefined = undefined
  /** When the current state began. */
  since: number
  config: MachineConfig
  guestRate: Money.Rate
  rootfsRate: Money.Rate
  readonly ledger: Partial<Record<MachineState, LedgerEntry>> = {}
  readonly events: EventLog
  instanceId: string
  version = 1
  updatedAt: number
  /** Metadata by key, in a Map so keys such as `__proto__` or `constructor` are ordinary keys. */
  readonly metadata = new Map<string, string>()
  lease: Lease | undefined = undefined
  cordoned = false
  /** The memory the balloon device leaves the guest, when lowered (`PUT …/memory`); reset by a boot. */
  memoryLimitMb: number | undefined = undefined
  /** Bumped on every state change. */
  generation = 0
  /** Aborts running exec commands when the machine stops; made on first use. */
  private running: AbortController | undefined = undefined
  /** Callbacks of pending `wait` requests and proxied requests, told of every state change. */
  readonly watchers = new Set<() => void>()
  /** Requests the proxy has sent here since the last autostop pass, and requests or sockets open now. */
  activity = 0
  inFlight = 0
  lastActivityAt: number

  constructor(
    private readonly host: MachineHost,
    readonly id: string,
    readonly app: string,
    public name: string,
    readonly region: string,
    config: MachineConfig,
    instanceId: string,
    readonly createdAt: number
  ) {
    this.config = config
    this.guestRate = Pricing.flyGuestRate(guestOf(config), region)
    this.rootfsRate = Pricing.flyRootfsRate(rootfsGbOf(config))
    this.instanceId = instanceId
    this.events = new EventLog(id)
    this.since = createdAt
    this.updatedAt = createdAt
    this.lastActivityAt = createdAt
  }

  /** The state now, applying a transient state's end if its instant has come. */
  get state(): MachineState {
    const pending = this.pending
    if (pending !== undefined && pending.at <= this.host.now()) {
      this.pending = undefined
      this.record(pending.to, pending.type, "flyd", pending.at)
      this.host.applied(this, pending)
    }
    return this.#state
  }

  /** The state without applying anything (for code that has just applied it). */
  get rawState(): MachineState {
    return this.#state
  }

  /** Closes the current interval into the ledger at `at`. */
  private close(at: number): void {
    const millis = at - this.since
    if (millis <= 0) return
    const billing = Pricing.flyStateBilling(this.#state)
    if (billing === "none") return
    let entry = this.ledger[this.#state]
    if (entry === undefined) {
      entry = { intervals: 0, millis: 0, billedSeconds: 0, costMicroUsd: 0 }
      this.ledger[this.#state] = entry
    }
    entry.intervals++
    entry.millis += millis
    entry.billedSeconds += Math.ceil(millis / 1000)
    entry.costMicroUsd += Money.billPerSecond(billing === "guest" ? this.guestRate : this.rootfsRate, millis)
    this.since = at
  }

  /** The cost of the open interval if it closed at `at` (for a bill taken now). */
  openInterval(at: number): { state: MachineState; millis: number; costMicroUsd: number } | undefined {
    const millis = at - this.since
    const billing = Pricing.flyStateBilling(this.#state)
    if (millis <= 0 || billing === "none") return undefined
    return {
      state: this.#state,
      millis,
      costMicroUsd: Money.billPerSecond(billing === "guest" ? this.guestRate : this.rootfsRate, millis)
    }
  }

  /** Moves to `state` at `at` (now unless replaying a pending change), recording an event. */
  record(state: MachineState, type: string, source: "user" | "flyd", at = this.host.now()): void {
    this.close(at)
    this.since = at
    this.#state = state
    this.generation++
    this.updatedAt = at
    this.events.push(state, type, source, at)
    this.host.countTransition()
    this.host.changed(this)
    if (this.watchers.size > 0) for (const watcher of [...this.watchers]) watcher()
  }

  /** Replaces the config (new rates apply from now; the interval so far is billed at the old ones). */
  reconfigure(config: MachineConfig): void {
    this.close(this.host.now())
    this.host.changed(this)
    this.config = config
    this.guestRate = Pricing.flyGuestRate(guestOf(config), this.region)
    this.rootfsRate = Pricing.flyRootfsRate(rootfsGbOf(config))
  }

  /** The newest `limit` events, newest first. */
  recentEvents(limit: number): Array<MachineEvent> {
    return this.events.recent(limit)
  }

  get signal(): AbortSignal {
    this.running ??= new AbortController()
    return this.running.signal
  }

  /** Kills what runs in the machine (stop, restart, destroy). */
  kill(): void {
    // A reason of our own: aborting without one makes a DOMException, stack trace and all, on every stop.
    this.running?.abort(machineStopped)
    this.running = undefined
  }

  /** Restores persisted fields (Persistence only). */
  restore(state: MachineState, since: number): void {
    this.#state = state
    this.since = since
  }
}
