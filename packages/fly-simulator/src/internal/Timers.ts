/**
 * One timer on the simulation clock with a synchronous callback: on core's virtual clock it is a clock timer
 * (no promise per timer, cancellable so it never moves time once it is not needed); on the real clock it is an
 * unreferenced `setTimeout`, so a pending timer never keeps a finished process alive.
 */
import { VirtualClock } from "@hangar/core"

export const at = (clock: VirtualClock.SimulationClock, time: number, fire: () => void): (() => void) => {
  if (clock instanceof VirtualClock.VirtualClock) return clock.schedule(time, fire)
  const handle = setTimeout(fire, Math.max(0, time - clock.now()))
  handle.unref()
  return () => clearTimeout(handle)
}
