/**
 * A router dies between creating a task's compute and recording it; a restarted router on the same SQLite store
 * adopts that compute from the intent, destroys a machine nobody owns once its grace period is over, and lets
 * the idle policy put the adopted session to sleep. Real Router, FlyProvider, EcsProvider and both simulators
 * on one virtual clock.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { VirtualClock } from "@hangar/core"
import { Context, Deferred, Effect, Layer } from "effect"
import * as IdlePolicies from "../src/IdlePolicies.js"
import * as Router from "../src/Router.js"
import * as RoutingPolicies from "../src/RoutingPolicies.js"
import { SqliteSessionStore } from "../src/sqlite/index.js"
import { bothSimulators } from "../test/simulators.js"

export const main = async (): Promise<ReadonlyArray<string>> => {
  const { clock, fly, providers, running } = await bothSimulators(11)
  const directory = mkdtempSync(join(tmpdir(), "hangar-example-"))
  const store = SqliteSessionStore.layer(join(directory, "sessions.db"))
  const routerLayer = (options: Router.RouterOptions) =>
    Router.layer(options).pipe(
      Layer.provide(
        Layer.mergeAll(
          providers,
          RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" }),
          IdlePolicies.fixedTimeout(5),
          store
        )
      )
    )
  const lines: Array<string> = []
  const seconds = (from: number) => `+${Math.round((clock.now() - from) / 1000)} s`

  // 1. The first router stops for good once the provider has answered, before the session is recorded.
  const created = await Effect.runPromise(Deferred.make<string>())
  const first = routerLayer({
    instanceId: "router-a",
    reconcile: false,
    onDispatchStep: (p) =>
      p.step === "created"
        ? Effect.zipRight(Deferred.succeed(created, p.sessionId ?? ""), Effect.never)
        : Effect.void
  })
  void Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(Layer.build(first), (context) =>
        Context.get(context, Router.Router).dispatch({
          taskId: "nightly-refactor",
          repository: "acme/backend",
          expectedDurationSeconds: 5400,
          command: ["work", "900"]
        })
      )
    ).pipe(Effect.withClock(clock))
  )
  const sessionId = await VirtualClock.runToCompletion(clock, Effect.runPromise(Deferred.await(created)))
  lines.push(
    `router-a died after creating ${sessionId}: ${running().tasks} ECS task running, recorded only as an intent`
  )

  // 2. A machine started behind the router's back, in an app the provider lists.
  fly.model.createApp("hangar-stray", "personal")
  const stray = fly.model.createMachine("hangar-stray", { config: { image: "stray" }, region: "iad" })

  // 3. The restarted router reconciles at start-up and every 30 s; orphans go after a 1-minute grace period.
  const start = clock.now()
  const restarted = routerLayer({
    instanceId: "router-b",
    reconcile: {
      interval: "30 seconds",
      gracePeriod: "1 minute",
      onReport: (report) =>
        Effect.sync(() => {
          const acted = [
            ...report.intentsAdopted.map((i) => `intent ${i.taskId} adopted (${i.provider}/${i.sessionId})`),
            ...report.intentsFailed.map((i) => `intent ${i.taskId} failed`),
            ...report.destroyed.map((d) => `orphan ${d.sessionId} destroyed`),
            ...report.deferred.map((d) => `orphan ${d.sessionId} left for its grace period`)
          ]
          if (acted.length > 0) lines.push(`${seconds(start)}: ${acted.join("; ")}`)
        })
    }
  })
  await Effect.runPromise(
    VirtualClock.drive(
      clock,
      Effect.scoped(Effect.zipRight(Layer.build(restarted), Effect.sleep("7 minutes")))
    )
  )
  const left = running()
  lines.push(
    `after the idle timeout: ${left.machines} machine and ${left.tasks} task running; the stray machine is ${fly.model.machine("hangar-stray", stray.id).state}`
  )
  rmSync(directory, { recursive: true, force: true })
  return lines
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((lines) => console.log(lines.join("\n")))
}
