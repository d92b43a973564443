import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type TaskSpec, VirtualClock } from "@hangar/core"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import * as IdlePolicies from "../src/IdlePolicies.js"
import * as Router from "../src/Router.js"
import * as RoutingPolicies from "../src/RoutingPolicies.js"
import * as SessionStore from "../src/SessionStore.js"
import { SqliteSessionStore } from "../src/sqlite/index.js"
import { bothSimulators } from "./simulators.js"

const build = (layer: Layer.Layer<Router.Router, unknown>) =>
  Effect.map(Layer.build(layer), (c) => Context.get(c, Router.Router))

describe("Router on both simulators", () => {
  it.scoped("with Fly failing a region, primary-overflow completes every task on ECS", () =>
    Effect.gen(function* () {
      const { clock, fly, providers, running } = yield* Effect.promise(() => bothSimulators(2))
      fly.faults.add({
        match: "^POST /v1/apps/[^/]+/machines$",
        region: "syd",
        status: 412,
        error: "insufficient resources available to fulfill request",
        probability: 1
      })
      const router = yield* build(
        Router.layer().pipe(
          Layer.provide(
            Layer.mergeAll(
              providers,
              RoutingPolicies.primaryOverflow({ primary: "fly", overflow: "ecs" }),
              IdlePolicies.fixedTimeout(5),
              SessionStore.layerMemory
            )
          )
        )
      )
      const results = yield* VirtualClock.drive(
        clock,
        Effect.forEach(
          [1, 2, 3, 4],
          (n) =>
            router.dispatch({
              taskId: `syd-${n}`,
              repository: `acme/r${n}`,
              region: "syd",
              command: ["work", "60"]
            }),
          {
            concurrency: "unbounded"
          }
        )
      )
      for (const r of results) {
        assert.strictEqual(r.provider, "ecs")
        assert.strictEqual(r.result.exitCode, 0)
      }
      assert.isTrue(
        results.some((r) =>
          r.failoverHistory.some((a) => a.provider === "fly" && a.error === "CapacityUnavailable")
        )
      )
      yield* Effect.promise(() => clock.advanceBy(10 * 60_000))
      assert.deepStrictEqual(running(), { machines: 0, tasks: 0 })
    })
  )

  it.scoped("with both failing, tasks end in typed errors and nothing leaks", () =>
    Effect.gen(function* () {
      const { clock, fly, ecs, providers, running } = yield* Effect.promise(() => bothSimulators(3))
      fly.faults.add({
        match: "machines$",
        status: 412,
        error: "insufficient resources available to fulfill request",
        probability: 1
      })
      ecs.faults.add({
        operation: "RunTask",
        type: "ServerException",
        status: 500,
        message: "internal error"
      })
      const router = yield* build(
        Router.layer().pipe(
          Layer.provide(
            Layer.mergeAll(
              providers,
              RoutingPolicies.primaryOverflow({ primary: "fly", overflow: "ecs" }),
              IdlePolicies.fixedTimeout(5),
              SessionStore.layerMemory
            )
          )
        )
      )
      const error = yield* Effect.flip(
        VirtualClock.drive(
          clock,
          router.dispatch({ taskId: "doomed", repository: "acme/x", command: ["echo", "x"] })
        )
      )
      assert.strictEqual(error._tag, "CapacityUnavailable")
      if (error._tag === "CapacityUnavailable")
        assert.deepStrictEqual(
          error.failoverHistory.map((a) => a.provider),
          ["fly", "ecs"]
        )
      yield* Effect.promise(() => clock.advanceBy(10 * 60_000))
      assert.deepStrictEqual(running(), { machines: 0, tasks: 0 })
    })
  )

  it.effect(
    "a router interrupted mid-dispatch, replaced by a new one on the same SQLite store, reconciles: nothing runs unowned",
    () =>
      Effect.gen(function* () {
        const { clock, fly, ecs, providers, running } = yield* Effect.promise(() => bothSimulators(4))
        const file = join(mkdtempSync(join(tmpdir(), "hangar-crash-")), "sessions.db")
        const layer = (id: string) =>
          // Rounds only when called (this test runs them on its virtual clock); orphans acted on at once.
          Router.layer({
            instanceId: id,
            reconcile: { atStartup: false, interval: Duration.infinity, gracePeriod: 0 }
          }).pipe(
            Layer.provide(
              Layer.mergeAll(
                providers,
                RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" }),
                IdlePolicies.fixedTimeout(5),
                SqliteSessionStore.layer(file)
              )
            )
          )
        // The first router starts long tasks and "crashes": its fiber is interrupted, no graceful release.
        const scope = yield* Scope.make()
        const first = yield* build(layer("router-a")).pipe(Scope.extend(scope))
        const fiber = yield* Effect.fork(
          VirtualClock.drive(
            clock,
            Effect.forEach(
              [
                {
                  taskId: "c1",
                  repository: "acme/a",
                  expectedDurationSeconds: 60,
                  command: ["work", "3600"] as const
                },
                {
                  taskId: "c2",
                  repository: "acme/b",
                  expectedDurationSeconds: 7200,
                  command: ["work", "3600"] as const
                },
                {
                  taskId: "c3",
                  repository: "acme/c",
                  expectedDurationSeconds: 30,
                  command: ["work", "3600"] as const
                }
              ],
              (t) => first.dispatch(t),
              { concurrency: "unbounded" }
            )
          )
        )
        yield* Effect.promise(() =>
          VirtualClock.runToCompletion(
            clock,
            new Promise<void>((resolve) => clock.schedule(clock.now() + 10 * 60_000, resolve))
          )
        )
        yield* Fiber.interrupt(fiber)
        yield* Effect.promise(() => clock.advanceBy(1_000))
        const before = running()
        assert.isAbove(before.machines + before.tasks, 0, "the crash left compute running")
        // An orphan nobody recorded: a machine created behind the router's back.
        fly.model.createApp("hangar-orphan", "personal")
        fly.model.createMachine("hangar-orphan", { config: { image: "x" }, region: "iad" })
        yield* Effect.promise(() => clock.advanceBy(60_000))
        const second = yield* Effect.scoped(
          Effect.gen(function* () {
            const router = yield* build(layer("router-b"))
            const report = yield* VirtualClock.drive(clock, router.reconcile())
            yield* Effect.promise(() => clock.advanceBy(20 * 60_000))
            return report
          })
        )
        assert.isAtLeast(second.destroyed.length, 1)
        assert.isAtLeast(second.adopted.length, 1)
        yield* Effect.promise(() => clock.advanceBy(60_000))
        assert.deepStrictEqual(running(), { machines: 0, tasks: 0 })
        yield* Scope.close(scope, Exit.void).pipe(Effect.ignore)
        void ecs
      })
  )

  it.effect(
    "creation is idempotent by task id across a restart: the dispatch again finds the compute created before the crash",
    () =>
      Effect.gen(function* () {
        const { clock, fly, ecs, providers } = yield* Effect.promise(() => bothSimulators(5))
        const file = join(mkdtempSync(join(tmpdir(), "hangar-again-")), "sessions.db")
        const tasks: ReadonlyArray<TaskSpec.TaskSpecInput> = [
          { taskId: "again-fly", repository: "acme/a", expectedDurationSeconds: 60, command: ["echo", "a"] },
          { taskId: "again-ecs", repository: "acme/b", expectedDurationSeconds: 7200, command: ["echo", "b"] }
        ]
        const created = new Map<string, string>()
        const bothCreated = yield* Deferred.make<void>()
        // Each build gets providers of its own, with empty memories: a restarted process.
        const layer = (id: string, onDispatchStep?: Router.RouterOptions["onDispatchStep"]) =>
          Router.layer({
            instanceId: id,
            reconcile: false,
            ...(onDispatchStep ? { onDispatchStep } : {})
          }).pipe(
            Layer.provide(
              Layer.mergeAll(
                providers,
                RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" }),
                IdlePolicies.fixedTimeout(5),
                SqliteSessionStore.layer(file)
              )
            )
          )
        const scope = yield* Scope.make()
        const first = yield* build(
          layer("router-a", (p) => {
            if (p.step !== "created") return Effect.void
            created.set(p.taskId, p.sessionId ?? "")
            // The process dies here: the compute exists, no record names it yet.
            return Effect.zipRight(
              created.size === tasks.length ? Deferred.succeed(bothCreated, undefined) : Effect.void,
              Effect.never
            )
          })
        ).pipe(Scope.extend(scope))
        // The first router's dispatches run unattended; the clock is driven only until both have created.
        void Effect.runPromise(
          Effect.forEach(tasks, (t) => first.dispatch(t), { concurrency: "unbounded" }).pipe(
            Effect.withClock(clock)
          )
        ).catch(() => undefined)
        yield* Effect.promise(() =>
          VirtualClock.runToCompletion(clock, Effect.runPromise(Deferred.await(bothCreated)))
        )
        const machines = () => [...fly.model.machines.values()].filter((m) => m.state !== "destroyed").length
        const tasksRun = () => ecs.model.tasks.size
        const before = { machines: machines(), tasks: tasksRun() }
        assert.deepStrictEqual(before, { machines: 1, tasks: 1 })
        // Driven to the end, the router's release at the close of its scope included.
        const again = yield* VirtualClock.drive(
          clock,
          Effect.scoped(
            Effect.flatMap(build(layer("router-b")), (router) =>
              Effect.forEach(tasks, (t) => router.dispatch(t), { concurrency: "unbounded" })
            )
          )
        )
        assert.deepStrictEqual(
          again.map((r) => [r.taskId, r.sessionId, r.result.stdout]),
          [
            ["again-fly", created.get("again-fly"), "a\n"],
            ["again-ecs", created.get("again-ecs"), "b\n"]
          ]
        )
        assert.deepStrictEqual({ machines: machines(), tasks: tasksRun() }, before)
        yield* Scope.close(scope, Exit.void).pipe(Effect.ignore, Effect.fork)
      }),
    60_000
  )
})
