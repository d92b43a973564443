/** Seeded ids: 14-hex machine ids, `vol_…` volume ids, 26-character event and version ids. */
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
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  private chars(alphabet: string, length: number): string {
    let out = ""
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)]
    return out
  }
  hex(length: number): string {
    return this.chars("0123456789abcdef", length)
  }
  machineId(): string {
    return this.hex(14)
  }
  volumeId(): string {
    return `vol_${this.chars("0123456789abcdefghijklmnopqrstuvwxyz", 16)}`
  }
  ulid(): string {
    return this.chars("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 26)
  }
  /** `base` scaled by a seeded factor in [1 − spread, 1 + spread]. */
  jitter(base: number, spread = 0.2): number {
    return Math.round(base * (1 - spread + 2 * spread * this.next()))
  }
}
