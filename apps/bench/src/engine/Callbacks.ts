/**
 * The engine's providers do their work as plain calls on the simulators' models that answer through a callback:
 * at once when nothing has to wait, or later from a model's timer or watcher. Two callers drive them: core's
 * `ComputeProvider.make` through `toEffect` (the Router's engine run), and the simulation kernel (Kernel.ts)
 * directly, with no fiber.
 */
import type { ComputeError } from "@hangar/core"
import { Effect, Either } from "effect"

export type Outcome<A> = Either.Either<A, ComputeError.ComputeError>
export type Done<A> = (outcome: Outcome<A>) => void
/** Gives up an operation under way: its callback is not called afterwards. */
export type Cancel = () => void
/** Starts the work; `done` hears its outcome exactly once unless the returned `Cancel` is called first. */
export type Operation<A> = (done: Done<A>) => Cancel

export const noCancel: Cancel = () => {}

/**
 * A failure the simulation answers with (a task with no capacity, a wait that timed out): data for the run's
 * outcome, made without a stack trace, which nobody reads and which costs more than the rest of the error.
 */
export const simulated = <E>(make: () => E): E => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}

export const succeed = <A>(done: Done<A>, value: A): Cancel => {
  done(Either.right(value))
  return noCancel
}

export const fail = <A>(done: Done<A>, error: ComputeError.ComputeError): Cancel => {
  done(Either.left(error))
  return noCancel
}

/** `next` on the value of `first`; a failure of `first` is the outcome. Either step may cancel the whole. */
export const andThen =
  <A, B>(first: Operation<A>, next: (value: A, done: Done<B>) => Cancel): Operation<B> =>
  (done) => {
    let cancelNext: Cancel | undefined
    const cancelFirst = first((outcome) => {
      if (Either.isLeft(outcome)) done(Either.left(outcome.left))
      else cancelNext = next(outcome.right, done)
    })
    return () => (cancelNext ?? cancelFirst)()
  }

/**
 * `simulated` failures by a key (their detail): each made once and then shared, as a failure is an immutable
 * value; at most `bound` are kept.
 */
export const simulatedOnce = <E>(make: (key: string) => E, bound = 256): ((key: string) => E) => {
  const made = new Map<string, E>()
  return (key) => {
    let error = made.get(key)
    if (error === undefined) {
      if (made.size >= bound) made.clear()
      error = simulated(() => make(key))
      made.set(key, error)
    }
    return error
  }
}

/** The operation, its value mapped by `f`. */
export const map =
  <A, B>(f: (a: A) => B) =>
  (operation: Operation<A>): Operation<B> =>
  (done) =>
    operation((outcome) => done(Either.map(outcome, f)))

/**
 * An operation as an Effect: an answer given at once continues the fiber at once (as `Effect.succeed` would), a
 * later one resumes it (as `Effect.async`); interrupting the fiber cancels the operation.
 */
export const toEffect = <A>(operation: Operation<A>): Effect.Effect<A, ComputeError.ComputeError> =>
  Effect.suspend(() => {
    let early: Outcome<A> | undefined
    let resume: Done<A> | undefined
    const cancel = operation((outcome) => {
      if (resume === undefined) early = outcome
      else resume(outcome)
    })
    if (early !== undefined) return early
    return Effect.async<A, ComputeError.ComputeError>((resumeFiber) => {
      resume = resumeFiber
      return Effect.sync(cancel)
    })
  })
