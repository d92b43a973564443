/**
 * One timer on the simulation clock with a synchronous callback: on core's virtual clock it is a clock timer
 * (no promise per timer, cancellable so it never moves time once it is not needed); on the real clock it is an
 * unreferenced timer that never fires before `time` (a transition looked at a millisecond early would not
 * happen, and a wait for it would hang until its timeout).
 */
import type { VirtualClock } from "@hangar/core"

export const at = (clock: VirtualClock.SimulationClock, time: number, fire: () => void): (() => void) =>
  clock.schedule(time, fire)
