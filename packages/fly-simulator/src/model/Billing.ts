/**
 * The bill, computed from state intervals (never by ticking) with core's `Pricing` and `Money.billPerSecond`:
 * started-side states at the guest rate × region markup, created/stopped/suspended at the rootfs rate, volumes
 * per GB while not pending_destroy, snapshots per GB beyond the org's free allowance. Each interval is billed per
 * second (rounded up) and rounded to a micro-dollar once; a line item sums the intervals of one resource in one
 * state, so the total is exactly the sum of the lines and each line exactly the sum of its intervals.
 */
import { Money, Pricing, PricingCatalog } from "@hangar/core"
import type { FlyModel, Volume } from "./FlyModel.js"

export interface LineItem {
  /** The app, or `org:<slug>` for snapshot storage (billed per organisation). */
  readonly app: string
  readonly resource: string
  readonly kind: "machine" | "volume" | "snapshot"
  readonly state: string
  readonly intervals: number
  /** Exact time in the state, in seconds; `billedSeconds` rounds each interval up. */
  readonly seconds: number
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
  /** Seconds spent in each billed machine state across all machines. */
  readonly secondsByState: Readonly<Record<string, number>>
}

/** The resource of the line that sums an app's forgotten destroyed machines. */
export const retiredPrefix = "destroyed-machines:"

const add = (record: Record<string, number>, key: string, value: number) => {
  record[key] = (record[key] ?? 0) + value
}

const volumeLine = (v: Volume, now: number): LineItem | undefined => {
  let intervals = 0
  let millis = 0
  let billedSeconds = 0
  let cost = 0
  for (let i = 0; i < v.history.length; i++) {
    const entry = v.history[i]!
    const to = v.history[i + 1]?.at ?? now
    if (!entry.billed || to <= entry.at) continue
    intervals++
    millis += to - entry.at
    billedSeconds += Math.ceil((to - entry.at) / 1000)
    cost += Money.billPerSecond(Pricing.flyVolumeRate(entry.sizeGb), to - entry.at)
  }
  return intervals === 0
    ? undefined
    : {
        app: v.app,
        resource: v.id,
        kind: "volume",
        state: "provisioned",
        intervals,
        seconds: millis / 1000,
        billedSeconds,
        costMicroUsd: cost
      }
}

/** Snapshot storage of one organisation: constant between creations and expiries, billed beyond the free GB. */
const snapshotLine = (org: string, volumes: ReadonlyArray<Volume>, now: number): LineItem | undefined => {
  const freeGb = Number(PricingCatalog.ratio(PricingCatalog.fly, "snapshot:free-gb", "0"))
  const changes: Array<{ at: number; gb: number }> = []
  for (const v of volumes)
    for (const s of v.snapshots) {
      changes.push({ at: s.createdAt, gb: s.volumeSizeGb })
      changes.push({ at: s.createdAt + s.retentionDays * 86_400_000, gb: -s.volumeSizeGb })
    }
  changes.sort((a, b) => a.at - b.at)
  const rate = PricingCatalog.rate(PricingCatalog.fly, "snapshot")
  let stored = 0
  let intervals = 0
  let millis = 0
  let billedSeconds = 0
  let cost = 0
  for (let i = 0; i < changes.length; i++) {
    stored += changes[i]!.gb
    const from = changes[i]!.at
    const to = Math.min(changes[i + 1]?.at ?? now, now)
    const excess = stored - freeGb
    if (excess <= 0 || to <= from) continue
    intervals++
    millis += to - from
    billedSeconds += Math.ceil((to - from) / 1000)
    cost += Money.billPerSecond(Money.scale(rate, excess), to - from)
  }
  return intervals === 0
    ? undefined
    : {
        app: `org:${org}`,
        resource: `snapshots:${org}`,
        kind: "snapshot",
        state: "stored",
        intervals,
        seconds: millis / 1000,
        billedSeconds,
        costMicroUsd: cost
      }
}

export const compute = (model: FlyModel): Bill => {
  const now = model.clock.now()
  const lines: Array<LineItem> = []
  const secondsByState: Record<string, number> = {}
  for (const m of model.machines.values()) {
    void m.state
    const open = m.openInterval(now)
    const states = new Set([...Object.keys(m.ledger), ...(open === undefined ? [] : [open.state])])
    for (const state of [...states].sort()) {
      const closed = m.ledger[state as keyof typeof m.ledger]
      const current = open?.state === state ? open : undefined
      const millis = (closed?.millis ?? 0) + (current?.millis ?? 0)
      add(secondsByState, state, millis / 1000)
      lines.push({
        app: m.app,
        resource: m.id,
        kind: "machine",
        state,
        intervals: (closed?.intervals ?? 0) + (current === undefined ? 0 : 1),
        seconds: millis / 1000,
        billedSeconds:
          (closed?.billedSeconds ?? 0) + (current === undefined ? 0 : Math.ceil(current.millis / 1000)),
        costMicroUsd: (closed?.costMicroUsd ?? 0) + (current?.costMicroUsd ?? 0)
      })
    }
  }
  // Forgotten destroyed machines, one line per app and state.
  for (const [app, ledger] of model.retired) {
    for (const state of Object.keys(ledger).sort()) {
      const entry = ledger[state as keyof typeof ledger]!
      add(secondsByState, state, entry.millis / 1000)
      lines.push({
        app,
        resource: `${retiredPrefix}${app}`,
        kind: "machine",
        state,
        intervals: entry.intervals,
        seconds: entry.millis / 1000,
        billedSeconds: entry.billedSeconds,
        costMicroUsd: entry.costMicroUsd
      })
    }
  }
  const byOrg = new Map<string, Array<Volume>>()
  for (const v of model.volumes.values()) {
    const line = volumeLine(v, now)
    if (line !== undefined) lines.push(line)
    const org = model.apps.get(v.app)?.org ?? "personal"
    byOrg.set(org, [...(byOrg.get(org) ?? []), v])
  }
  for (const [org, volumes] of byOrg) {
    const line = snapshotLine(org, volumes, now)
    if (line !== undefined) lines.push(line)
  }
  const byApp: Record<string, number> = {}
  const byMachine: Record<string, number> = {}
  const byVolume: Record<string, number> = {}
  const byState: Record<string, number> = {}
  let total = 0
  for (const line of lines) {
    total += line.costMicroUsd
    add(byApp, line.app, line.costMicroUsd)
    if (line.kind === "machine") add(byMachine, line.resource, line.costMicroUsd)
    if (line.kind === "volume") add(byVolume, line.resource, line.costMicroUsd)
    add(byState, line.state, line.costMicroUsd)
  }
  return { asOfMillis: now, lines, totalMicroUsd: total, byApp, byMachine, byVolume, byState, secondsByState }
}

/** The bill narrowed to one app, machine, volume or state (the `/_sim/billing` filters), totals recomputed. */
export const filter = (
  bill: Bill,
  by: { readonly app?: string; readonly resource?: string; readonly state?: string }
): Bill => {
  const lines = bill.lines.filter(
    (l) =>
      (by.app === undefined || l.app === by.app) &&
      (by.resource === undefined || l.resource === by.resource) &&
      (by.state === undefined || l.state === by.state)
  )
  const sum = (pick: (l: LineItem) => boolean, key: (l: LineItem) => string) => {
    const out: Record<string, number> = {}
    for (const l of lines) if (pick(l)) add(out, key(l), l.costMicroUsd)
    return out
  }
  return {
    asOfMillis: bill.asOfMillis,
    lines,
    totalMicroUsd: lines.reduce((t, l) => t + l.costMicroUsd, 0),
    byApp: sum(
      () => true,
      (l) => l.app
    ),
    byMachine: sum(
      (l) => l.kind === "machine",
      (l) => l.resource
    ),
    byVolume: sum(
      (l) => l.kind === "volume",
      (l) => l.resource
    ),
    byState: sum(
      () => true,
      (l) => l.state
    ),
    secondsByState: lines.reduce<Record<string, number>>((out, l) => {
      if (l.kind === "machine") add(out, l.state, l.seconds)
      return out
    }, {})
  }
}
