/**
 * The bill, computed from state intervals (never by ticking) with core's `Pricing` and `Money.billPerSecond`:
 * started-side states at the guest rate × region markup, created/stopped/suspended at the rootfs rate, volumes
 * per GB while not pending_destroy. Every constant-state interval is one line item.
 */
import { Money, Pricing } from "@hangar/core"
import type { FlyModel, Machine, MachineEvent } from "./FlyModel.js"

export interface LineItem {
  readonly app: string
  readonly resource: string
  readonly kind: "machine" | "volume"
  readonly state: string
  readonly fromMillis: number
  readonly toMillis: number
  readonly billedSeconds: number
  readonly costMicroUsd: number
}

export interface Bill {
  readonly asOfMillis: number
  readonly lines: ReadonlyArray<LineItem>
  readonly totalMicroUsd: number
  readonly byApp: Readonly<Record<string, number>>
  readonly byMachine: Readonly<Record<string, number>>
  readonly byVolume: Readonly<Record<string, number>>
  readonly byState: Readonly<Record<string, number>>
  /** Seconds spent in each machine state across all machines. */
  readonly secondsByState: Readonly<Record<string, number>>
}

export const guestOf = (machine: Pick<Machine, "config">): Pricing.FlyGuest => {
  const guest = machine.config.guest
  return guest === undefined
    ? Pricing.flyGuestBySize.dev
    : { cpuKind: guest.cpu_kind, cpus: guest.cpus, memoryMb: guest.memory_mb }
}

/** Line items of one machine from its state-change events (oldest first), up to `now`. */
export const machineLines = (
  app: string,
  machineId: string,
  region: string,
  guest: Pricing.FlyGuest,
  rootfsGb: number,
  events: ReadonlyArray<Pick<MachineEvent, "status" | "timestamp">>,
  now: number
): Array<LineItem> =>
  Pricing.flyIntervals(guest, region, rootfsGb, events, now).map((interval) => ({
    app,
    resource: machineId,
    kind: "machine",
    state: interval.state,
    fromMillis: interval.fromMillis,
    toMillis: interval.toMillis,
    billedSeconds: interval.billedSeconds,
    costMicroUsd: interval.costMicroUsd
  }))

const add = (record: Record<string, number>, key: string, value: number) => {
  record[key] = (record[key] ?? 0) + value
}

export const compute = (model: FlyModel): Bill => {
  const now = model.clock.now()
  const lines: Array<LineItem> = []
  const secondsByState: Record<string, number> = {}
  for (const m of model.machines.values()) {
    const rootfs = m.config.rootfs?.size_gb ?? Pricing.defaultFlyRootfsGb
    lines.push(...machineLines(m.app, m.id, m.region, guestOf(m), rootfs, m.events, now))
    for (let i = 0; i < m.events.length; i++) {
      const e = m.events[i]!
      add(secondsByState, e.status, ((m.events[i + 1]?.timestamp ?? now) - e.timestamp) / 1000)
    }
  }
  for (const v of model.volumes.values()) {
    for (let i = 0; i < v.history.length; i++) {
      const entry = v.history[i]!
      const to = v.history[i + 1]?.at ?? now
      if (!entry.billed || to <= entry.at) continue
      lines.push({
        app: v.app,
        resource: v.id,
        kind: "volume",
        state: "provisioned",
        fromMillis: entry.at,
        toMillis: to,
        billedSeconds: Math.ceil((to - entry.at) / 1000),
        costMicroUsd: Money.billPerSecond(Pricing.flyVolumeRate(entry.sizeGb), to - entry.at)
      })
    }
  }
  const byApp: Record<string, number> = {}
  const byMachine: Record<string, number> = {}
  const byVolume: Record<string, number> = {}
  const byState: Record<string, number> = {}
  let total = 0
  for (const line of lines) {
    total += line.costMicroUsd
    add(byApp, line.app, line.costMicroUsd)
    add(line.kind === "machine" ? byMachine : byVolume, line.resource, line.costMicroUsd)
    add(byState, line.state, line.costMicroUsd)
  }
  return { asOfMillis: now, lines, totalMicroUsd: total, byApp, byMachine, byVolume, byState, secondsByState }
}
