/**
 * The simulation kernel: the Router's dispatch — failover, per-provider concurrency, session reuse, wake, idle
 * hand-off with pre-warm, and the release at shutdown — as plain calls on the engine's providers (FlyMachines,
 * EcsTasks), with no fiber per task. The routing and idle policies are the real Layers, called synchronously at
 * the moments the Router calls them; what the Router decides from their answers is `@hangar/router`'s own
 * `Dispatching` (the same functions the Router calls).
 *
 * It is the Router's engine run (`driver: "router"` in Engine.ts) without Effect's run loop: every place the
 * Router's fiber waits on something later (a model's watcher or timer, a sleep, a permit), the kernel's
 * continuation is queued, and the queue is run before time moves, in order, as Effect's scheduler runs fibers.
 * What the Router does that no number here depends on is left out: the session store's records (a simulated
 * router never crashes, so nothing reads them), reconciliation (off in the engine), logs and spans. The
 * equivalence test (test/Kernel.test.ts) holds it to the Router's engine run, row by row.
 */
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  type CostModel,
  IdlePolicy,
  RoutingPolicy,
  SeededRandom,
  TaskResult,
  type TaskSpec
} from "@hangar/core"
import { Dispatching, type Router } from "@hangar/router"
import { Cause, Context, Duration, Effect, Either, Exit, Layer, Option, Runtime, Scope } from "effect"
import { arrivalOrder } from "../Sides.js"
import type { Cancel, Done, Operation } from "./Callbacks.js"
import { driveUntil, type EngineClock } from "./EngineClock.js"

/** A provider as the kernel drives it: the operations of FlyMachines or EcsTasks. */
export interface KernelProvider {
  readonly id: TaskSpec.ProviderId
  readonly capabilities: Capabilities.Capabilities
  readonly costModel: CostModel.CostModel
  /** Creates or finds the task's session and brings it up; answers its id and whether it is running. */
  readonly create: (
    task: TaskSpec.TaskSpec,
    hangarManagesSleep: boolean
  ) => Operation<{ readonly sessionId: string; readonly running: () => boolean }>
  readonly start: (sessionId: string) => Operation<unknown>
  /** Stops the session, or suspends it where the provider can. */
  readonly sleep: (sessionId: string, action: "stop" | "suspend") => Operation<unknown>
  readonly exec: (
    sessionId: string,
    command: ReadonlyArray<string>,
    timeoutSeconds: number | undefined
  ) => Operation<TaskResult.TaskResult>
}

export interface KernelOptions {
  readonly clock: EngineClock
  readonly providers: ReadonlyArray<KernelProvider>
  readonly routing: Layer.Layer<RoutingPolicy.RoutingPolicy>
  readonly idle: Layer.Layer<IdlePolicy.IdlePolicy>
  /** As the Router's option (default 32). */
  readonly concurrencyPerProvider?: number
  readonly execTimeoutSeconds?: number
  /** Seeds the jitter of retried provider calls. */
  readonly seed?: number
}

/** Continuations ready to run at the current instant, run in order before time moves. */
class Ready {
  private queue: Array<() => void> = []
  push(continuation: () => void): void {
    this.queue.push(continuation)
  }
  drain(): void {
    while (this.queue.length > 0) {
      const ready = this.queue
      this.queue = []
      for (const continuation of ready) continuation()
    }
  }
}

/**
 * A provider's concurrency limit, as Effect's semaphore under the Router: a permit given back wakes the waiters
 * on the next turn, and each goes on, in the order it asked, on the turn after.
 */
class Permits {
  private readonly waiting: Array<() => void> = []
  constructor(
    private free: number,
    private readonly ready: Ready
  ) {}
  take(then: () => void): void {
    if (this.free > 0) {
      this.free--
      then()
    } else this.waiting.push(then)
  }
  give(): void {
    this.free++
    if (this.waiting.length === 0) return
    this.ready.push(() => {
      while (this.free > 0 && this.waiting.length > 0) {
        this.free--
        this.ready.push(this.waiting.shift()!)
      }
    })
  }
}

/** What the kernel knows of a session it holds (as the Router's `SessionActivity`), and its idle timer. */
interface Activity {
  active: number
  idleSince: number | undefined
  asleep: boolean
  timer: Cancel | undefined
}

/** Whether a policy answered at once: an `Exit` (as `Effect.succeed` and `Effect.fail` are) needs no run. */
export const atOnce = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): effect is Exit.Exit<A, E> & Effect.Effect<A, E, R> => Exit.isExit(effect)

/** Core's retry policy: the engine's providers ask for no other. */
const retryPolicy = ComputeProvider.defaultRetryPolicy
const retryDeadlineMillis = Duration.toMillis(retryPolicy.deadline)

export class Kernel {
  private readonly ready = new Ready()
  private readonly clock: EngineClock
  private readonly providers: ReadonlyMap<string, KernelProvider>
  private readonly permits: ReadonlyMap<string, Permits>
  private readonly activity = new Map<string, Activity>()
  private readonly routing: RoutingPolicy.Service
  private readonly idle: IdlePolicy.Service
  private readonly run: <A>(effect: Effect.Effect<A>) => A
  private readonly random: SeededRandom.SeededRandom
  private readonly candidates: ReadonlyArray<RoutingPolicy.Candidate>

  constructor(private readonly options: KernelOptions) {
    this.clock = options.clock
    this.providers = new Map(options.providers.map((p) => [p.id, p]))
    this.permits = new Map(
      options.providers.map((p) => [p.id, new Permits(options.concurrencyPerProvider ?? 32, this.ready)])
    )
    const scope = Effect.runSync(Scope.make())
    const runtime = Effect.runSync(
      Effect.runtime<never>().pipe(Effect.withClock(options.clock), Effect.withTracerEnabled(false))
    )
    this.run = Runtime.runSync(runtime)
    const built = this.run(
      Layer.buildWithScope(Layer.merge(options.routing, options.idle), scope)
    ) as Context.Context<RoutingPolicy.RoutingPolicy | IdlePolicy.IdlePolicy>
    this.routing = Context.unsafeGet(built, RoutingPolicy.RoutingPolicy)
    this.idle = Context.unsafeGet(built, IdlePolicy.IdlePolicy)
    this.random = SeededRandom.make(options.seed ?? 1)
    this.candidates = Dispatching.candidatesOf(options.providers)
  }

  // ---- running

  /** Runs `continuation` after what is ready now (where the Router's fiber would be resumed). */
  private later(continuation: () => void): void {
    this.ready.push(continuation)
  }

  /**
   * Starts `operation`: an answer given at once goes on at once, a later one goes on from the ready queue (as a
   * fiber resumed). Returns its cancel.
   */
  private await<A>(operation: Operation<A>, then: Done<A>): Cancel {
    let sync = true
    const cancel = operation((outcome) => (sync ? then(outcome) : this.later(() => then(outcome))))
    sync = false
    return cancel
  }

  /**
   * An exec as core runs one with a timeout: a call on a fiber of its own (it starts on the next turn), whose end
   * resumes the caller on the turn after.
   */
  private awaitForked<A>(operation: Operation<A>, then: Done<A>): Cancel {
    let cancel: Cancel | undefined
    let cancelled = false
    this.later(() => {
      if (!cancelled) cancel = this.call(operation, (outcome) => this.later(() => then(outcome)))
    })
    return () => {
      cancelled = true
      cancel?.()
    }
  }

  /** Sleeps `millis` of virtual time, then goes on from the ready queue. */
  private sleep(millis: number, then: () => void): Cancel {
    return this.clock.schedule(this.clock.now() + Math.max(0, millis), () => this.later(then))
  }

  /**
   * A provider call as core's `ComputeProvider.make` runs it: retried on retryable errors on core's schedule
   * (exponential, capped, jittered by ±20% — seeded here —, a few times, never a wait past its deadline).
   */
  private call<A>(operation: Operation<A>, then: Done<A>): Cancel {
    const startedAt = this.clock.now()
    let cancel: Cancel
    const attempt = (retries: number) => {
      cancel = this.await(operation, (outcome) => {
        if (Either.isRight(outcome) || !outcome.left.isRetryable || retries >= retryPolicy.maxRetries)
          return then(outcome)
        const jitter = 0.8 + this.random.next() * 0.4
        const delay = ComputeProvider.retryDelayMillis(retryPolicy, outcome.left, retries, jitter)
        if (this.clock.now() + delay > startedAt + retryDeadlineMillis) return then(outcome)
        cancel = this.sleep(delay, () => attempt(retries + 1))
      })
    }
    attempt(0)
    return () => cancel()
  }

  // ---- a trace

  /**
   * Dispatches every task at its arrival (`start` + its offset), waits until all are done, sleeps `tailMillis`
   * more, then releases what it holds, as `Sides.replay` and the Router's shutdown do; answers each task's exit.
   */
  replay(
    tasks: ReadonlyArray<{ readonly arrivalMillis: number; readonly spec: TaskSpec.TaskSpec }>,
    tailMillis: number,
    onTime?: (now: number) => void
  ): ReadonlyArray<Exit.Exit<Router.DispatchResult, Router.DispatchError>> {
    const { clock } = this
    const startedAt = clock.now()
    const outcomes: Array<Exit.Exit<Router.DispatchResult, Router.DispatchError>> = new Array(tasks.length)
    const order = arrivalOrder(tasks)
    let running = 0
    let arrived = false
    let finished = false
    const end = () => {
      this.sleep(tailMillis, () =>
        this.release(() => {
          finished = true
        })
      )
    }
    const arrive = (from: number) => {
      let next = from
      while (next < order.length && startedAt + tasks[order[next]!]!.arrivalMillis <= clock.now()) {
        const i = order[next++]!
        running++
        this.later(() =>
          this.dispatch(tasks[i]!.spec, (exit) => {
            outcomes[i] = exit
            if (--running === 0 && arrived) this.later(end)
          })
        )
      }
      if (next < order.length)
        clock.schedule(startedAt + tasks[order[next]!]!.arrivalMillis, () => this.later(() => arrive(next)))
      else {
        arrived = true
        if (running === 0) this.later(end)
      }
    }
    this.later(() => arrive(0))
    const done = driveUntil(
      clock,
      () => this.ready.drain(),
      () => finished,
      onTime === undefined ? {} : { onTime }
    )
    if (!done) throw new Error("kernel: the simulation waits on something that no timer will ever bring")
    return outcomes
  }

  // ---- a dispatch (the Router's Failover)

  /** A policy's answer: taken as it is when the policy gives it at once (an `Exit`), else run to its end. */
  private evaluate<A, E>(effect: Effect.Effect<A, E>): Exit.Exit<A, E> {
    return atOnce(effect) ? effect : this.run(Effect.exit(effect))
  }

  /** The routing policy's decision, or its failure (a defect of the policy is thrown). */
  private decide(
    task: TaskSpec.TaskSpec,
    excluded: ReadonlyArray<TaskSpec.ProviderId>
  ): Either.Either<RoutingPolicy.RouteDecision, ComputeError.ComputeError> {
    const exit = this.evaluate(this.routing.decide({ task, candidates: this.candidates, excluded }))
    if (Exit.isSuccess(exit)) return Either.right(exit.value)
    const error = Cause.failureOption(exit.cause)
    if (Option.isNone(error))
      throw new Error(`kernel: the routing policy failed: ${Cause.pretty(exit.cause)}`)
    return Either.left(error.value)
  }

  /** Tells a policy something (an observation, an arrival); what it answers is nothing. */
  private tell(effect: Effect.Effect<void>): void {
    const exit = this.evaluate(effect)
    if (Exit.isFailure(exit)) throw new Error(`kernel: a policy failed: ${Cause.pretty(exit.cause)}`)
  }

  private dispatch(
    task: TaskSpec.TaskSpec,
    done: (exit: Exit.Exit<Router.DispatchResult, Router.DispatchError>) => void
  ): void {
    const requestedAt = this.clock.now()
    const history: Array<ComputeError.FailoverAttempt> = []
    const excluded: Array<TaskSpec.ProviderId> = []
    const next = (): void => {
      const decided = this.decide(task, excluded)
      if (Either.isLeft(decided)) {
        done(Exit.fail(Dispatching.noProviderLeft(task, decided.left, history)))
        return
      }
      const decision = decided.right
      const provider = this.providers.get(decision.provider)
      if (provider === undefined) {
        done(
          Exit.fail(
            new ComputeError.InvalidRequest({
              module: "Kernel",
              method: "dispatch",
              field: "provider",
              expected: `one of ${[...this.providers.keys()].join(", ")}`,
              actual: decision.provider
            })
          )
        )
        return
      }
      const permits = this.permits.get(provider.id)!
      permits.take(() =>
        this.attempt(provider, task, decision, (outcome) => {
          permits.give()
          const at = this.clock.now()
          this.tell(
            this.routing.observe(
              Either.isRight(outcome)
                ? { provider: provider.id, ok: true, atMillis: at }
                : { provider: provider.id, ok: false, error: outcome.left._tag, atMillis: at }
            )
          )
          if (Either.isRight(outcome)) {
            // Field by field: spreading the attempt's result was a few percent of a run.
            const ran = outcome.right
            return done(
              Exit.succeed({
                taskId: ran.taskId,
                provider: ran.provider,
                sessionId: ran.sessionId,
                decision: ran.decision,
                result: ran.result,
                coldStart: ran.coldStart,
                startedAtMillis: ran.startedAtMillis,
                finishedAtMillis: ran.finishedAtMillis,
                failoverHistory: history,
                startLatencyMillis: ran.startedAtMillis - requestedAt
              })
            )
          }
          const error = outcome.left
          history.push({ provider: provider.id, error: error._tag, message: error.message })
          if (!Dispatching.failsOver(error)) return done(Exit.fail(Dispatching.finalError(error, history)))
          excluded.push(provider.id)
          next()
        })
      )
    }
    next()
  }

  // ---- an attempt (the Router's DispatchAttempt)

  private attempt(
    provider: KernelProvider,
    task: TaskSpec.TaskSpec,
    decision: RoutingPolicy.RouteDecision,
    done: Done<Dispatching.AttemptResult>
  ): void {
    const dispatchedAt = this.clock.now()
    const problem = Capabilities.check(provider.id, provider.capabilities, task, "create")
    if (Option.isSome(problem)) {
      done(Either.left(problem.value))
      return
    }
    this.call(provider.create(task, this.idle.name !== "platform"), (created) => {
      if (Either.isLeft(created)) return done(Either.left(created.left))
      const { sessionId } = created.right
      const running = created.right.running()
      const key = `${provider.id}/${sessionId}`
      const timer = this.activity.get(key)?.timer
      const hold = () => {
        const known = this.activity.get(key)
        const coldStart = Dispatching.coldStart(known, running)
        if (known?.idleSince !== undefined && known.active === 0)
          this.tell(
            this.idle.onArrival({
              repository: task.repository,
              provider: provider.id,
              idleGapMillis: Math.max(0, dispatchedAt - known.idleSince),
              atMillis: dispatchedAt
            })
          )
        const entry: Activity = known ?? { active: 0, idleSince: undefined, asleep: false, timer: undefined }
        entry.active++
        this.activity.set(key, entry)
        this.runOn(provider, task, sessionId, running, entry, (ran) => {
          this.finishOn(provider, task, sessionId, entry)
          done(
            Either.map(ran, ({ result, startedAt }) => ({
              taskId: task.taskId,
              provider: provider.id,
              sessionId,
              decision,
              result,
              coldStart,
              startedAtMillis: startedAt,
              finishedAtMillis: this.clock.now()
            }))
          )
        })
      }
      if (timer === undefined) return hold()
      // The Router interrupts the session's idle timer (at once) and waits for it to end: two turns.
      timer()
      const entry = this.activity.get(key)
      if (entry?.timer === timer) entry.timer = undefined
      this.later(() => this.later(hold))
    })
  }

  /** Starts the session if it is not running, then runs the task's command on it. */
  private runOn(
    provider: KernelProvider,
    task: TaskSpec.TaskSpec,
    sessionId: string,
    running: boolean,
    entry: Activity,
    done: Done<{ readonly result: TaskResult.TaskResult; readonly startedAt: number }>
  ): void {
    const started = () => {
      entry.asleep = false
      const startedAt = this.clock.now()
      if (task.command === undefined)
        return done(
          Either.right({
            result: new TaskResult.TaskResult({ exitCode: 0, stdout: "", stderr: "", durationMs: 0 }),
            startedAt
          })
        )
      const timeoutSeconds = this.options.execTimeoutSeconds
      const exec = provider.exec(sessionId, task.command, timeoutSeconds)
      const ran: Done<TaskResult.TaskResult> = (result) =>
        done(Either.map(result, (r) => ({ result: r, startedAt })))
      if (timeoutSeconds === undefined) this.call(exec, ran)
      else this.awaitForked(exec, ran)
    }
    if (running) started()
    else
      this.call(provider.start(sessionId), (outcome) =>
        Either.isLeft(outcome) ? done(Either.left(outcome.left)) : started()
      )
  }

  /** The task is done with the session: handed to the idle policy if no other task holds it. */
  private finishOn(
    provider: KernelProvider,
    task: TaskSpec.TaskSpec,
    sessionId: string,
    entry: Activity
  ): void {
    entry.active--
    if (entry.active > 0) return
    const now = this.clock.now()
    entry.idleSince = now
    const decided = this.evaluate(this.idle.onIdle(Dispatching.idleInput(provider, sessionId, task, now)))
    if (Exit.isFailure(decided))
      throw new Error(`kernel: the idle policy failed: ${Cause.pretty(decided.cause)}`)
    const decision = decided.value
    if (decision.action === "keep" || decision.action === "platform") return
    this.idleTimer(provider, sessionId, entry, decision, decision.action)
  }

  // ---- idle timers (the Router's IdleHandOff)

  /**
   * Sleep after the decision's timeout, then pre-warm and sleep again if it says so. `entry.timer` interrupts it,
   * as the Router interrupts the timer's fiber: at once, so that none of its steps runs afterwards, even one
   * already on the ready queue.
   */
  private idleTimer(
    provider: KernelProvider,
    sessionId: string,
    entry: Activity,
    decision: IdlePolicy.IdleDecision,
    action: "stop" | "suspend"
  ): void {
    let interrupted = false
    let cancel: Cancel = () => {}
    const interrupt = () => {
      interrupted = true
      cancel()
    }
    /** A step of the timer, skipped once it is interrupted. */
    const step =
      <A extends ReadonlyArray<unknown>>(f: (...args: A) => void) =>
      (...args: A) => {
        if (!interrupted) f(...args)
      }
    const ended = () => {
      if (entry.timer === interrupt) entry.timer = undefined
    }
    const canSuspend = provider.capabilities.unsupported.suspend === undefined
    const sleepAction = action === "suspend" && canSuspend ? "suspend" : "stop"
    const putToSleep = (then: () => void) => {
      cancel = this.call(
        provider.sleep(sessionId, sleepAction),
        step((outcome) => {
          if (Either.isLeft(outcome)) return ended()
          entry.asleep = true
          then()
        })
      )
    }
    const prewarm = () => {
      if (decision.prewarmAfterMillis === undefined) return ended()
      cancel = this.sleep(
        Math.max(0, decision.prewarmAfterMillis - decision.afterMillis),
        step(() => {
          cancel = this.call(
            provider.start(sessionId),
            step((outcome) => {
              if (Either.isLeft(outcome)) return ended()
              entry.asleep = false
              cancel = this.sleep(
                decision.prewarmKeepAliveMillis ?? 0,
                step(() => putToSleep(ended))
              )
            })
          )
        })
      )
    }
    // As the Router's timer map: a new timer for the session interrupts the one it had.
    entry.timer?.()
    entry.timer = interrupt
    // The timer is a fiber the Router forks: it starts on the next turn.
    this.later(
      step(
        () =>
          (cancel = this.sleep(
            decision.afterMillis,
            step(() => putToSleep(prewarm))
          ))
      )
    )
  }

  /**
   * The Router's shutdown: idle timers interrupted, then every session it holds put to sleep, one after another
   * (a loop while the answers come at once: a month leaves thousands of ECS sessions whose task already stopped).
   */
  private release(then: () => void): void {
    for (const entry of this.activity.values()) {
      entry.timer?.()
      entry.timer = undefined
    }
    const held = [...this.activity]
    let index = 0
    const next = (): void => {
      while (index < held.length) {
        const [key, entry] = held[index++]!
        const slash = key.indexOf("/")
        const provider = this.providers.get(key.slice(0, slash))
        if (provider === undefined || entry.asleep) continue
        const canSuspend = provider.capabilities.unsupported.suspend === undefined
        let waiting = false
        let answered = false
        this.call(provider.sleep(key.slice(slash + 1), canSuspend ? "suspend" : "stop"), (outcome) => {
          if (Either.isRight(outcome)) entry.asleep = true
          answered = true
          if (waiting) next()
        })
        if (!answered) {
          waiting = true
          return
        }
      }
      then()
    }
    next()
  }
}
