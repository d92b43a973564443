import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { ComputeError, ProviderRegistry } from "@hangar/core"
import {
  Context,
  Effect,
  Either,
  Exit,
  Fiber,
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
import { SqliteSessionStore } from "../src/sqlite/index.js"
import { drive, fakes } from "./fixtures.js"

const routerWith = (
  providers: Effect.Effect.Success<ReturnType<typeof fakes>>,
  routing = RoutingPolicies.primaryOverflow({ primary: "fly", overflow: "ecs" }),
  idle = IdlePolicies.fixedTimeout(5),
  store: Layer.Layer<SessionStore.SessionStore, SessionStore.SessionStoreError> = SessionStore.layerMemory,
  options: Router.RouterOptions = {}
) =>
  Router.layer({ instanceId: "test-router", ...options }).pipe(
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

  it.scoped("the start latency of a failed-over task counts the time its failed attempt took", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      // Fly takes 20 s to find it has no capacity; ECS then starts in its 30 s.
      const slowFull = {
        ...providers.fly.provider,
        create: () =>
          Effect.zipRight(
            Effect.sleep("20 seconds"),
            new ComputeError.CapacityUnavailable({
              module: "test",
              method: "create",
              reason: "InsufficientResources",
              detail: "full after a wait"
            })
          )
      }
      const router = yield* buildRouter({ ...providers, fly: { ...providers.fly, provider: slowFull } })
      const result = yield* drive(router.dispatch({ taskId: "t1", repository: "acme/web" }))
      assert.strictEqual(result.provider, "ecs")
      assert.deepStrictEqual(
        result.failoverHistory.map((a) => a.error),
        ["CapacityUnavailable"]
      )
      assert.strictEqual(result.startLatencyMillis, 50_000)
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

  it.scoped("records the intent before the provider is asked for compute", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const seen: Array<string> = []
      const store = yield* Layer.build(SessionStore.layerMemory)
      const router = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "fly" }),
        IdlePolicies.platform,
        Layer.succeedContext(store),
        {
          onDispatchStep: (progress) =>
            Effect.gen(function* () {
              if (progress.step !== "intent") return
              const record = yield* Effect.orDie(
                Context.get(store, SessionStore.SessionStore).get(progress.taskId)
              )
              const calls = yield* Ref.get(providers.fly.calls)
              seen.push(
                `${Option.map(record, (r) => `${r.state}/${r.provider}/${r.owner}`).pipe(Option.getOrElse(() => "none"))} creates=${calls.filter((c) => c.startsWith("create:")).length}`
              )
            })
        }
      )
      yield* drive(router.dispatch({ taskId: "t1", repository: "acme/web" }))
      assert.deepStrictEqual(seen, ["creating/fly/test-router creates=0"])
      const record = Option.getOrThrow(yield* Context.get(store, SessionStore.SessionStore).get("t1"))
      assert.strictEqual(record.state, "idle")
      assert.notStrictEqual(record.sessionId, "")
    })
  )

  it.scoped("destroys compute no record owns once the grace period has passed, and keeps what it owns", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const reports: Array<Router.ReconcileReport> = []
      const router = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "fly" }),
        IdlePolicies.platform,
        SessionStore.layerMemory,
        {
          reconcile: {
            interval: "5 minutes",
            gracePeriod: "12 minutes",
            onReport: (report) => Effect.sync(() => void reports.push(report))
          }
        }
      )
      const owned = yield* drive(router.dispatch({ taskId: "mine", repository: "acme/web" }))
      const orphan = yield* drive(
        providers.ecs.provider.create({ taskId: "orphan", repository: "acme/lost" })
      )
      const first = yield* router.reconcile()
      assert.deepStrictEqual(
        first.orphans.map((o) => [o.provider, o.sessionId, o.taskId]),
        [["ecs", orphan.id, "orphan"]]
      )
      assert.deepStrictEqual(first.destroyed, [])
      assert.deepStrictEqual(first.deferred, [{ provider: "ecs", sessionId: orphan.id }])
      // Rounds at 5 and 10 minutes still find it inside the grace period; the one at 15 destroys it.
      yield* TestClock.adjust("11 minutes")
      assert.strictEqual((yield* providers.ecs.provider.get(orphan.id)).status, "running")
      yield* TestClock.adjust("5 minutes")
      const destroyedIn = reports.filter((r) => r.destroyed.length > 0)
      assert.strictEqual(destroyedIn.length, 1)
      assert.deepStrictEqual(destroyedIn[0]!.destroyed, [{ provider: "ecs", sessionId: orphan.id }])
      assert.isAtLeast(destroyedIn[0]!.orphans[0]!.unownedForMillis, 12 * 60_000)
      assert.include(yield* Ref.get(providers.ecs.calls), `destroy:${orphan.id}`)
      assert.strictEqual((yield* providers.fly.provider.get(owned.sessionId)).status, "running")
      assert.notInclude(yield* Ref.get(providers.fly.calls), `destroy:${owned.sessionId}`)
    })
  )

  it.scoped("the sleep orphan policy suspends or stops orphans instead of destroying them", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const router = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "fly" }),
        IdlePolicies.platform,
        SessionStore.layerMemory,
        { reconcile: { atStartup: false, gracePeriod: 0, orphans: "sleep" } }
      )
      const orphan = yield* drive(
        providers.fly.provider.create({ taskId: "orphan", repository: "acme/lost" })
      )
      const report = yield* drive(router.reconcile())
      assert.deepStrictEqual(report.stopped, [{ provider: "fly", sessionId: orphan.id }])
      assert.strictEqual((yield* providers.fly.provider.get(orphan.id)).status, "suspended")
      const again = yield* drive(router.reconcile())
      assert.deepStrictEqual(again.stopped, [])
    })
  )

  it.scoped("a reconcile concurrent with a dispatch leaves the compute being created alone", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const router = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "ecs" }),
        IdlePolicies.fixedTimeout(5),
        SessionStore.layerMemory,
        { reconcile: { atStartup: false, gracePeriod: 0 } }
      )
      const dispatching = yield* Effect.fork(
        router.dispatch({ taskId: "busy", repository: "acme/web", command: ["echo", "ok"] })
      )
      // The fake ECS takes 30 s to start: the session is listed (provisioning) but not yet recorded.
      yield* TestClock.adjust("5 seconds")
      const listed = yield* providers.ecs.provider.list()
      assert.deepStrictEqual(
        listed.map((s) => [s.taskId, s.status]),
        [["busy", "provisioning"]]
      )
      const report = yield* router.reconcile()
      assert.deepStrictEqual(report.orphans, [])
      assert.deepStrictEqual(report.intentsFailed, [])
      const done = yield* drive(Fiber.join(dispatching))
      assert.strictEqual(done.result.stdout, "ok\n")
      assert.strictEqual((yield* providers.ecs.provider.get(done.sessionId)).status, "running")
      const calls = yield* Ref.get(providers.ecs.calls)
      assert.isFalse(calls.some((c) => c.startsWith("destroy:") || c.startsWith("stop:")))
    })
  )

  it.scoped("an orphan is left for the next round while a create runs on its provider", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const router = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "ecs" }),
        IdlePolicies.fixedTimeout(5),
        SessionStore.layerMemory,
        { reconcile: { atStartup: false, gracePeriod: 0 } }
      )
      const orphan = yield* drive(
        providers.ecs.provider.create({ taskId: "orphan", repository: "acme/lost" })
      )
      const dispatching = yield* Effect.fork(router.dispatch({ taskId: "busy", repository: "acme/web" }))
      yield* TestClock.adjust("5 seconds")
      const during = yield* router.reconcile()
      assert.deepStrictEqual(during.deferred, [{ provider: "ecs", sessionId: orphan.id }])
      assert.strictEqual((yield* providers.ecs.provider.get(orphan.id)).status, "running")
      yield* drive(Fiber.join(dispatching))
      const after = yield* router.reconcile()
      assert.deepStrictEqual(after.destroyed, [{ provider: "ecs", sessionId: orphan.id }])
    })
  )

  it.scoped("a restarted router resolves intents: adopts compute created for the task, fails the rest", () =>
    Effect.gen(function* () {
      const providers = yield* fakes()
      const store = Layer.succeedContext(yield* Layer.build(SessionStore.layerMemory))
      // The first router stops for good at a chosen step of each dispatch (as a crash would).
      const crashAt: Record<string, Router.DispatchStep> = { early: "intent", late: "created" }
      const first = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "fly" }),
        IdlePolicies.fixedTimeout(5),
        store,
        {
          instanceId: "router-a",
          reconcile: false,
          onDispatchStep: (p) => (crashAt[p.taskId] === p.step ? Effect.never : Effect.void)
        }
      )
      const crashed = yield* Effect.forEach(["early", "late"], (taskId) =>
        Effect.fork(first.dispatch({ taskId, repository: "acme/web", command: ["echo", "x"] }))
      )
      yield* TestClock.adjust("10 seconds")
      const running = yield* providers.fly.provider.list()
      assert.deepStrictEqual(
        running.map((s) => [s.taskId, s.status]),
        [["late", "running"]]
      )
      const second = yield* buildRouter(
        providers,
        RoutingPolicies.preferred({ defaultProvider: "fly" }),
        IdlePolicies.fixedTimeout(5),
        store,
        { instanceId: "router-b", reconcile: { atStartup: false, gracePeriod: 0 } }
      )
      const report = yield* second.reconcile()
      assert.deepStrictEqual(report.intentsAdopted, [
        { taskId: "late", provider: "fly", sessionId: running[0]!.id }
      ])
      assert.deepStrictEqual(report.intentsFailed, [{ taskId: "early", provider: "fly" }])
      assert.deepStrictEqual(report.orphans, [])
      const records = Context.get(yield* Layer.build(store), SessionStore.SessionStore)
      const late = Option.getOrThrow(yield* records.get("late"))
      assert.deepStrictEqual([late.state, late.owner, late.sessionId], ["idle", "router-b", running[0]!.id])
      assert.strictEqual(Option.getOrThrow(yield* records.get("early")).state, "failed")
      // The adopted session is the idle policy's now: asleep after its 5 minutes.
      yield* TestClock.adjust("6 minutes")
      assert.strictEqual((yield* providers.fly.provider.get(running[0]!.id)).status, "suspended")
      yield* Effect.forEach(crashed, Fiber.interrupt)
    })
  )

  it.scoped(
    "leaves alone what another live instance holds: no adoption, no orphan sweep, even past the grace",
    () =>
      Effect.gen(function* () {
        const providers = yield* fakes()
        const store = Layer.succeedContext(yield* Layer.build(SessionStore.layerMemory))
        // Router A holds "held-idle" (finished, idle) and is mid-create on "held-creating" (intent only).
        const first = yield* buildRouter(
          providers,
          RoutingPolicies.preferred({ defaultProvider: "fly" }),
          IdlePolicies.fixedTimeout(60),
          store,
          {
            instanceId: "router-a",
            reconcile: false,
            onDispatchStep: (p) =>
              p.taskId === "held-creating" && p.step === "created" ? Effect.never : Effect.void
          }
        )
        yield* drive(first.dispatch({ taskId: "held-idle", repository: "acme/one" }))
        const creating = yield* Effect.fork(
          first.dispatch({ taskId: "held-creating", repository: "acme/two" })
        )
        yield* TestClock.adjust("10 seconds")
        const elsewhere = new Set(["held-idle", "held-creating"])
        const second = yield* buildRouter(
          providers,
          RoutingPolicies.preferred({ defaultProvider: "fly" }),
          IdlePolicies.fixedTimeout(1),
          store,
          {
            instanceId: "router-b",
            reconcile: { atStartup: false, gracePeriod: 0 },
            heldElsewhere: () => Effect.succeed(elsewhere)
          }
        )
        const report = yield* second.reconcile()
        assert.deepStrictEqual(
          [report.adopted, report.orphans, report.destroyed, report.intentsFailed],
          [[], [], [], []]
        )
        yield* TestClock.adjust("5 minutes")
        const records = Context.get(yield* Layer.build(store), SessionStore.SessionStore)
        assert.strictEqual(Option.getOrThrow(yield* records.get("held-idle")).owner, "router-a")
        assert.deepStrictEqual(
          (yield* providers.fly.provider.list()).map((s) => [s.taskId, s.status]).sort(),
          [
            ["held-creating", "running"],
            ["held-idle", "running"]
          ]
        )
        // Once router A no longer holds them (it died, its heartbeat expired), router B adopts both.
        elsewhere.clear()
        const after = yield* second.reconcile()
        assert.deepStrictEqual([...after.adopted].sort(), ["held-creating", "held-idle"])
        assert.strictEqual(Option.getOrThrow(yield* records.get("held-idle")).owner, "router-b")
        yield* Fiber.interrupt(creating)
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
      () => SqliteSessionStore.layer(join(mkdtempSync(join(tmpdir(), "hangar-store-")), "sessions.db"))
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

  for (const [name, make] of [
    ["memory", () => SessionStore.layerMemory],
    [
      "sqlite",
      () => SqliteSessionStore.layer(join(mkdtempSync(join(tmpdir(), "hangar-store-")), "sessions.db"))
    ]
  ] as const) {
    it.effect(`${name}: an intent is live until it fails; a failed record owns nothing`, () =>
      Effect.gen(function* () {
        const store = yield* SessionStore.SessionStore
        yield* store.put({ ...record("intent", "creating"), sessionId: "" })
        yield* store.put(record("gone", "failed"))
        assert.deepStrictEqual(
          (yield* store.live()).map((r) => [r.taskId, r.state, r.sessionId]),
          [["intent", "creating", ""]]
        )
        yield* store.put({ ...record("intent", "failed"), sessionId: "" })
        assert.deepStrictEqual(yield* store.live(), [])
        yield* store.setSessionState("fly", "s-gone", "idle", 9)
        assert.strictEqual(Option.getOrThrow(yield* store.get("gone")).state, "failed")
      }).pipe(Effect.provide(make()))
    )
  }

  it.effect("sqlite: the schema comes from migrations, applied once, over a table made before them", () =>
    Effect.gen(function* () {
      const file = join(mkdtempSync(join(tmpdir(), "hangar-store-")), "sessions.db")
      // A database written by the router before migrations existed.
      yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE hangar_sessions (
          task_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, provider TEXT NOT NULL, repository TEXT NOT NULL,
          region TEXT NOT NULL, state TEXT NOT NULL, owner TEXT NOT NULL, updated_at_millis INTEGER NOT NULL)`
        yield* sql`INSERT INTO hangar_sessions VALUES ('old', 's-old', 'fly', 'acme/web', 'iad', 'idle', 'r', 1)`
      }).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
      for (let i = 0; i < 2; i++) {
        const live = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.live()).pipe(
          Effect.provide(SqliteSessionStore.layer(file))
        )
        assert.deepStrictEqual(
          live.map((r) => r.taskId),
          ["old"]
        )
      }
      const applied = yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const migrations = yield* sql<{
          name: string
        }>`SELECT name FROM hangar_session_migrations ORDER BY migration_id`
        const indexes = yield* sql<{
          name: string
        }>`SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'hangar_sessions_by_%' ORDER BY name`
        const [mode] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
        return {
          migrations: migrations.map((m) => m.name),
          indexes: indexes.map((i) => i.name),
          mode: mode?.journal_mode
        }
      }).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
      assert.deepStrictEqual(applied, {
        migrations: ["sessions", "session_and_state_indexes"],
        indexes: ["hangar_sessions_by_session", "hangar_sessions_by_state"],
        mode: "wal"
      })
    })
  )

  it.effect("sqlite: a second store on the same file sees what the first wrote", () =>
    Effect.gen(function* () {
      const file = join(mkdtempSync(join(tmpdir(), "hangar-store-")), "sessions.db")
      yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.put(record("kept"))).pipe(
        Effect.provide(SqliteSessionStore.layer(file))
      )
      const found = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.get("kept")).pipe(
        Effect.provide(SqliteSessionStore.layer(file))
      )
      assert.strictEqual(Option.getOrThrow(found).sessionId, "s-kept")
      const broken = yield* Effect.either(
        Effect.flatMap(SessionStore.SessionStore, (s) => s.live()).pipe(
          Effect.provide(SqliteSessionStore.layer("/proc/nope/x.db"))
        )
      )
      assert.isTrue(Either.isLeft(broken))
    })
  )
})
