/**
 * What both simulators answer at `GET /_sim/health` (is it up, which one, which version: for scripts waiting on a
 * start, like LocalStack's health endpoint) and `GET /_sim/info` (its clock, seed, data directory and how many
 * of each resource it holds).
 */
import type * as VirtualClock from "../VirtualClock.js"

export interface Health {
  readonly status: "ok"
  readonly name: string
  readonly version: string
}

export interface Info {
  readonly name: string
  readonly version: string
  readonly clock: { readonly mode: "real" | "virtual"; readonly nowMillis: number; readonly now: string }
  readonly seed: number
  /** Where the state is kept; null when it lives in memory only. */
  readonly dataDir: string | null
  readonly counts: Readonly<Record<string, number>>
}

export const health = (name: string, version: string): Health => ({ status: "ok", name, version })

export const info = (options: {
  readonly name: string
  readonly version: string
  readonly clock: VirtualClock.SimulationClock
  readonly seed: number
  readonly dataDir: string | undefined
  readonly counts: Readonly<Record<string, number>>
}): Info => {
  const nowMillis = options.clock.now()
  return {
    name: options.name,
    version: options.version,
    clock: { mode: options.clock.mode, nowMillis, now: new Date(nowMillis).toISOString() },
    seed: options.seed,
    dataDir: options.dataDir ?? null,
    counts: options.counts
  }
}
