/**
 * The router as a process of its own, for the crash test (RouterCrash.test.ts bundles this file with tsup and
 * runs it with node). The real FlyProvider and EcsProvider talk to both simulators over loopback, with a
 * SQLite session store. Configured by the JSON in HANGAR_CRASH_CHILD:
 *
 * - `dispatch`: dispatches the tasks concurrently and prints `STEP <step> <task> <provider> <session>` at each
 *   step. With `killAt`, every task stops at that step and, once all have reached it, the process kills itself
 *   with SIGKILL (at `exec`: `execKillDelayMillis` after the last command was sent, so mid-exec).
 * - `reconcile`: a restarted router; prints `REPORT <json>` for every reconciliation round and runs until killed.
 */
import { writeSync } from "node:fs"
import { ProviderRegistry, type TaskSpec } from "@hangar/core"
import { EcsProvider } from "@hangar/provider-ecs"
import { FlyProvider } from "@hangar/provider-fly"
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import * as IdlePolicies from "../../src/IdlePolicies.js"
import * as Router from "../../src/Router.js"
import * as RoutingPolicies from "../../src/RoutingPolicies.js"
import { SqliteSessionStore } from "../../src/sqlite/index.js"

export interface ChildConfig {
  readonly mode: "dispatch" | "reconcile"
  readonly instanceId: string
  readonly flyUrl: string
  readonly flyToken: string
  readonly ecsUrl: string
  readonly ecsCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  readonly cluster: string
  readonly capacityProvider: string
  /** Fly apps and ECS families/startedBy of this run (runs on the same simulators do not see each other). */
  readonly prefix: string
  readonly storeFile: string
  readonly tasks: ReadonlyArray<TaskSpec.TaskSpecInput>
  readonly killAt?: Router.DispatchStep
  readonly execKillDelayMillis?: number
  readonly idleMinutes: number
  readonly graceMillis: number
  readonly intervalMillis: number
}

const print = (line: string) => writeSync(1, `${line}\n`)

const config = JSON.parse(process.env.HANGAR_CRASH_CHILD ?? "{}") as ChildConfig

const providers = ProviderRegistry.layer(FlyProvider.FlyProvider, EcsProvider.EcsProvider).pipe(
  Layer.provide(
    Layer.merge(
      FlyProvider.layer({
        token: Redacted.make(config.flyToken),
        baseUrl: config.flyUrl,
        appPrefix: config.prefix,
        regions: ["iad"],
        autostop: "off",
        retry: { maxRetries: 2, baseDelay: "50 millis" }
      }),
      EcsProvider.layer({
        cluster: config.cluster,
        capacityProviderStrategy: [{ capacityProvider: config.capacityProvider }],
        endpoint: config.ecsUrl,
        credentials: config.ecsCredentials,
        familyPrefix: config.prefix,
        regions: ["iad"],
        retry: { maxRetries: 2, baseDelay: "50 millis" }
      })
    )
  )
)

/** Every task stops at `killAt`; the last one to reach it kills the process. */
const crashHook = (killAt: Router.DispatchStep | undefined) => {
  const reached = new Set<string>()
  return (progress: Router.DispatchProgress): Effect.Effect<void> =>
    Effect.suspend(() => {
      print(`STEP ${progress.step} ${progress.taskId} ${progress.provider} ${progress.sessionId ?? "-"}`)
      if (progress.step !== killAt) return Effect.void
      reached.add(progress.taskId)
      const all = reached.size === config.tasks.length
      if (killAt === "exec") {
        if (all) {
          setTimeout(() => {
            print(`KILL ${killAt}`)
            process.kill(process.pid, "SIGKILL")
          }, config.execKillDelayMillis ?? 500)
        }
        return Effect.void
      }
      if (all) {
        print(`KILL ${killAt}`)
        process.kill(process.pid, "SIGKILL")
      }
      return Effect.never
    })
}

const routerLayer = Router.layer({
  instanceId: config.instanceId,
  reconcile: {
    gracePeriod: config.graceMillis,
    interval: config.intervalMillis,
    onReport: (report) => Effect.sync(() => print(`REPORT ${JSON.stringify(report)}`))
  },
  ...(config.mode === "dispatch" ? { onDispatchStep: crashHook(config.killAt) } : {})
}).pipe(
  Layer.provide(
    Layer.mergeAll(
      providers,
      RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" }),
      IdlePolicies.fixedTimeout(config.idleMinutes),
      SqliteSessionStore.layer(config.storeFile)
    )
  )
)

const program = Effect.gen(function* () {
  const router = yield* Router.Router
  if (config.mode === "reconcile") return yield* Effect.never
  const results = yield* Effect.forEach(config.tasks, (task) => Effect.either(router.dispatch(task)), {
    concurrency: "unbounded"
  })
  for (const result of results) {
    print(
      result._tag === "Right"
        ? `DONE ${result.right.taskId} ${result.right.provider} ${result.right.sessionId}`
        : `FAILED ${result.left._tag} ${result.left.message}`
    )
  }
})

Effect.runPromise(
  Effect.scoped(Effect.provide(program, routerLayer)).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
).then(
  () => process.exit(0),
  (error) => {
    print(`ERROR ${String(error)}`)
    process.exit(1)
  }
)
