/**
 * One notion of simulated time for simulators, providers and the bench.
 *
 * A `SimulationClock` is both an Effect `Clock` (so `Effect.sleep`, `Schedule` and timeouts in provider code
 * run on it unchanged) and a scheduler that plain TypeScript code can await (`sleepUntil(t)`). The virtual
 * clock moves only when its driver calls `advanceTo`/`advanceBy`/`runUntilIdle`, and only to the next due
 * timer once nothing is in flight: timers fire in time order, ties in scheduling order, never early.
 * The real clock is the same interface over the system clock, for interactive use.
 */
import { Clock, Context, Duration, Effect, Layer, Runtime } from "effect"

export interface SimulationClock extends Clock.Clock {
  readonly mode: "virtual" | "real"
  /** Milliseconds since the epoch on this clock. */
  now(): number
  /** Resolves when the clock reaches `at` (immediately if it already has). */
  sleepUntil(at: number): Promise<void>
  sleep(duration: Duration.Duration): Effect.Effect<void>
  sleepMillis(ms: number): Promise<void>
  /** Calls `fire` when the clock reaches `at` (epoch millis); returns a function that cancels it. */
  schedule(at: number, fire: () => void): () => void
  /** Marks work in flight (an HTTP request, say): a virtual clock does not move until it settles. */
  track<A>(promise: Promise<A>): Promise<A>
  trackEffect<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
  /**
   * Waits for `promise` as work blocked on the clock, not in flight: a server handler inside a tracked request
   * that waits for simulated time (a `wait` long-poll, a scripted `sleep 30`) must not stop time from moving.
   */
  idle<A>(promise: Promise<A>): Promise<A>
}

/** The clock in use, for code that needs `now()` and `sleepUntil` outside Effect. */
export class CurrentClock extends Context.Tag("@hangar/core/VirtualClock/CurrentClock")<
  CurrentClock,
  SimulationClock
>() {}

/** A timer of a simulated clock: fires at `at`, ties broken by `seq` (the order they were set). */
export interface Timer {
  readonly at: number
  readonly seq: number
  readonly fire: () => void
  cancelled: boolean
}

/** A binary min-heap of timers ordered by (at, seq): the simulated clocks' queue (core's and the bench engine's). */
export class TimerQueue {
  private readonly heap: Array<Timer> = []
  get size(): number {
    return this.heap.length
  }
  peek(): Timer | undefined {
    return this.heap[0]
  }
  push(timer: Timer): void {
    const h = this.heap
    h.push(timer)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(timer, h[parent]!)) break
      h[i] = h[parent]!
      i = parent
    }
    h[i] = timer
  }
  pop(): Timer | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      // Sift `last` down from the root: each smaller child moves up into the hole, no swaps.
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = l < h.length && before(h[l]!, last) ? l : -1
        if (r < h.length && before(h[r]!, m === -1 ? last : h[m]!)) m = r
        if (m === -1) break
        h[i] = h[m]!
        i = m
      }
      h[i] = last
    }
    return top
  }
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A clock whose time moves only when its driver moves it. */
export class VirtualClock implements SimulationClock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  readonly mode = "virtual" as const
  private current: number
  private seq = 0
  private inFlight = 0
  private blocked = 0
  /** Bumped whenever timers or in-flight work change, to detect quiescence. */
  private version = 0
  private readonly timers = new TimerQueue()

  constructor(startMillis = Date.UTC(2026, 0, 1)) {
    this.current = startMillis
  }

  now(): number {
    return this.current
  }
  unsafeCurrentTimeMillis(): number {
    return this.current
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.current) * 1_000_000n
  }
  get currentTimeMillis(): Effect.Effect<number> {
    return Effect.sync(() => this.current)
  }
  get currentTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => this.unsafeCurrentTimeNanos())
  }

  /** Number of timers waiting (cancelled ones included until they are reached). */
  get pendingTimers(): number {
    return this.timers.size
  }

  /** Registers `fire` to run when the clock reaches `at`; returns a cancel function. */
  schedule(at: number, fire: () => void): () => void {
    const timer: Timer = { at: Math.max(at, this.current), seq: this.seq++, fire, cancelled: false }
    this.timers.push(timer)
    this.version++
    return () => {
      if (!timer.cancelled) {
        timer.cancelled = true
        this.version++
      }
    }
  }

  sleepUntil(at: number): Promise<void> {
    if (at <= this.current) return Promise.resolve()
    return new Promise((resolve) => {
      this.schedule(at, resolve)
    })
  }

  sleepMillis(ms: number): Promise<void> {
    return this.sleepUntil(this.current + Math.max(0, ms))
  }

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const cancel = this.schedule(this.current + Duration.toMillis(duration), () => resume(Effect.void))
      return Effect.sync(cancel)
    })
  }

  track<A>(promise: Promise<A>): Promise<A> {
    this.inFlight++
    this.version++
    return promise.finally(() => {
      this.inFlight--
      this.version++
    })
  }

  idle<A>(promise: Promise<A>): Promise<A> {
    this.blocked++
    this.version++
    return promise.finally(() => {
      this.blocked--
      this.version++
    })
  }

  trackEffect<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        this.inFlight++
        this.version++
      }),
      () => effect,
      () =>
        Effect.sync(() => {
          this.inFlight--
          this.version++
        })
    )
  }

  /**
   * Waits until nothing is in flight and the timer set has stopped changing for a few turns of the event loop,
   * so that everything the last fired timer set in motion has scheduled its next timer.
   */
  async settle(quietTurns = 2): Promise<void> {
    let quiet = 0
    let seen = this.version
    while (quiet < quietTurns) {
      await nextMacrotask()
      if (this.inFlight <= this.blocked && this.version === seen) quiet++
      else {
        quiet = 0
        seen = this.version
      }
    }
  }

  /** Fires every timer due at or before `target`, in order, settling after each; then sets the time to `target`. */
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      await this.settle()
      const next = this.timers.peek()
      if (next === undefined || next.at > target) break
      this.timers.pop()
      this.version++
      if (next.cancelled) continue
      this.current = Math.max(this.current, next.at)
      next.fire()
    }
    this.current = Math.max(this.current, target)
  }

  /** Moves to the next live timer and fires every timer due then. */
  async advanceToNextTimer(): Promise<void> {
    let next = this.timers.peek()
    while (next?.cancelled) {
      this.timers.pop()
      next = this.timers.peek()
    }
    if (next !== undefined) await this.advanceTo(next.at)
  }

  advanceBy(ms: number): Promise<void> {
    return this.advanceTo(this.current + ms)
  }

  /** Runs timers until none is left or `limit` is reached; returns the time reached. */
  async runUntilIdle(limit = Number.POSITIVE_INFINITY): Promise<number> {
    for (;;) {
      await this.settle()
      const next = this.timers.peek()
      if (next === undefined || next.at > limit) return this.current
      await this.advanceTo(next.at)
    }
  }

  /** Effect versions of the driver calls. */
  readonly advance = (duration: Duration.DurationInput): Effect.Effect<void> =>
    Effect.promise(() => this.advanceBy(Duration.toMillis(duration)))
}

/** The system clock behind the same interface. */
export class RealClock implements SimulationClock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  readonly mode = "real" as const
  now(): number {
    return Date.now()
  }
  unsafeCurrentTimeMillis(): number {
    return Date.now()
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Date.now()) * 1_000_000n
  }
  get currentTimeMillis(): Effect.Effect<number> {
    return Effect.sync(() => Date.now())
  }
  get currentTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => this.unsafeCurrentTimeNanos())
  }
  sleepUntil(at: number): Promise<void> {
    return this.sleepMillis(at - Date.now())
  }
  sleepMillis(ms: number): Promise<void> {
    return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms))
  }
  /**
   * Never early: Node's timers run on a monotonic clock that can fire a millisecond before `Date.now()` reaches
   * `at`, so the timer is armed again for what is left. Unreferenced: a pending timer does not keep the process
   * alive.
   */
  schedule(at: number, fire: () => void): () => void {
    let handle: ReturnType<typeof setTimeout> | undefined
    const arm = () => {
      handle = setTimeout(() => (Date.now() >= at ? fire() : arm()), Math.max(0, at - Date.now()))
      handle.unref()
    }
    arm()
    return () => clearTimeout(handle)
  }
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const handle = setTimeout(() => resume(Effect.void), Duration.toMillis(duration))
      return Effect.sync(() => clearTimeout(handle))
    })
  }
  track<A>(promise: Promise<A>): Promise<A> {
    return promise
  }
  trackEffect<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return effect
  }
  idle<A>(promise: Promise<A>): Promise<A> {
    return promise
  }
}

/** Makes `clock` the Effect clock and the `CurrentClock` for everything built on this layer. */
export const layer = (clock: SimulationClock): Layer.Layer<CurrentClock> =>
  Layer.merge(Layer.setClock(clock), Layer.succeed(CurrentClock, clock))

/**
 * Runs `promise` to completion on a virtual clock: whenever everything in flight has settled and the promise is
 * still pending, time jumps to the next timer. Fails if the promise is still pending with no timer left after
 * `stallMillis` of real time (untracked real I/O gets that long to finish).
 */
export const runToCompletion = async <A>(
  clock: VirtualClock,
  promise: Promise<A>,
  stallMillis = 2_000
): Promise<A> => {
  let done = false
  const watched = promise.finally(() => {
    done = true
  })
  watched.catch(() => undefined)
  for (;;) {
    await clock.settle()
    if (done) return watched
    if (clock.pendingTimers === 0) {
      // No timer and nothing tracked, yet the promise is pending: it may be on untracked real I/O (a module
      // loaded on first use, say), which a loaded machine can take many turns to finish. Give it real time.
      const deadline = Date.now() + stallMillis
      while (!done && clock.pendingTimers === 0 && Date.now() < deadline) await clock.settle(20)
      if (done) return watched
      if (clock.pendingTimers === 0)
        throw new Error("virtual clock: the work is waiting on nothing that will ever fire")
    }
    await clock.advanceToNextTimer()
  }
}

/** Effect version of `runToCompletion`. */
export const drive = <A, E, R>(clock: VirtualClock, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.runtime<R>(), (runtime) =>
    Effect.flatten(
      Effect.promise(() =>
        runToCompletion(clock, Runtime.runPromiseExit(runtime)(Effect.withClock(effect, clock)))
      )
    )
  )
