/** The simulator's seeded PRNG (mulberry32): ids, ARNs, jitter and fault draws come from it, so a seed replays. */
export class SeededRandom {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0 || 1
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  hex(length: number): string {
    let out = ""
    for (let i = 0; i < length; i++) out += "0123456789abcdef"[Math.floor(this.next() * 16)]
    return out
  }
  /** `base` scaled by a seeded factor in [1 − spread, 1 + spread]. */
  jitter(base: number, spread = 0.25): number {
    return Math.round(base * (1 - spread + 2 * spread * this.next()))
  }
  /** A UUID-shaped id (session ids, request ids). */
  uuid(): string {
    const h = this.hex(32)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`
  }
}
