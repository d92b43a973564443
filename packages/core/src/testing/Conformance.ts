/**
 * The suite every provider plugin must pass against its simulator. The checks are plain Effects over the
 * provider under test, so `providerConformance` can register them with Vitest and core's own tests can run
 * them against a deliberately broken fake to show that they fail.
 */
import { layer as vitestLayer } from "@effect/vitest"
import { Context, Effect, Either, Fiber, Layer, Option, Schema, TestClock } from "effect"
import * as Capabilities from "../Capabilities.js"
import type { ComputeError } from "../ComputeError.js"
import type { ComputeProvider } from "../ComputeProvider.js"
import { TaskSpec, type TaskSpecInput } from "../TaskSpec.js"

/** The provider under test. */
export class ProviderUnderTest extends Context.Tag("@hangar/core/testing/ProviderUnderTest")<
  ProviderUnderTest,
  ComputeProvider
>() {}

/** How the suite moves time for this provider. */
export interface TimeControl {
  /** Runs an effect that sleeps (on whichever clock the provider uses) to completion. */
  readonly drive: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** Lets `millis` of provider time pass with nothing else happening. */
  readonly advance: (millis: number) => Effect.Effect<void>
}

export class ConformanceTime extends Context.Tag("@hangar/core/testing/ConformanceTime")<
  ConformanceTime,
  TimeControl
>() {}

/** Time control for providers on the Effect `TestClock` (the fake provider, `it.effect`). */
export const testClockTime: TimeControl = {
  drive: (effect) =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(effect)
      for (;;) {
        yield* Effect.yieldNow()
        const done = yield* Fiber.poll(fiber)
        if (Option.isSome(done)) return yield* done.value
        yield* TestClock.adjust("1 second")
      }
    }),
  advance: (millis) => TestClock.adjust(millis)
}

export class ConformanceFailure extends Error {
  override readonly name = "ConformanceFailure"
}

const expect = (condition: boolean, message: string): Effect.Effect<void, ConformanceFailure> =>
  condition ? Effect.void : Effect.fail(new ConformanceFailure(message))

const describeError = (e: ComputeError | ConformanceFailure): string =>
  e instanceof ConformanceFailure ? e.message : `${e._tag}: ${e.message}`

export interface ConformanceOptions {
  /** Fields merged into every task the suite creates (repository, region, …). */
  readonly task?: Partial<TaskSpecInput>
}

type Check = (
  options: ConformanceOptions
) => Effect.Effect<void, ConformanceFailure | ComputeError, ProviderUnderTest | ConformanceTime>

let sequence = 0
const taskFor = (
  options: ConformanceOptions,
  name: string,
  extra: Partial<TaskSpecInput> = {}
): TaskSpecInput => ({
  taskId: `conformance-${name}-${++sequence}`,
  repository: "conformance/repo",
  ...options.task,
  ...extra
})

export const checks: Record<string, Check> = {
  "create → exec → sleep → wake → exec → destroy": (options) =>
    Effect.gen(function* () {
      const provider = yield* ProviderUnderTest
      const time = yield* ConformanceTime
      const session = yield* time.drive(provider.create(taskFor(options, "lifecycle")))
      yield* expect(session.status === "running", `a created session runs, got ${session.status}`)
      const first = yield* time.drive(provider.exec(session.id, ["echo", "hello"]))
      yield* expect(first.exitCode === 0, `echo exits 0, got ${first.exitCode}`)
      yield* expect(
        first.stdout.includes("hello"),
        `echo prints its argument, got ${JSON.stringify(first.stdout)}`
      )
      const asleep = yield* time.drive(provider.sleep(session.id))
      yield* expect(
        asleep.status === "stopped" || asleep.status === "suspended",
        `a slept session is stopped or suspended, got ${asleep.status}`
      )
      const awake = yield* time.drive(provider.start(session.id))
      yield* expect(awake.status === "running", `a woken session runs, got ${awake.status}`)
      const second = yield* time.drive(provider.exec(session.id, ["exit", "3"]))
      yield* expect(second.exitCode === 3, `exit 3 reports exit code 3, got ${second.exitCode}`)
      yield* time.drive(provider.destroy(session.id))
      const after = yield* Effect.either(time.drive(provider.get(session.id)))
      yield* expect(
        Either.isLeft(after) && after.left._tag === "SessionNotFound",
        "a destroyed session is SessionNotFound"
      )
    }),

  "usage grows only while running": (options) =>
    Effect.gen(function* () {
      const provider = yield* ProviderUnderTest
      const time = yield* ConformanceTime
      const session = yield* time.drive(provider.create(taskFor(options, "usage")))
      const u0 = yield* time.drive(provider.usage(session.id))
      yield* time.advance(60_000)
      const u1 = yield* time.drive(provider.usage(session.id))
      const runningGrowth = u1.seconds.running - u0.seconds.running
      yield* expect(runningGrowth >= 59, `60 s running adds about 60 running seconds, got ${runningGrowth}`)
      yield* expect(u1.costMicroUsd > u0.costMicroUsd, "running costs money")
      yield* time.drive(provider.sleep(session.id))
      const u2 = yield* time.drive(provider.usage(session.id))
      yield* time.advance(600_000)
      const u3 = yield* time.drive(provider.usage(session.id))
      yield* expect(
        u3.seconds.running === u2.seconds.running,
        `no running seconds accrue while asleep (${u2.seconds.running} → ${u3.seconds.running})`
      )
      const asleepGrowth = u3.costMicroUsd - u2.costMicroUsd
      const runningPerSecond = (u1.costMicroUsd - u0.costMicroUsd) / runningGrowth
      yield* expect(
        asleepGrowth < runningPerSecond * 600,
        `600 s asleep costs less than 600 s running (${asleepGrowth} µ$ vs ${Math.round(runningPerSecond * 600)} µ$)`
      )
      yield* time.drive(provider.destroy(session.id))
    }),

  "creating twice with one task id gives one session": (options) =>
    Effect.gen(function* () {
      const provider = yield* ProviderUnderTest
      const time = yield* ConformanceTime
      const task = taskFor(options, "idempotent")
      const [a, b] = yield* time.drive(
        Effect.all([provider.create(task), provider.create(task)], { concurrency: 2 })
      )
      const c = yield* time.drive(provider.create(task))
      yield* expect(
        a.id === b.id && b.id === c.id,
        `one session for one task id, got ${a.id}, ${b.id}, ${c.id}`
      )
      const listed = yield* time.drive(provider.list())
      const mine = listed.filter((s) => s.taskId === task.taskId)
      yield* expect(mine.length === 1, `the provider lists one session for the task, got ${mine.length}`)
      yield* time.drive(provider.destroy(a.id))
    }),

  "an unknown session is SessionNotFound": () =>
    Effect.gen(function* () {
      const provider = yield* ProviderUnderTest
      const time = yield* ConformanceTime
      for (const [name, call] of [
        ["get", provider.get("no-such-session")],
        ["exec", provider.exec("no-such-session", ["echo", "x"])],
        ["usage", provider.usage("no-such-session")]
      ] as const) {
        const result = yield* Effect.either(time.drive(call as Effect.Effect<unknown, ComputeError>))
        yield* expect(
          Either.isLeft(result) && result.left._tag === "SessionNotFound",
          `${name} of an unknown session fails with SessionNotFound, got ${Either.isLeft(result) ? result.left._tag : "success"}`
        )
      }
    }),

  "a bad TaskSpec is InvalidRequest naming the field": (options) =>
    Effect.gen(function* () {
      const provider = yield* ProviderUnderTest
      const time = yield* ConformanceTime
      const bad = { ...taskFor(options, "invalid"), size: "enormous" } as unknown as TaskSpecInput
      const result = yield* Effect.either(time.drive(provider.create(bad)))
      yield* expect(
        Either.isLeft(result) && result.left._tag === "InvalidRequest" && result.left.field === "size",
        `size "enormous" is InvalidRequest on "size", got ${Either.isLeft(result) ? describeError(result.left) : "success"}`
      )
    }),

  "an unsupported request is Unsupported with the plugin's reason": (options) =>
    Effect.gen(function* () {
      const provider = yield* ProviderUnderTest
      const time = yield* ConformanceTime
      const caps = provider.capabilities
      let exercised = 0
      const gpu = Capabilities.unsupportedReason(caps, "gpu")
      if (Option.isSome(gpu)) {
        exercised++
        const result = yield* Effect.either(
          time.drive(provider.create(taskFor(options, "gpu", { requiresGpu: true })))
        )
        yield* expect(
          Either.isLeft(result) &&
            result.left._tag === "Unsupported" &&
            result.left.providerReason === gpu.value,
          `a GPU task is Unsupported("${gpu.value}"), got ${Either.isLeft(result) ? describeError(result.left) : "success"}`
        )
      }
      const suspend = Capabilities.unsupportedReason(caps, "suspend")
      if (Option.isSome(suspend)) {
        exercised++
        const session = yield* time.drive(provider.create(taskFor(options, "suspend")))
        const result = yield* Effect.either(time.drive(provider.suspend(session.id)))
        yield* expect(
          Either.isLeft(result) && result.left._tag === "Unsupported",
          `suspend is Unsupported, got ${Either.isLeft(result) ? describeError(result.left) : "success"}`
        )
        yield* time.drive(provider.destroy(session.id))
      }
      yield* expect(
        exercised > 0,
        "the provider declares no unsupported GPU or suspend, so nothing was exercised"
      )
    }),

  "the cost model prices tasks and idle states it can be in": (options) =>
    Effect.gen(function* () {
      const provider = yield* ProviderUnderTest
      const model = provider.costModel
      const priced = (n: number) => Number.isFinite(n) && n >= 0
      const short = yield* decodeTask(taskFor(options, "cost", { expectedDurationSeconds: 60 }))
      const long = yield* decodeTask(taskFor(options, "cost", { expectedDurationSeconds: 3_600 }))
      const [a, b] = [model.estimate(short), model.estimate(long)]
      yield* expect(
        priced(a.costMicroUsd) && priced(a.startLatencySeconds) && a.note.length > 0,
        `an estimate is a non-negative cost and start latency with a note, got ${JSON.stringify(a)}`
      )
      yield* expect(
        b.costMicroUsd >= a.costMicroUsd,
        `an hour costs no less than a minute: ${b.costMicroUsd} µ$ < ${a.costMicroUsd} µ$`
      )
      const states = model.machineStates(short)
      yield* expect(priced(states.running), `the running price is non-negative, got ${states.running}`)
      const dormant = [states.suspended, states.stopped, states.destroyed].filter((d) => d !== undefined)
      for (const d of dormant) {
        yield* expect(
          priced(d.microUsdPerSecond) && priced(d.wakeSeconds) && priced(d.wakeBilledSeconds),
          `a sleeping state has a non-negative price and wake, got ${JSON.stringify(d)}`
        )
      }
      yield* expect(
        states.suspended === undefined || Capabilities.supports(provider.capabilities, "suspend"),
        "the cost model prices a suspended state, but the capabilities say the provider cannot suspend"
      )
      const dedicated = model.dedicated
      yield* expect(
        priced(dedicated.runMicroUsdPerSecond(short)) &&
          priced(dedicated.unitMicroUsdPerSecond(short)) &&
          dedicated.unitMicroUsdPerSecond(short) <= dedicated.runMicroUsdPerSecond(short) &&
          priced(dedicated.createSeconds) &&
          priced(dedicated.createBilledSeconds),
        "a dedicated machine's prices are non-negative, its packed share no dearer than the machine"
      )
    })
}

const decodeTask = (input: TaskSpecInput) => Effect.orDie(Schema.decodeUnknown(TaskSpec)(input))

/** Runs one named check; fails with the check's message. */
export const run = (name: string, options: ConformanceOptions = {}) =>
  Effect.suspend(() => {
    const check = checks[name]
    return check === undefined ? Effect.die(new Error(`no conformance check "${name}"`)) : check(options)
  }).pipe(Effect.mapError((e) => new ConformanceFailure(`${name}: ${describeError(e)}`)))

/**
 * Registers the conformance suite for a plugin. `layer` provides the provider under test and the time control
 * (`ConformanceTime`); for a provider on the Effect TestClock use `Layer.succeed(ConformanceTime, testClockTime)`.
 */
export const providerConformance = <E>(
  name: string,
  layer: Layer.Layer<ProviderUnderTest | ConformanceTime, E>,
  options: ConformanceOptions & { readonly timeout?: number } = {}
): void => {
  vitestLayer(layer, { timeout: options.timeout ?? 60_000 })(`${name} conformance`, (it) => {
    for (const check of Object.keys(checks)) {
      it.effect(check, () => run(check, options), options.timeout ?? 60_000)
    }
  })
}

export const layerFromTime = (time: TimeControl): Layer.Layer<ConformanceTime> =>
  Layer.succeed(ConformanceTime, time)
