/**
 * The engine's virtual time: one clock for the models, the providers, the Router and its policies, and a driver
 * that runs a simulation on it without turning the event loop.
 *
 * Everything in the engine resumes through this clock's timers or through Effect's scheduler (no HTTP, no
 * Promise), so the driver can run synchronously: it runs every fiber task that is ready, and only when none is
 * left does it move time to the next due timer and fire it. Time therefore moves exactly when nothing can still
 * happen at the current instant (what `VirtualClock.settle` approximates with turns of the event loop on the
 * wire path), and a run is deterministic whatever the machine's load.
 *
 * It extends core's `VirtualClock` because the ECS model schedules its timers on a `VirtualClock` only (any other
 * clock gets real `setTimeout`s); every method is its own.
 */
import { VirtualClock } from "@hangar/core"
import { Duration, Effect, Exit, Fiber, type Scheduler } from "effect"

type Timer = VirtualClock.Timer

/** Fiber tasks queued in order and run when the driver drains them: nothing runs behind its back. */
export class QueueScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task> = []
  scheduleTask(task: Scheduler.Task): void {
    this.queue.push(task)
  }
  shouldYield(): false {
    return false
  }
  /** Runs queued tasks (and the tasks they queue) until none is left; returns how many ran. */
  drain(): number {
    let ran = 0
    while (this.queue.length > 0) {
      const tasks = this.queue
      this.queue = []
      for (const task of tasks) task()
      ran += tasks.length
    }
    return ran
  }
  get idle(): boolean {
    return this.queue.length === 0
  }
}

export class EngineClock extends VirtualClock.VirtualClock {
  private at: number
  private order = 0
  private readonly due = new VirtualClock.TimerQueue()
  /** Timers fired so far (the engine's events). */
  fired = 0

  constructor(startMillis: number) {
    super(startMillis)
    this.at = startMillis
  }

  override now(): number {
    return this.at
  }
  override unsafeCurrentTimeMillis(): number {
    return this.at
  }
  override unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.at) * 1_000_000n
  }
  override get currentTimeMillis(): Effect.Effect<number> {
    return Effect.sync(() => this.at)
  }
  override get currentTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => BigInt(this.at) * 1_000_000n)
  }
  override get pendingTimers(): number {
    return this.due.size
  }

  override schedule(at: number, fire: () => void): () => void {
    const timer: Timer = { at: Math.max(at, this.at), seq: this.order++, fire, cancelled: false }
    this.due.push(timer)
    return () => {
      timer.cancelled = true
    }
  }
  override sleepUntil(at: number): Promise<void> {
    return at <= this.at ? Promise.resolve() : new Promise((resolve) => void this.schedule(at, resolve))
  }
  override sleepMillis(ms: number): Promise<void> {
    return this.sleepUntil(this.at + Math.max(0, ms))
  }
  override sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const cancel = this.schedule(this.at + Duration.toMillis(duration), () => resume(Effect.void))
      return Effect.sync(cancel)
    })
  }
  override track<A>(promise: Promise<A>): Promise<A> {
    return promise
  }
  override idle<A>(promise: Promise<A>): Promise<A> {
    return promise
  }
  override trackEffect<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return effect
  }
  override async settle(): Promise<void> {}
  override async advanceTo(target: number): Promise<void> {
    this.runTimersUntil(target)
  }
  override async advanceToNextTimer(): Promise<void> {
    const next = this.peekLive()
    if (next !== undefined) this.runTimersUntil(next.at)
  }
  override async runUntilIdle(limit = Number.POSITIVE_INFINITY): Promise<number> {
    this.runTimersUntil(limit)
    return this.at
  }

  /** Fires the next live timer due by `limit`; false when there is none. */
  fireNext(limit = Number.POSITIVE_INFINITY): boolean {
    const next = this.peekLive()
    if (next === undefined || next.at > limit) return false
    this.due.pop()
    this.at = Math.max(this.at, next.at)
    this.fired++
    next.fire()
    return true
  }

  /** Fires every timer due by `target` (timers they set included), then sets the time to `target`. */
  runTimersUntil(target: number): void {
    while (this.fireNext(target)) {}
    this.at = Math.max(this.at, target)
  }

  private peekLive(): Timer | undefined {
    let next = this.due.peek()
    while (next?.cancelled) {
      this.due.pop()
      next = this.due.peek()
    }
    return next
  }
}

export interface DriveOptions {
  /** Called now and then with the simulated time reached (about once per simulated hour). */
  readonly onTime?: (nowMillis: number) => void
}

/**
 * The drive of a simulation on `clock`: run what is ready (`drain`), and while it is not `done`, move time to the
 * next timer and fire it; `onTime` hears the time reached about once per simulated hour. False when no timer is
 * left before it is done (it waits on something outside virtual time).
 */
export const driveUntil = (
  clock: EngineClock,
  drain: () => void,
  done: () => boolean,
  options: DriveOptions = {}
): boolean => {
  let reported = clock.now()
  for (;;) {
    drain()
    if (done()) return true
    if (!clock.fireNext()) return false
    if (options.onTime !== undefined && clock.now() - reported >= 3_600_000) {
      reported = clock.now()
      options.onTime(reported)
    }
  }
}

/**
 * Runs `effect` on `clock` to completion: the fiber's ready work runs, then time moves to the next timer, and so
 * on, synchronously. Fails (a defect) if the effect waits on something that no timer will ever bring.
 */
export const run = <A, E>(
  clock: EngineClock,
  effect: Effect.Effect<A, E>,
  options: DriveOptions = {}
): Exit.Exit<A, E> => {
  const scheduler = new QueueScheduler()
  const fiber = Effect.runFork(
    effect.pipe(Effect.withClock(clock), Effect.withScheduler(scheduler), Effect.withTracerEnabled(false)),
    {
      scheduler
    }
  )
  if (
    driveUntil(
      clock,
      () => scheduler.drain(),
      () => fiber.unsafePoll() !== null,
      options
    )
  )
    return fiber.unsafePoll()!
  // Nothing ready and no timer left: the fiber waits on something outside virtual time.
  Effect.runFork(Fiber.interrupt(fiber), { scheduler })
  scheduler.drain()
  return Exit.die(
    new Error("engine: the simulation waits on something that no timer will ever bring (a Promise?)")
  )
}
