import { assert, describe, it } from "@effect/vitest"
import {
  Clock,
  Deferred,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberRef,
  Option,
  Random,
  TestClock,
  Tracer
} from "effect"
import { Capabilities } from "../src/Capabilities.js"
import { InvalidRequest, ProviderUnavailable, RateLimited, Timeout } from "../src/ComputeError.js"
import * as ComputeProvider from "../src/ComputeProvider.js"
import * as CostModel from "../src/CostModel.js"
import * as Deadline from "../src/internal/Deadline.js"
import * as Retry from "../src/internal/Retry.js"
import { Session } from "../src/Session.js"
import { TaskResult } from "../src/TaskResult.js"
import type { ProviderId } from "../src/TaskSpec.js"
import { Usage } from "../src/Usage.js"
import * as VirtualClock from "../src/VirtualClock.js"

const capabilities = new Capabilities({
  regions: ["iad" as never],
  sizes: ["dev", "standard"],
  unsupported: { gpu: "no GPUs here" },
  startLatencySeconds: { cold: 1, warm: 0 }
})

/** A plugin whose `get` fails with the given errors in turn, then succeeds. */
const scripted = (failures: ReadonlyArray<unknown>) => {
  let calls = 0
  const session = new Session({
    id: "s-1",
    provider: "scripted" as ProviderId,
    taskId: "t-1" as never,
    repository: "r" as never,
    region: "iad" as never,
    status: "running",
    metadata: {}
  })
  const spi: ComputeProvider.Spi = {
    id: "scripted" as ProviderId,
    capabilities,
    costModel: CostModel.flat({
      runningMicroUsdPerSecond: 1,
      sleepingMicroUsdPerSecond: 0,
      startSeconds: 1,
      wakeSeconds: 1,
      sleepsBy: "stop"
    }),
    create: () =>
      Effect.sync(() => {
        calls++
        return session
      }).pipe(Effect.delay("1 second")),
    get: () =>
      Effect.suspend(() => {
        const failure = failures[calls++]
        return failure === undefined ? Effect.succeed(session) : Effect.fail(failure)
      }),
    start: () => Effect.succeed(session),
    stop: () => Effect.succeed(session),
    destroy: () => Effect.void,
    exec: () => Effect.succeed(new TaskResult({ exitCode: 0, stdout: "", stderr: "", durationMs: 0 })),
    list: () => Effect.succeed([session]),
    usage: () =>
      Effect.succeed(
        new Usage({
          sessionId: "s-1",
          seconds: { provisioning: 0, running: 0, suspended: 0, stopped: 0 },
          costMicroUsd: 0 as never
        })
      )
  }
  return { spi, calls: () => calls }
}

const serverError = new ProviderUnavailable({
  module: "Test",
  method: "get",
  reason: "ServerError",
  status: 503,
  detail: "try again"
})

/** Runs `effect` while moving the TestClock forward until it completes; returns the result and elapsed ms. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(Effect.either(effect))
    for (let i = 0; i < 10_000; i++) {
      yield* TestClock.adjust("100 millis")
      const poll = yield* Fiber.poll(fiber)
      if (poll._tag === "Some") break
    }
    const result = yield* Fiber.join(fiber)
    return { result, elapsed: (yield* Clock.currentTimeMillis) - start }
  })

describe("ComputeProvider.make", () => {
  it.effect("retries k < n retryable failures and then succeeds", () =>
    Effect.gen(function* () {
      const plugin = scripted([serverError, serverError, serverError])
      const provider = yield* ComputeProvider.make(plugin.spi, { retry: { maxRetries: 5 } })
      const { result } = yield* timed(provider.get("s-1"))
      assert.isTrue(Either.isRight(result))
      assert.strictEqual(plugin.calls(), 4)
    })
  )

  it.effect("gives up after maxRetries retryable failures with the last error", () =>
    Effect.gen(function* () {
      const plugin = scripted(Array(10).fill(serverError))
      const provider = yield* ComputeProvider.make(plugin.spi, { retry: { maxRetries: 2 } })
      const { result } = yield* timed(provider.get("s-1"))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "ProviderUnavailable")
      assert.strictEqual(plugin.calls(), 3)
    })
  )

  it.effect("fails at once on a non-retryable failure", () =>
    Effect.gen(function* () {
      const invalid = new InvalidRequest({ module: "Test", method: "get", field: "id", expected: "an id" })
      const plugin = scripted([invalid, invalid])
      const provider = yield* ComputeProvider.make(plugin.spi)
      const { result, elapsed } = yield* timed(provider.get("s-1"))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "InvalidRequest")
      assert.strictEqual(plugin.calls(), 1)
      assert.isBelow(elapsed, 200)
    })
  )

  it.effect("honours the deadline: no retry waits past it", () =>
    Effect.gen(function* () {
      const plugin = scripted(Array(100).fill(serverError))
      const provider = yield* ComputeProvider.make(plugin.spi, {
        retry: { maxRetries: 100, baseDelay: "1 second", maxDelay: "4 seconds", deadline: "10 seconds" }
      })
      const { result, elapsed } = yield* timed(provider.get("s-1"))
      assert.isTrue(Either.isLeft(result))
      assert.isAtMost(elapsed, 10_100)
      assert.isAbove(plugin.calls(), 2)
    })
  )

  it.effect("waits at least retry-after before retrying a rate limit", () =>
    Effect.gen(function* () {
      const limited = new RateLimited({
        module: "Test",
        method: "get",
        reason: "TooManyRequests",
        retryAfterMillis: 7_000
      })
      const plugin = scripted([limited])
      const provider = yield* ComputeProvider.make(plugin.spi, { retry: { baseDelay: "10 millis" } })
      const { result, elapsed } = yield* timed(provider.get("s-1"))
      assert.isTrue(Either.isRight(result))
      assert.isAtLeast(elapsed, 7_000)
    })
  )

  it.effect("normalises unknown failures into ProviderUnavailable", () =>
    Effect.gen(function* () {
      const plugin = scripted([new TypeError("socket hang up")])
      const provider = yield* ComputeProvider.make(plugin.spi, { retry: { maxRetries: 0 } })
      const result = yield* Effect.either(provider.get("s-1"))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "ProviderUnavailable")
      if (Either.isLeft(result)) assert.include(result.left.message, "socket hang up")
    })
  )

  it.effect("creates one session for concurrent creates of one task id", () =>
    Effect.gen(function* () {
      const plugin = scripted([])
      const provider = yield* ComputeProvider.make(plugin.spi)
      const task = { taskId: "t-1", repository: "r", size: "dev" as const }
      const fiber = yield* Effect.fork(
        Effect.all([provider.create(task), provider.create(task)], { concurrency: 2 })
      )
      yield* TestClock.adjust("2 seconds")
      const [a, b] = yield* Fiber.join(fiber)
      assert.strictEqual(a.id, b.id)
      assert.strictEqual(plugin.calls(), 1)
    })
  )

  it.effect("rejects a task the capabilities exclude, naming the field or the reason", () =>
    Effect.gen(function* () {
      const provider = yield* ComputeProvider.make(scripted([]).spi)
      const region = yield* Effect.flip(
        provider.create({ taskId: "t", repository: "r", region: "syd", size: "dev" })
      )
      assert.strictEqual(region._tag, "InvalidRequest")
      if (region._tag === "InvalidRequest") {
        assert.strictEqual(region.field, "region")
        assert.include(region.expected, "iad")
      }
      const gpu = yield* Effect.flip(
        provider.create({ taskId: "t", repository: "r", size: "dev", requiresGpu: true })
      )
      assert.strictEqual(gpu._tag, "Unsupported")
      if (gpu._tag === "Unsupported") assert.strictEqual(gpu.providerReason, "no GPUs here")
      const suspend = yield* Effect.flip(provider.suspend("s-1"))
      assert.strictEqual(suspend._tag, "Unsupported")
    })
  )

  it.effect("names the offending field of a bad TaskSpec", () =>
    Effect.gen(function* () {
      const provider = yield* ComputeProvider.make(scripted([]).spi)
      const error = yield* Effect.flip(
        provider.create({ taskId: "t", repository: "r", expectedDurationSeconds: -5 })
      )
      assert.strictEqual(error._tag, "InvalidRequest")
      if (error._tag === "InvalidRequest") {
        assert.strictEqual(error.field, "expectedDurationSeconds")
        assert.include(error.expected, "positive")
      }
    })
  )

  it.effect("retry builds its schedule lazily but decides as Effect.retry on the same schedule does", () =>
    Effect.gen(function* () {
      const limited = new RateLimited({
        module: "Test",
        method: "get",
        reason: "TooManyRequests",
        retryAfterMillis: 3_000
      })
      const invalid = new InvalidRequest({ module: "Test", method: "get", field: "id", expected: "an id" })
      const cases: ReadonlyArray<ReadonlyArray<unknown>> = [
        [],
        [serverError, serverError],
        [limited, serverError, limited],
        [serverError, invalid, serverError],
        Array(20).fill(serverError)
      ]
      const policy = { ...ComputeProvider.defaultRetryPolicy, maxRetries: 6, deadline: "20 seconds" as const }
      for (const [index, failures] of cases.entries()) {
        const outcomes = []
        for (const lazy of [true, false]) {
          const plugin = scripted(failures)
          const attempt = plugin.spi.get("s-1") as Effect.Effect<Session, ProviderUnavailable>
          const run = Effect.flatMap(Clock.currentTimeMillis, (startedAt) =>
            lazy
              ? Retry.retry(attempt, policy, startedAt)
              : Effect.retry(attempt, ComputeProvider.retrySchedule(policy, startedAt))
          )
          const { result, elapsed } = yield* timed(Effect.withRandom(run, Random.make(index)))
          outcomes.push({ ok: Either.isRight(result), calls: plugin.calls(), elapsed })
        }
        assert.deepStrictEqual(outcomes[0], outcomes[1], `case ${index}`)
      }
    })
  )
})

describe("withDeadline (core internal)", () => {
  const late = () => "late" as const

  it.effect("gives the work's result when it ends first, on a virtual clock", () =>
    Effect.gen(function* () {
      const clock = new VirtualClock.VirtualClock()
      const result = yield* VirtualClock.drive(
        clock,
        Deadline.withDeadline(Effect.as(Effect.sleep("4 seconds"), "done"), 5_000, late)
      )
      assert.strictEqual(result, "done")
      assert.strictEqual(clock.now() - Date.UTC(2026, 0, 1), 4_000)
    })
  )

  it.effect("fails at the deadline at once and interrupts the work in the background", () =>
    Effect.gen(function* () {
      const clock = new VirtualClock.VirtualClock()
      const interrupted = yield* Deferred.make<void>()
      const work = Effect.sleep("1 minute").pipe(
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      const result = yield* VirtualClock.drive(clock, Effect.either(Deadline.withDeadline(work, 5_000, late)))
      assert.deepStrictEqual(result, Either.left("late"))
      assert.strictEqual(clock.now() - Date.UTC(2026, 0, 1), 5_000)
      yield* Deferred.await(interrupted)
    })
  )

  it.effect("keeps the work's own failure, and interrupting the caller interrupts the work", () =>
    Effect.gen(function* () {
      const failed = yield* Effect.either(Deadline.withDeadline(Effect.fail("boom"), 5_000, late))
      assert.deepStrictEqual(failed, Either.left("boom"))
      const interrupted = yield* Deferred.make<void>()
      const work = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      const caller = yield* Effect.fork(Deadline.withDeadline(work, 60_000, late))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(caller)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* Deferred.await(interrupted)
    })
  )

  it.live(
    "on Effect's own clock: the work's result when it ends first, else the failure at the deadline",
    () =>
      Effect.gen(function* () {
        assert.strictEqual(yield* Deadline.withDeadline(Effect.succeed("done"), 60_000, late), "done")
        const interrupted = yield* Deferred.make<void>()
        const work = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
        assert.deepStrictEqual(
          yield* Effect.either(Deadline.withDeadline(work, 20, late)),
          Either.left("late")
        )
        yield* Deferred.await(interrupted)
      })
  )

  it.effect("times out on a clock without its own scheduler (TestClock)", () =>
    Effect.gen(function* () {
      const caller = yield* Effect.fork(Effect.either(Deadline.withDeadline(Effect.never, 5_000, late)))
      yield* TestClock.adjust("4999 millis")
      assert.isTrue((yield* Fiber.poll(caller))._tag === "None")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(caller), Either.left("late"))
    })
  )
})

describe("ComputeProvider.make with a deadline", () => {
  const onTimeout = (method: string, millis: number) =>
    new Timeout({ module: "Test", method, provider: "scripted", reason: "Deadline", timeoutMillis: millis })
  const deadline = { millis: 10_000, execMillis: 60_000, onTimeout }

  it.effect("bounds a call, its retries included, and shows the SPI the instant it must end by", () =>
    Effect.gen(function* () {
      const seen: Array<number> = []
      const { spi } = scripted([])
      const provider = yield* ComputeProvider.make(
        {
          ...spi,
          // Fails retryably every time: the retries (1 s, 2 s, 4 s, …) would go on past the 10 s deadline.
          get: () =>
            Effect.flatMap(FiberRef.get(ComputeProvider.callDeadlineAt), (at) => {
              seen.push(at)
              return Effect.fail(
                new ProviderUnavailable({
                  module: "Test",
                  method: "get",
                  provider: "scripted",
                  reason: "ServerError",
                  detail: "503"
                })
              )
            }),
          exec: () =>
            Effect.flatMap(FiberRef.get(ComputeProvider.callDeadlineAt), (at) =>
              Effect.succeed(new TaskResult({ exitCode: 0, stdout: String(at), stderr: "", durationMs: 0 }))
            )
        },
        {
          retry: { maxRetries: 100, baseDelay: "1 second", maxDelay: "8 seconds", deadline: "1 hour" },
          deadline
        }
      )
      const clock = new VirtualClock.VirtualClock()
      const start = clock.now()
      const result = yield* VirtualClock.drive(clock, Effect.either(provider.get("s-1")))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "Timeout")
      if (Either.isLeft(result) && result.left._tag === "Timeout") {
        assert.strictEqual(result.left.method, "get")
        assert.strictEqual(result.left.timeoutMillis, 10_000)
      }
      assert.strictEqual(clock.now() - start, 10_000)
      assert.isAbove(seen.length, 2)
      assert.deepStrictEqual([...new Set(seen)], [start + 10_000])
      // Outside a call nothing is set; an exec is bounded by its own timeout plus the deadline, or by `execMillis`.
      assert.strictEqual(yield* FiberRef.get(ComputeProvider.callDeadlineAt), Number.POSITIVE_INFINITY)
      const execAt = (options?: ComputeProvider.ExecOptions) =>
        VirtualClock.drive(
          clock,
          Effect.map(provider.exec("s-1", ["true"], options), (r) => Number(r.stdout) - clock.now())
        )
      assert.strictEqual(yield* execAt(), 60_000)
      assert.strictEqual(yield* execAt({ timeoutSeconds: 5 }), 15_000)
    })
  )

  it.effect("runs a plugin's own operation with the span, retries and deadline of a call", () =>
    Effect.gen(function* () {
      const { spi } = scripted([])
      const provider = yield* ComputeProvider.make(spi, {
        retry: { maxRetries: 100, baseDelay: "1 second", maxDelay: "8 seconds", deadline: "1 hour" },
        deadline
      })
      let attempts = 0
      const flaky = provider.operation("metrics", () =>
        Effect.suspend(
          (): Effect.Effect<{ span: string; attempts: number }, unknown> =>
            ++attempts < 3
              ? Effect.fail(serverError)
              : Effect.map(Effect.orDie(Effect.currentSpan), (span) => ({ span: span.name, attempts }))
        )
      )
      const clock = new VirtualClock.VirtualClock()
      const ok = yield* VirtualClock.drive(clock, flaky)
      assert.deepStrictEqual(ok, { span: "ComputeProvider.metrics", attempts: 3 })
      const never = provider.operation("clusterCost", () => Effect.never)
      const start = clock.now()
      const late = yield* VirtualClock.drive(clock, Effect.either(never))
      assert.isTrue(Either.isLeft(late) && late.left._tag === "Timeout" && late.left.method === "clusterCost")
      assert.strictEqual(clock.now() - start, 10_000)
    })
  )

  for (const bounded of [false, true]) {
    it.effect(
      `makes the call's span the parent of what the call does (${bounded ? "with" : "without"} a deadline)`,
      () =>
        Effect.gen(function* () {
          const { spi } = scripted([])
          // The span current inside the plugin's method, which is the parent of any span the plugin makes.
          const parents: Record<string, Tracer.AnySpan | undefined> = {}
          const spanOf = (method: string) =>
            Effect.map(Effect.option(Effect.currentSpan), (span) => {
              parents[method] = Option.getOrUndefined(span)
            })
          const provider = yield* ComputeProvider.make(
            {
              ...spi,
              create: (task) => Effect.zipRight(spanOf("create"), spi.create(task)),
              get: (id) => Effect.zipRight(spanOf("get"), spi.get(id))
            },
            bounded ? { deadline } : {}
          )
          const ended: Array<Tracer.Span> = []
          const tracer = yield* Effect.tracer
          const recording = Tracer.make({
            span: (...args) => {
              const span = tracer.span(...args)
              const end = span.end.bind(span)
              span.end = (time, exit) => {
                end(time, exit)
                ended.push(span)
              }
              return span
            },
            context: tracer.context
          })
          const clock = new VirtualClock.VirtualClock()
          yield* VirtualClock.drive(
            clock,
            Effect.gen(function* () {
              yield* provider.get("s-1")
              yield* provider.create({ taskId: "t-1", repository: "acme/app", size: "dev", region: "iad" })
            }).pipe(Effect.withSpan("caller"), Effect.withTracer(recording))
          )
          const named = (name: string) => ended.find((span) => span.name === name)
          const caller = named("caller")
          assert.isDefined(caller)
          assert.strictEqual(
            parents.get?._tag === "Span" ? parents.get.name : undefined,
            "ComputeProvider.get"
          )
          assert.strictEqual(
            named("ComputeProvider.get")?.parent.pipe(Option.getOrUndefined)?.spanId,
            caller?.spanId
          )
          assert.strictEqual(
            parents.create?._tag === "Span" ? parents.create.name : undefined,
            "ComputeProvider.create"
          )
          assert.strictEqual(
            named("ComputeProvider.create")?.parent.pipe(Option.getOrUndefined)?.spanId,
            named("ComputeProvider.createSession")?.spanId
          )
          assert.strictEqual(
            named("ComputeProvider.createSession")?.parent.pipe(Option.getOrUndefined)?.spanId,
            caller?.spanId
          )
          // Every span ended, each once.
          assert.deepStrictEqual(ended.map((span) => span.name).sort(), [
            "ComputeProvider.create",
            "ComputeProvider.createSession",
            "ComputeProvider.get",
            "caller"
          ])
        })
    )
  }
})
