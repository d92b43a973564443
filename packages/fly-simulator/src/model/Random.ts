/** Seeded ids from core's generator: 14-hex machine ids, `vol_…` volume ids, 26-character event and version ids. */
import { SeededRandom as Seeded } from "@hangar/core"

export class SeededRandom extends Seeded.SeededRandom {
  machineId(): string {
    return this.hex(14)
  }
  volumeId(): string {
    return `vol_${this.chars("0123456789abcdefghijklmnopqrstuvwxyz", 16)}`
  }
  ulid(): string {
    return this.chars("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 26)
  }
  /** `base` scaled by a seeded factor in [1 − spread, 1 + spread] (±20% unless told). */
  override jitter(base: number, spread = 0.2): number {
    return super.jitter(base, spread)
  }
}
