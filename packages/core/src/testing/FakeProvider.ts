/**
 * An in-memory provider built through the real `ComputeProvider.make`, for tests of core, the router and the
 * bench. Time comes from the Effect `Clock` (so `TestClock` drives it), state changes are recorded as intervals
 * and usage is computed from them. Commands are scripted: `sleep N` takes N seconds, `echo …` prints,
 * `exit N` exits with N, `fail-transient` fails once with a retryable error.
 */
import { Clock, Effect, Ref } from "effect"
import { Capabilities } from "../Capabilities.js"
import { CapacityUnavailable, ProviderUnavailable, SessionNotFound } from "../ComputeError.js"
import * as ComputeProvider from "../ComputeProvider.js"
import * as CostModel from "../CostModel.js"
import * as Money from "../Money.js"
import type { Region } from "../Region.js"
import { Session, type SessionStatus } from "../Session.js"
import { TaskResult } from "../TaskResult.js"
import type { ProviderId, TaskSpec } from "../TaskSpec.js"
import * as Usage from "../Usage.js"

export interface FakeProviderOptions {
  readonly id?: string
  readonly regions?: ReadonlyArray<string>
  readonly unsupported?: Capabilities["unsupported"]
  /** Price of a running second and of a sleeping second, in micro-dollars. */
  readonly runningMicroUsdPerSecond?: number
  readonly sleepingMicroUsdPerSecond?: number
  /** Seconds from create to running. */
  readonly startSeconds?: number
  /** Fail `create` with `CapacityUnavailable` while this returns true. */
  readonly capacityExhausted?: () => boolean
  /** A broken fake, to show the conformance suite can fail: keep billing running time while asleep. */
  readonly bugAccrueWhileAsleep?: boolean
  readonly retry?: Partial<ComputeProvider.RetryPolicy>
}

interface FakeSession {
  session: Session
  readonly history: Array<Usage.StatusInterval>
}

export interface FakeProvider {
  readonly provider: ComputeProvider.ComputeProvider
  /** Calls that reached the plugin (after core's checks), for assertions. */
  readonly calls: Ref.Ref<ReadonlyArray<string>>
  /** Sessions created by the plugin, counted per task id. */
  readonly createdPerTask: Map<string, number>
}

/** What a fake session has cost: running and provisioning at `running`, asleep at `sleeping` (or, broken, running). */
const usageOf = (
  sessionId: string,
  seconds: Usage.SecondsByState,
  running: Money.Rate,
  sleeping: Money.Rate,
  options: FakeProviderOptions
): Usage.Usage => {
  const asleep = seconds.suspended + seconds.stopped
  const billedRunning = options.bugAccrueWhileAsleep ? seconds.running + asleep : seconds.running
  const shown = options.bugAccrueWhileAsleep ? { ...seconds, running: billedRunning } : seconds
  const costMicroUsd = Money.add(
    Money.cost(running, Math.round((billedRunning + seconds.provisioning) * 1000)),
    Money.cost(sleeping, Math.round(asleep * 1000))
  )
  return new Usage.Usage({ sessionId, seconds: shown, costMicroUsd })
}

export const make = (options: FakeProviderOptions = {}): Effect.Effect<FakeProvider> =>
  Effect.gen(function* () {
    const id = (options.id ?? "fake") as ProviderId
    const sessions = new Map<string, FakeSession>()
    const createdPerTask = new Map<string, number>()
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    const failedOnce = new Set<string>()
    let counter = 0
    const running = Money.rate(String(options.runningMicroUsdPerSecond ?? 10), "second")
    const sleeping = Money.rate(String(options.sleepingMicroUsdPerSecond ?? 1), "second")
    const startMillis = (options.startSeconds ?? 1) * 1000

    const record = (name: string) => Ref.update(calls, (all) => [...all, name])
    const find = (sessionId: string, method: string) =>
      Effect.suspend(() => {
        const found = sessions.get(sessionId)
        if (found === undefined || found.session.status === "destroyed") {
          return Effect.fail(
            new SessionNotFound({
              module: "FakeProvider",
              method,
              provider: id,
              sessionId,
              reason: found === undefined ? "Unknown" : "Destroyed"
            })
          )
        }
        return Effect.succeed(found)
      })
    const transition = (entry: FakeSession, status: SessionStatus) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        entry.history.push({ status, from: now })
        entry.session = new Session({ ...entry.session, status })
        return entry.session
      })

    const spi: ComputeProvider.Spi = {
      id,
      capabilities: new Capabilities({
        regions: (options.regions ?? ["iad", "lhr"]) as unknown as readonly [Region, ...Array<Region>],
        sizes: ["dev", "standard", "performance", "high-perf"],
        unsupported: options.unsupported ?? { gpu: "the fake provider has no GPUs" },
        startLatencySeconds: { cold: options.startSeconds ?? 1, warm: 0.5 }
      }),
      costModel: CostModel.flat({
        runningMicroUsdPerSecond: options.runningMicroUsdPerSecond ?? 10,
        sleepingMicroUsdPerSecond: options.sleepingMicroUsdPerSecond ?? 1,
        startSeconds: options.startSeconds ?? 1,
        wakeSeconds: 0.5,
        sleepsBy: options.unsupported?.suspend === undefined ? "suspend" : "stop"
      }),
      create: (task: TaskSpec) =>
        Effect.gen(function* () {
          yield* record(`create:${task.taskId}`)
          if (options.capacityExhausted?.()) {
            return yield* new CapacityUnavailable({
              module: "FakeProvider",
              method: "create",
              provider: id,
              reason: "InsufficientResources",
              region: task.region,
              detail: "the fake provider is configured to be full"
            })
          }
          createdPerTask.set(task.taskId, (createdPerTask.get(task.taskId) ?? 0) + 1)
          const sessionId = `${id}-${++counter}`
          const entry: FakeSession = {
            session: new Session({
              id: sessionId,
              provider: id,
              taskId: task.taskId,
              repository: task.repository,
              region: task.region,
              status: "provisioning",
              metadata: { size: task.size }
            }),
            history: []
          }
          sessions.set(sessionId, entry)
          yield* transition(entry, "provisioning")
          yield* Effect.sleep(startMillis)
          return yield* transition(entry, "running")
        }),
      get: (sessionId) => Effect.map(find(sessionId, "get"), (entry) => entry.session),
      start: (sessionId) =>
        Effect.gen(function* () {
          yield* record(`start:${sessionId}`)
          const entry = yield* find(sessionId, "start")
          if (entry.session.status === "running") return entry.session
          yield* Effect.sleep(500)
          return yield* transition(entry, "running")
        }),
      stop: (sessionId) =>
        Effect.gen(function* () {
          yield* record(`stop:${sessionId}`)
          const entry = yield* find(sessionId, "stop")
          return entry.session.status === "stopped" ? entry.session : yield* transition(entry, "stopped")
        }),
      suspend: (sessionId) =>
        Effect.gen(function* () {
          yield* record(`suspend:${sessionId}`)
          const entry = yield* find(sessionId, "suspend")
          return entry.session.status === "suspended" ? entry.session : yield* transition(entry, "suspended")
        }),
      destroy: (sessionId) =>
        Effect.gen(function* () {
          yield* record(`destroy:${sessionId}`)
          const entry = yield* find(sessionId, "destroy")
          yield* transition(entry, "destroyed")
        }),
      exec: (sessionId, command) =>
        Effect.gen(function* () {
          yield* record(`exec:${sessionId}:${command.join(" ")}`)
          const entry = yield* find(sessionId, "exec")
          if (entry.session.status !== "running") yield* spi.start(sessionId)
          const started = yield* Clock.currentTimeMillis
          const [program, ...args] = command
          if (program === "fail-transient" && !failedOnce.has(sessionId)) {
            failedOnce.add(sessionId)
            return yield* new ProviderUnavailable({
              module: "FakeProvider",
              method: "exec",
              provider: id,
              reason: "ServerError",
              status: 503,
              detail: "scripted transient failure"
            })
          }
          if (program === "sleep") yield* Effect.sleep(Number(args[0] ?? 0) * 1000)
          const stdout = program === "echo" ? `${args.join(" ")}\n` : ""
          const exitCode = program === "exit" ? Number(args[0] ?? 1) : 0
          const ended = yield* Clock.currentTimeMillis
          return new TaskResult({ exitCode, stdout, stderr: "", durationMs: ended - started })
        }),
      list: () =>
        Effect.succeed(
          [...sessions.values()].filter((e) => e.session.status !== "destroyed").map((e) => e.session)
        ),
      usage: (sessionId) =>
        Effect.gen(function* () {
          const entry = sessions.get(sessionId)
          if (entry === undefined) return yield* find(sessionId, "usage").pipe(Effect.as(undefined as never))
          const now = yield* Clock.currentTimeMillis
          return usageOf(sessionId, Usage.secondsByState(entry.history, now), running, sleeping, options)
        })
    }
    const provider = yield* ComputeProvider.make(
      spi,
      options.retry === undefined ? {} : { retry: options.retry }
    )
    return { provider, calls, createdPerTask }
  })
