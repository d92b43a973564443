/**
 * Routes a mixed set of tasks across both simulators with the seed's phase-2 rules and prints where each ran
 * and why. Everything is real (Router, FlyProvider, EcsProvider, both simulators) on one virtual clock.
 */
import { type TaskSpec, VirtualClock } from "@hangar/core"
import { Effect, Layer } from "effect"
import * as IdlePolicies from "../src/IdlePolicies.js"
import * as Router from "../src/Router.js"
import * as RoutingPolicies from "../src/RoutingPolicies.js"
import * as SessionStore from "../src/SessionStore.js"
import { bothSimulators } from "../test/simulators.js"

const tasks: ReadonlyArray<TaskSpec.TaskSpecInput> = [
  { taskId: "fix-typo", repository: "acme/webapp", expectedDurationSeconds: 120, command: ["work", "120"] },
  {
    taskId: "train-model",
    repository: "acme/ml",
    requiresGpu: true,
    expectedDurationSeconds: 3600,
    command: ["work", "600"]
  },
  {
    taskId: "edge-preview",
    repository: "acme/site",
    region: "edge",
    expectedDurationSeconds: 900,
    command: ["echo", "preview ready"]
  },
  {
    taskId: "nightly-refactor",
    repository: "acme/backend",
    expectedDurationSeconds: 5400,
    command: ["work", "900"]
  },
  {
    taskId: "short-gpu-check",
    repository: "acme/ml",
    requiresGpu: true,
    expectedDurationSeconds: 60,
    command: ["echo", "cuda ok"]
  }
]

export const main = async (): Promise<ReadonlyArray<string>> => {
  const { clock, providers } = await bothSimulators(7)
  const router = Router.layer().pipe(
    Layer.provide(
      Layer.mergeAll(
        providers,
        RoutingPolicies.rules({ quickStart: "fly", steady: "ecs" }),
        IdlePolicies.fixedTimeout(5),
        SessionStore.layerMemory
      )
    )
  )
  const program = Effect.gen(function* () {
    const r = yield* Router.Router
    return yield* Effect.forEach(tasks, (task) =>
      Effect.map(
        r.dispatch(task),
        (done) =>
          `${done.taskId.padEnd(17)} → ${done.provider.padEnd(3)} (${done.decision.reason}); exit ${done.result.exitCode}, started in ${(done.startLatencyMillis / 1000).toFixed(1)} s`
      )
    )
  })
  return Effect.runPromise(VirtualClock.drive(clock, Effect.scoped(Effect.provide(program, router))))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((lines) => console.log(lines.join("\n")))
}
