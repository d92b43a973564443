/**
 * Sleep that Hangar manages, after the seed's FlyMachineManager: tasks counted per machine, a machine allowed to
 * sleep put to sleep only once none is active, and a machine a failed create woke put back to sleep.
 */
import type { ComputeError, ComputeProvider, Session, TaskResult } from "@hangar/core"
import { Clock, Effect, Fiber, Schedule } from "effect"
import { type FlyEnvironment, locked, machineIdOf, parseSessionId, wanted } from "./FlyEnvironment.js"
import { getMachine } from "./LeasesAndWaits.js"

type Provider = ComputeProvider.ComputeProvider

/** Sleeps the machine if it is allowed to and no task is active (the caller holds its lock). */
const sleepIfIdle = (
  env: FlyEnvironment,
  provider: Provider,
  sessionId: string,
  machine: string
): Effect.Effect<Session.Session, ComputeError.ComputeError> =>
  env.state.sleepAllowed.has(machine) && (env.state.active.get(machine) ?? 0) === 0
    ? provider.sleep(sessionId)
    : provider.get(sessionId)

/** Runs `change` of the session's machine under the machine's lock. */
const withMachineLock = <A, E>(
  env: FlyEnvironment,
  sessionId: string,
  change: (machine: string) => Effect.Effect<A, E>
) =>
  Effect.flatMap(parseSessionId(sessionId), ({ machine }) =>
    locked(env, machine)(Effect.suspend(() => change(machine)))
  )

/** Starts or resumes the machine and waits until it runs; takes back an earlier `allowSleep`. */
export const ensureRunning = (env: FlyEnvironment, provider: Provider, sessionId: string) =>
  withMachineLock(env, sessionId, (machine) => {
    env.state.sleepAllowed.delete(machine)
    wanted(env, machine)
    return provider.start(sessionId)
  })

/** Lets the machine sleep now if no task of it is active, else when the last active task ends. */
export const allowSleep = (env: FlyEnvironment, provider: Provider, sessionId: string) =>
  withMachineLock(env, sessionId, (machine) => {
    env.state.sleepAllowed.add(machine)
    return sleepIfIdle(env, provider, sessionId, machine)
  })

/** Tasks running on the session's machine now. */
export const activeTasks = (env: FlyEnvironment, sessionId: string): number =>
  env.state.active.get(machineIdOf(sessionId)) ?? 0

/** The end of an active task: the last one puts a machine allowed to sleep to sleep. */
const taskEnded = (env: FlyEnvironment, provider: Provider, sessionId: string, machine: string) =>
  Effect.suspend(() => {
    const left = (env.state.active.get(machine) ?? 1) - 1
    if (left === 0) env.state.active.delete(machine)
    else env.state.active.set(machine, left)
    return left === 0 && env.state.sleepAllowed.has(machine)
      ? locked(
          env,
          machine
        )(Effect.suspend(() => sleepIfIdle(env, provider, sessionId, machine))).pipe(
          Effect.tapError((e) =>
            Effect.logWarning(`allowed sleep of ${sessionId} after its last task failed: ${e.message}`)
          ),
          Effect.ignore
        )
      : Effect.void
  })

/** Wakes the session's machine if needed and runs `command` on it, counted as an active task. */
export const executeTask = (
  env: FlyEnvironment,
  provider: Provider,
  sessionId: string,
  command: ReadonlyArray<string>,
  execOptions?: ComputeProvider.ExecOptions
): Effect.Effect<TaskResult.TaskResult, ComputeError.ComputeError> =>
  Effect.flatMap(parseSessionId(sessionId), ({ machine }) =>
    Effect.acquireUseRelease(
      Effect.sync(() => env.state.active.set(machine, (env.state.active.get(machine) ?? 0) + 1)),
      () =>
        Effect.zipRight(
          locked(
            env,
            machine
          )(
            Effect.suspend(() => {
              wanted(env, machine)
              return provider.start(sessionId)
            })
          ),
          provider.exec(sessionId, command, execOptions)
        ),
      () => taskEnded(env, provider, sessionId, machine)
    )
  )

/**
 * A create that woke or made a machine and then failed puts it back to sleep, unless someone wants it now.
 * A start the create gave up on may still land later, so the machine is watched for twice the deadline and
 * put back to sleep whenever it is found running (or stopped when it is still only created).
 */
export const cleanUpAfterFailedCreate = (env: FlyEnvironment, core: ComputeProvider.Made, taskId: string) =>
  Effect.suspend(() => {
    const entry = env.state.touched.get(taskId)
    env.state.touched.delete(taskId)
    if (entry === undefined) return Effect.void
    const sessionId = `${entry.app}/${entry.machineId}`
    const unwanted = () =>
      env.state.wakes.get(entry.machineId) === entry.wake &&
      (env.state.active.get(entry.machineId) ?? 0) === 0
    // One look, as core runs a call (span, retries, deadline); a look that fails waits for the next round.
    const putBack = core
      .operation(
        "cleanUpAfterFailedCreate",
        () =>
          locked(
            env,
            entry.machineId
          )(
            Effect.gen(function* () {
              if (!unwanted()) return
              const machine = yield* getMachine(env, entry.app, entry.machineId)
              if (machine.state === "started") yield* core.sleep(sessionId)
              else if (machine.state === "created") yield* core.stop(sessionId)
            })
          ),
        { sessionId, taskId }
      )
      .pipe(Effect.ignore)
    const watch = Effect.flatMap(Clock.currentTimeMillis, (from) =>
      putBack.pipe(
        Effect.repeat({
          schedule: Schedule.spaced("30 seconds"),
          while: () =>
            Effect.map(Clock.currentTimeMillis, (now) => unwanted() && now < from + 2 * env.deadlineMillis)
        }),
        Effect.asVoid
      )
    )
    return Effect.flatMap(Effect.forkDaemon(watch), (fiber) =>
      Effect.sync(() => {
        env.state.cleanups.add(fiber)
        fiber.addObserver(() => env.state.cleanups.delete(fiber))
      })
    )
  })

/** Waits for background clean-ups. */
export const awaitCleanups = (env: FlyEnvironment): Effect.Effect<void> =>
  Effect.suspend(() => Fiber.awaitAll([...env.state.cleanups])).pipe(Effect.asVoid)
