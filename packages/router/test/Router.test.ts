import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type ComputeError, ProviderRegistry } from "@hangar/core"
import {
  Context,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Layer,
  Option,
  Ref,
  Scope,
  TestClock,
  TestContext
} from "effect"
import * as IdlePolicies from "../src/IdlePolicies.js"
import * as Router from "../src/Router.js"
import * as RoutingPolicies from "../src/RoutingPolicies.js"
import * as SessionStore from "../src/SessionStore.js"
import { drive, fakes } from "./fixtures.js"

const routerWith = (
  providers: Effect.Effect.Success<ReturnType<typeof fakes>>,
  routing = RoutingPolicies.primaryOverflow(),
  idle = IdlePolicies.fixedTimeout(5),
  store: Layer.Layer<SessionStore.SessionStore, SessionStore.SessionStoreError> = SessionStore.layerMemory
) =>
  Router.layer({ instanceId: "test-router" }).pipe(
    Layer.provide(
      Layer.mergeAll(
        ProviderRegistry.layerProviders([providers.fly.provider, providers.ecs.provider]),
        routing,
        idle,
        store
      )
    )
  )

/** Builds the router in the caller's scope (closing that scope is the router's graceful shutdown). */
const buildRouter = (...args: Parameters<typeof routerWith>) =>
  Effect.map(Layer.build(routerWith(...args)), (context) => Context.get(context, Router.Router))

describe("Router", () => {
  it.scoped("dispatches a task, runs its command and reports where and why", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const router = yield* buildRouter(providers)
      const result = yield* drive(
        router.dispatch({
          taskId: "t1",
          repository: "acme/web",
          command: ["echo", "hi"],
          expectedDurationSeconds: 60
        })
      )
      assert.strictEqual(result.provider, "fly")
      assert.strictEqual(result.result.stdout, "hi\n")
      assert.include(result.decision.reason, "fly first")
      assert.isTrue(result.coldStart)
      assert.strictEqual(result.failoverHistory.length, 0)
    })
  )

  it.scoped("fails over to ECS on a capacity error and keeps the history", () =>
    Effect.gen(function* () {
      const providers = yield* fakes({ flyFull: () => true })
      const router = yield* buildRouter(providers)
      const result = yield* drive(
        router.dispatch({ taskId: "t1", repository: "acme/web", command: ["echo", "x"] })
      )
      assert.strictEqual(result.provider, "ecs")
      assert.deepStrictEqual(
        result.failoverHistory.map((a) => [a.provider, a.error]),
        [["fly", "CapacityUnavailable"]]
      )
    })
  )

  it.scoped("with both providers full, ends in a typed error carrying every attempt", () =>
    Effect.gen(function* () {
      const providers = yield* fakes({ flyFull: () => true, ecsFull: () => true })
      const router = yield* buildRouter(providers)
      const error = yield* Effect.flip(drive(router.dispatch({ taskId: "t1", repository: "acme/web" })))
      assert.strictEqual(error._tag, "CapacityUnavailable")
      if (error._tag === "CapacityUnavailable") {
        assert.deepStrictEqual(
          error.failoverHistory.map((a) => a.provider),
          ["fly", "ecs"]
        )
        assert.include(error.message, "Tried: fly")
      }
      const running = [...(yield* providers.fly.provider.list()), ...(yield* providers.ecs.provider.list())]
      assert.strictEqual(running.length, 0)
    })
  )

  it.scoped("a bad task is an InvalidRequest naming the field, and reaches no provider", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const router = yield* buildRouter(providers)
      const error = yield* Effect.flip(
        router.dispatch({ taskId: "t1", repository: "acme/web", size: "xl" as never })
      )
      assert.strictEqual(error._tag, "InvalidRequest")
      if (error._tag === "InvalidRequest") assert.strictEqual(error.field, "size")
      assert.deepStrictEqual(yield* Ref.get(providers.fly.calls), [])
    })
  )

  it.scoped("the idle policy puts the machine to sleep after its timeout, and the next task wakes it", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const router = yield* buildRouter(providers, RoutingPolicies.preferred({ defaultProvider: "fly" }))
      const first = yield* drive(
        router.dispatch({ taskId: "t1", repository: "acme/web", command: ["sleep", "10"] })
      )
      yield* TestClock.adjust("4 minutes")
      assert.strictEqual((yield* providers.fly.provider.get(first.sessionId)).status, "running")
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual((yield* providers.fly.provider.get(first.sessionId)).status, "suspended")
      const second = yield* drive(
        router.dispatch({ taskId: "t2", repository: "acme/web", command: ["echo", "again"] })
      )
      assert.strictEqual(second.result.exitCode, 0)
    })
  )

  it.scoped("every dispatched task ends with exactly one result or one typed error", () =>
    Effect.gen(function* () {
      const outcomes = yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.record({
                gpu: fc.boolean(),
                region: fc.constantFrom("iad", "edge", "syd", "mars"),
                exit: fc.integer({ min: 0, max: 3 }),
                flyFull: fc.boolean(),
                ecsFull: fc.boolean()
              }),
              { minLength: 1, maxLength: 12 }
            ),
            async (tasks) => {
              let flyFull = false
              let ecsFull = false
              const program = Effect.gen(function* () {
                const providers = yield* fakes({ flyFull: () => flyFull, ecsFull: () => ecsFull })
                const router = yield* buildRouter(providers)
                let results = 0
                let errors = 0
                for (const [i, t] of tasks.entries()) {
                  flyFull = t.flyFull
                  ecsFull = t.ecsFull
                  const exit = yield* Effect.exit(
                    drive(
                      router.dispatch({
                        taskId: `t${i}`,
                        repository: "r",
                        region: t.region,
                        requiresGpu: t.gpu,
                        command: ["exit", String(t.exit)]
                      })
                    )
                  )
                  if (Exit.isSuccess(exit)) {
                    if (exit.value.result.exitCode !== t.exit) return false
                    results++
                  } else if (Option.isSome(Exit.causeOption(exit)) && exit.cause._tag === "Fail") {
                    const error = exit.cause.error as ComputeError.ComputeError
                    if (typeof error._tag !== "string") return false
                    errors++
                  } else return false
                }
                return results + errors === tasks.length
              })
              return Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(TestContext.TestContext)))
            }
          ),
          { seed: 2026, numRuns: 40 }
        )
      )
      assert.isUndefined(outcomes)
    })
  )

  it.scoped("reconcile stops compute no live session owns, and keeps what the router owns", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const router = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "fly" }),
        IdlePolicies.platform
      )
      const owned = yield* drive(router.dispatch({ taskId: "mine", repository: "acme/web" }))
      const orphan = yield* drive(
        providers.ecs.provider.create({ taskId: "orphan", repository: "acme/lost" })
      )
      const report = yield* drive(router.reconcile())
      assert.deepStrictEqual(report.stopped, [{ provider: "ecs", sessionId: orphan.id }])
      assert.strictEqual((yield* providers.ecs.provider.get(orphan.id)).status, "stopped")
      assert.strictEqual((yield* providers.fly.provider.get(owned.sessionId)).status, "running")
    })
  )

  it.scoped("closing the router releases what it started", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const scope = yield* Scope.make()
      const router = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "fly" }),
        IdlePolicies.platform
      ).pipe(Scope.extend(scope))
      const result = yield* drive(router.dispatch({ taskId: "t1", repository: "acme/web" }))
      yield* drive(Scope.close(scope, Exit.void))
      assert.strictEqual((yield* providers.fly.provider.get(result.sessionId)).status, "suspended")
    })
  )
})

describe("SessionStore", () => {
  const record = (
    taskId: string,
    state: SessionStore.SessionState = "running"
  ): SessionStore.SessionRecord => ({
    taskId,
    sessionId: `s-${taskId}`,
    provider: "fly",
    repository: "acme/web",
    region: "iad",
    state,
    owner: "router-a",
    updatedAtMillis: 1
  })

  for (const [name, make] of [
    ["memory", () => SessionStore.layerMemory],
    [
      "sqlite",
      () => SessionStore.layerSqlite(join(mkdtempSync(join(tmpdir(), "hangar-store-")), "sessions.db"))
    ]
  ] as const) {
    it.effect(`${name}: put, get, live and session-wide state changes`, () =>
      Effect.gen(function* () {
        const store = yield* SessionStore.SessionStore
        yield* store.put(record("a"))
        yield* store.put(record("b", "released"))
        yield* store.put({ ...record("c"), sessionId: "s-a" })
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get("a")), record("a"))
        assert.isTrue(Option.isNone(yield* store.get("zzz")))
        assert.deepStrictEqual((yield* store.live()).map((r) => r.taskId).sort(), ["a", "c"])
        yield* store.setSessionState("fly", "s-a", "asleep", 5)
        assert.deepStrictEqual(
          (yield* store.live()).map((r) => r.state),
          ["asleep", "asleep"]
        )
      }).pipe(Effect.provide(make()))
    )
  }

  it.effect("sqlite: a second store on the same file sees what the first wrote", () =>
    Effect.gen(function* () {
      const file = join(mkdtempSync(join(tmpdir(), "hangar-store-")), "sessions.db")
      yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.put(record("kept"))).pipe(
        Effect.provide(SessionStore.layerSqlite(file))
      )
      const found = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.get("kept")).pipe(
        Effect.provide(SessionStore.layerSqlite(file))
      )
      assert.strictEqual(Option.getOrThrow(found).sessionId, "s-kept")
      const broken = yield* Effect.either(
        Effect.flatMap(SessionStore.SessionStore, (s) => s.live()).pipe(
          Effect.provide(SessionStore.layerSqlite("/proc/nope/x.db"))
        )
      )
      assert.isTrue(Either.isLeft(broken))
    })
  )
})
