/**
 * A circuit breaker per provider: closed until `failureThreshold` consecutive failures, then open for
 * `openMillis`, then half-open: one probe is let through; its success closes the circuit, its failure reopens it.
 */
export interface CircuitOptions {
  readonly failureThreshold: number
  readonly openMillis: number
}

export type CircuitState = "closed" | "open" | "half-open"

interface Entry {
  failures: number
  openedAt: number | undefined
  probing: boolean
}

export class CircuitBreaker {
  private readonly entries = new Map<string, Entry>()
  constructor(readonly options: CircuitOptions = { failureThreshold: 3, openMillis: 60_000 }) {}

  private entry(provider: string): Entry {
    let entry = this.entries.get(provider)
    if (entry === undefined) {
      entry = { failures: 0, openedAt: undefined, probing: false }
      this.entries.set(provider, entry)
    }
    return entry
  }

  state(provider: string, now: number): CircuitState {
    const entry = this.entry(provider)
    if (entry.openedAt === undefined) return "closed"
    return now - entry.openedAt >= this.options.openMillis ? "half-open" : "open"
  }

  /** Whether a request may go to `provider` now (claims the half-open probe). */
  allow(provider: string, now: number): boolean {
    const state = this.state(provider, now)
    if (state === "closed") return true
    if (state === "open") return false
    const entry = this.entry(provider)
    if (entry.probing) return false
    entry.probing = true
    return true
  }

  /** Whether `provider` would be allowed, without claiming the probe. */
  isAvailable(provider: string, now: number): boolean {
    const state = this.state(provider, now)
    return state === "closed" || (state === "half-open" && !this.entry(provider).probing)
  }

  record(provider: string, ok: boolean, now: number): void {
    const entry = this.entry(provider)
    entry.probing = false
    if (ok) {
      entry.failures = 0
      entry.openedAt = undefined
      return
    }
    entry.failures++
    if (entry.openedAt !== undefined || entry.failures >= this.options.failureThreshold) entry.openedAt = now
  }
}
