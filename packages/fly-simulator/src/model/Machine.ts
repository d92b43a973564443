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

/** What the machine needs from its model. */
export interface MachineHost {
  now(): number
  /** Called when a pending change has been applied (for side effects such as detaching volumes). */
  applied(machine: Machine, pending: Pending): void
  nextEventId(): string
  countTransition(): void
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
  readonly events: Array<MachineEvent> = []
  instanceId: string
  version = 1
  updatedAt: number
  metadata: Record<string, string> = {}
  lease: Lease | undefined = undefined
  cordoned = false
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
    this.events.push({ id: this.host.nextEventId(), type, status: state, source, timestamp: at })
    if (this.events.length > eventLogSize * 2) this.events.splice(0, this.events.length - eventLogSize)
    this.host.countTransition()
    if (this.watchers.size > 0) for (const watcher of [...this.watchers]) watcher()
  }

  /** Replaces the config (new rates apply from now; the interval so far is billed at the old ones). */
  reconfigure(config: MachineConfig): void {
    this.close(this.host.now())
    this.config = config
    this.guestRate = Pricing.flyGuestRate(guestOf(config), this.region)
    this.rootfsRate = Pricing.flyRootfsRate(rootfsGbOf(config))
  }

  /** The newest `limit` events, newest first. */
  recentEvents(limit: number): Array<MachineEvent> {
    return this.events.slice(-limit).reverse()
  }

  get signal(): AbortSignal {
    this.running ??= new AbortController()
    return this.running.signal
  }

  /** Kills what runs in the machine (stop, restart, destroy). */
  kill(): void {
    this.running?.abort()
    this.running = undefined
  }

  /** Restores persisted fields (Persistence only). */
  restore(state: MachineState, since: number): void {
    this.#state = state
    this.since = since
  }
}
