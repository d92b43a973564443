/**
 * Fly's documented Machines API rate limits (reference §6): per action and per identifier (the machine, or the
 * app for app-level routes), 1 request/s with bursts of 3; getting a machine 5/s with bursts of 10; app deletions
 * 100 a minute. A token bucket per (action, identifier) refilled from the simulation clock; an empty bucket is a
 * 429 with the seconds until the next token in `retry-after`. The buckets are bounded: at most `maxBuckets`, the
 * least recently used dropped first (a dropped bucket comes back full, as one left alone long enough would be);
 * the simulator only asks for buckets of resources that exist.
 */
import type { VirtualClock } from "@hangar/core"

export interface Limit {
  readonly perSecond: number
  readonly burst: number
}

export const machineAction: Limit = { perSecond: 1, burst: 3 }
export const getMachine: Limit = { perSecond: 5, burst: 10 }
export const appDeletion: Limit = { perSecond: 100 / 60, burst: 100 }

/** The limit of one route (`METHOD /v1/route/:pattern`). */
export const limitOf = (method: string, route: string): Limit =>
  method === "GET" && route === "/v1/apps/:app/machines/:id"
    ? getMachine
    : method === "DELETE" && route === "/v1/apps/:app"
      ? appDeletion
      : machineAction

export const defaultMaxBuckets = 10_000

export class RateLimiter {
  /** Buckets by key, least recently used first. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  constructor(
    private readonly clock: VirtualClock.SimulationClock,
    private readonly maxBuckets = defaultMaxBuckets
  ) {}

  /** Buckets held now. */
  get size(): number {
    return this.buckets.size
  }

  private put(key: string, bucket: { tokens: number; at: number }): void {
    this.buckets.delete(key)
    this.buckets.set(key, bucket)
    if (this.buckets.size > this.maxBuckets) {
      const oldest = this.buckets.keys().next().value
      if (oldest !== undefined) this.buckets.delete(oldest)
    }
  }

  /** Takes a token for `key`; returns 0 when allowed, else the whole seconds to wait. */
  take(key: string, limit: Limit): number {
    const now = this.clock.now()
    const bucket = this.buckets.get(key) ?? { tokens: limit.burst, at: now }
    const tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond)
    if (tokens >= 1) {
      this.put(key, { tokens: tokens - 1, at: now })
      return 0
    }
    this.put(key, { tokens, at: now })
    return Math.max(1, Math.ceil((1 - tokens) / limit.perSecond))
  }
}
