/**
 * Core's deadlines: a call bounded by a deadline on the fiber's clock, answering its caller at once and winding
 * the work down in the background, and the instant the waits inside the call can read.
 */
import { Clock, Duration, Effect, FiberId, FiberRef } from "effect"
import type { SimulationClock } from "../VirtualClock.js"

/** Inside a call of a provider made with a `deadline`: the instant (clock millis) the call must end by. */
export const callDeadlineAt: FiberRef.FiberRef<number> = FiberRef.unsafeMake(Number.POSITIVE_INFINITY)
/**
 * `effect`, or a failure with `onTimeout()` once `millis` have passed on the fiber's clock. The caller gets the
 * failure at once and the work is interrupted in the background, as `Effect.disconnect` then
 * `Effect.timeoutFail` do, but with one forked fiber and one timer instead of three fibers: this bounds every
 * call of a provider, so its cost is paid per call. A `SimulationClock` (virtual or real) schedules the timer
 * itself; any other clock sleeps on a fiber of its own.
 */
export const withDeadline = <A, E, E2, R>(
  effect: Effect.Effect<A, E, R>,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.clockWith((clock) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.forkDaemon(restore(effect)), (fiber) =>
        restore(
          Effect.async<A, E | E2>((resume) => {
            let settled = false
            const fire = () => {
              if (settled) return
              settled = true
              fiber.unsafeInterruptAsFork(FiberId.none)
              resume(Effect.fail(onTimeout()))
            }
            const cancel = timer(clock, millis, fire)
            fiber.addObserver((exit) => {
              if (settled) return
              settled = true
              cancel()
              resume(exit)
            })
            return Effect.sync(() => {
              if (settled) return
              settled = true
              cancel()
              fiber.unsafeInterruptAsFork(FiberId.none)
            })
          })
        )
      )
    )
  )

/**
 * `withDeadline`, with the instant set in `callDeadlineAt` on the fiber the work runs on, for the waits inside it to
 * see (that fiber ends with the work, so nothing needs restoring).
 */
export const withCallDeadline = <A, E, E2, R>(
  effect: Effect.Effect<A, E, R>,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    withDeadline(Effect.zipRight(FiberRef.set(callDeadlineAt, now + millis), effect), millis, onTimeout)
  )

/** The class of Effect's own clock, whose `sleep` is a `setTimeout`. */
const LiveClock = Clock.make().constructor
/** The longest delay `setTimeout` takes (about 24.8 days). */
const maxTimeoutMillis = 2_147_483_647

/**
 * Calls `fire` after `millis` on `clock`; returns a cancel function. Effect's own clock gets a `setTimeout`, as its
 * `sleep` would use: running that `sleep` on a fiber of its own cost more than the rest of a provider call.
 */
export const timer = (clock: Clock.Clock, millis: number, fire: () => void): (() => void) => {
  const scheduler = clock as Partial<Pick<SimulationClock, "schedule">>
  if (typeof scheduler.schedule === "function") {
    return scheduler.schedule(clock.unsafeCurrentTimeMillis() + millis, fire)
  }
  if (clock.constructor === LiveClock && millis <= maxTimeoutMillis) {
    const handle = setTimeout(fire, millis)
    return () => clearTimeout(handle)
  }
  const sleeper = Effect.runFork(clock.sleep(Duration.millis(millis)))
  sleeper.addObserver((exit) => {
    if (exit._tag === "Success") fire()
  })
  return () => sleeper.unsafeInterruptAsFork(FiberId.none)
}
