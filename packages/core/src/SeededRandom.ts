/**
 * The repository's one seeded generator (mulberry32): simulators draw ids, jitter and faults from it, the bench
 * its traces, randomised policies their decisions. Same seed, same sequence; `position` saves and restores it.
 */

export class SeededRandom {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0 || 1
  }
  /** The generator's position, for persistence. */
  get position(): number {
    return this.state
  }
  set position(value: number) {
    this.state = value >>> 0
  }
  /** A draw in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  /** A draw in (0, 1), for logarithms. */
  positive(): number {
    let u = this.next()
    while (u === 0) u = this.next()
    return u
  }
  /** An exponentially distributed draw with mean `mean` (inverse CDF). */
  exponential(mean: number): number {
    return -Math.log(this.positive()) * mean
  }
  /** A standard normal draw (Box–Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.positive())) * Math.cos(2 * Math.PI * this.next())
  }
  /** One of `items`, uniformly (`items` must not be empty). */
  pick<A>(items: ReadonlyArray<A>): A {
    return items[Math.floor(this.next() * items.length)] as A
  }
  /** `length` characters drawn uniformly from `alphabet`. */
  chars(alphabet: string, length: number): string {
    let out = ""
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)]
    return out
  }
  hex(length: number): string {
    return this.chars("0123456789abcdef", length)
  }
  /** `base` scaled by a seeded factor in [1 − spread, 1 + spread], rounded. */
  jitter(base: number, spread: number): number {
    return Math.round(base * (1 - spread + 2 * spread * this.next()))
  }
}

export const make = (seed: number): SeededRandom => new SeededRandom(seed)
