/** Waiting for a task to settle (RUNNING, STOPPED) by looking at it again on an Effect `Schedule`. */
import { Clock, type Duration, Effect, Option, Schedule } from "effect"

/**
 * The delays between DescribeTasks polls of a task starting or stopping: 2 s doubling up to `cap`. AWS's advice
 * after RunTask is exponential backoff "starting with a couple of seconds" (the SDK's RunTaskCommand
 * documentation; a start on a warm instance with the image cached takes a few seconds).
 */
export const backoff = (cap: Duration.DurationInput): Schedule.Schedule<unknown> =>
  Schedule.exponential("2 seconds").pipe(Schedule.union(Schedule.spaced(cap)))

/**
 * Looks until a look settles (answers `Some`): `first` is the first look (a request, or what an answer just
 * showed), then `next` after each of `schedule`'s delays. A look that has not settled once more than
 * `deadlineMillis` have passed since the first fails with `onDeadline()`; a look may fail by itself.
 */
export const untilSettled = <A, E>(options: {
  readonly first: Effect.Effect<Option.Option<A>, E>
  readonly next: Effect.Effect<Option.Option<A>, E>
  readonly schedule: Schedule.Schedule<unknown>
  readonly deadlineMillis: number
  readonly onDeadline: () => E
}): Effect.Effect<A, E> =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const withinDeadline = (seen: Option.Option<A>): Effect.Effect<Option.Option<A>, E> =>
      Option.isSome(seen)
        ? Effect.succeed(seen)
        : Effect.flatMap(Clock.currentTimeMillis, (now) =>
            now - started > options.deadlineMillis ? Effect.fail(options.onDeadline()) : Effect.succeed(seen)
          )
    let looks = 0
    const look = Effect.suspend(() => (looks++ === 0 ? options.first : options.next)).pipe(
      Effect.flatMap(withinDeadline)
    )
    const whileUnsettled = Schedule.whileInput(
      options.schedule as Schedule.Schedule<unknown, Option.Option<A>>,
      Option.isNone
    )
    const settled = yield* Effect.repeat(look, Schedule.passthrough(whileUnsettled))
    return Option.getOrThrow(settled)
  })
