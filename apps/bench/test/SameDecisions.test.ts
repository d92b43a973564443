/**
 * `policies` does not simulate a run again when its routing policy answers an earlier run's calls alike
 * (SameDecisions): such a run must be the run a simulation gives, and a policy that answers otherwise must be
 * simulated.
 */
import { describe, expect, it } from "@effect/vitest"
import { RoutingPolicy, type TaskSpec } from "@hangar/core"
import { IdlePolicies, RoutingPolicies } from "@hangar/router"
import { Effect, Layer } from "effect"
import * as Engine from "../src/engine/Engine.js"
import * as PolicyBenchmark from "../src/PolicyBenchmark.js"
import * as SameDecisions from "../src/SameDecisions.js"
import * as Scenario from "../src/Scenario.js"
import { smallWorkload } from "./CommandLine.js"

const small = smallWorkload.replace("days: 1\n", "days: 2\n")
const options = { waitUsdPerSecond: 60 / 3600, seed: 1 }

describe("runs with the same decisions", () => {
  it.effect("a run taken from an earlier one is, row for row, what simulating it gives", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(small, "small.yaml")
      const runs = PolicyBenchmark.runsOf(
        [{ name: "small", source: { kind: "scenario", scenario } }],
        options
      )
      const groups = PolicyBenchmark.groupsOf(runs).filter((g) =>
        ["fixed-5m", "platform"].includes(g[0]!.idle)
      )
      expect(groups.map((g) => g.length)).toEqual([5, 5])
      let reused = 0
      for (const group of groups) {
        const rows = PolicyBenchmark.simulateGroup(group)
        for (const [index, row] of rows.entries()) {
          if (row.sameDecisionsAs === null) continue
          reused++
          const [alone] = PolicyBenchmark.simulateGroup([group[index]!])
          expect({ ...row, sameDecisionsAs: null }).toEqual(alone)
        }
        // ECS first decides otherwise than Fly first on every task: that run is simulated.
        expect(rows.find((r) => r.routing === "all-ecs")?.sameDecisionsAs).toBeNull()
      }
      // primary-overflow never overflows here, so it is all-fly's run on both idle policies.
      expect(reused).toBeGreaterThanOrEqual(2)
    })
  )

  it.effect("a shadow that picks another provider at any one call is not alike", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(small, "small.yaml")
      const source = { kind: "scenario" as const, scenario }
      const trace = PolicyBenchmark.traceOf(source)
      const lastTask = trace.at(-1)!.taskId
      const fly = () => RoutingPolicies.preferred({ defaultProvider: "fly" })
      // Fly first, except for the trace's last task.
      const flyButLast = Layer.effect(
        RoutingPolicy.RoutingPolicy,
        Effect.map(RoutingPolicy.RoutingPolicy, (inner) => ({
          ...inner,
          decide: (input: RoutingPolicy.RouteInput) =>
            input.task.taskId === lastTask
              ? Effect.succeed(
                  new RoutingPolicy.RouteDecision({
                    provider: "ecs" as TaskSpec.ProviderId,
                    fallbacks: [],
                    policy: "test",
                    reason: "test"
                  })
                )
              : inner.decide(input)
        }))
      ).pipe(Layer.provide(fly()))
      const shadows: Array<SameDecisions.Shadow> = [
        { name: "fly", policy: fly(), alike: true },
        { name: "ecs", policy: RoutingPolicies.preferred({ defaultProvider: "ecs" }), alike: true },
        { name: "fly-but-last", policy: flyButLast, alike: true }
      ]
      const outcome = Engine.runPolicies(
        PolicyBenchmark.worldOf(source),
        trace,
        SameDecisions.shadowed(fly(), shadows),
        IdlePolicies.fixedTimeout(5)
      )
      expect(outcome.dispatched.map((exit) => exit._tag === "Success" && exit.value.taskId)).toContain(
        lastTask
      )
      expect(shadows.map((s) => [s.name, s.alike])).toEqual([
        ["fly", true],
        ["ecs", false],
        ["fly-but-last", false]
      ])
    })
  )
})
