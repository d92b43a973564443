/** The simulator's ids, ARNs, jitter and fault draws, from core's seeded generator, so a seed replays. */
import { SeededRandom as Seeded } from "@hangar/core"

export class SeededRandom extends Seeded.SeededRandom {
  /** `base` scaled by a seeded factor in [1 − spread, 1 + spread] (±25% unless told). */
  override jitter(base: number, spread = 0.25): number {
    return super.jitter(base, spread)
  }
  /** A UUID-shaped id (session ids, request ids). */
  uuid(): string {
    const h = this.hex(32)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`
  }
}
