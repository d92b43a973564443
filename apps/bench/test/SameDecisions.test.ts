/**
 * `policies` does not simulate a run again when its routing policy answers an earlier run's calls alike
 * (SameDecisions): such a run must be the run a simulation gives, and a policy that answers otherwise must be
 * simulated.
 */
import { describe, expect, it } from "@effect/vitest"
import { IdlePolicies, RoutingPolicies } from "@hangar/router"
import { Effect } from "effect"
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

  it.effect("a routing policy that picks another provider at any call does not answer alike", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(small, "small.yaml")
      const source = { kind: "scenario" as const, scenario }
      const calls: Array<SameDecisions.Call> = []
      Engine.runPolicies(
        PolicyBenchmark.worldOf(source),
        PolicyBenchmark.traceOf(source),
        SameDecisions.recording(RoutingPolicies.preferred({ defaultProvider: "fly" }), calls),
        IdlePolicies.fixedTimeout(5)
      )
      expect(calls.filter((c) => c.kind === "decide").length).toBe(PolicyBenchmark.traceOf(source).length)
      const fly = () => RoutingPolicies.preferred({ defaultProvider: "fly" })
      expect(SameDecisions.answersAlike(calls, fly())).toBe(true)
      expect(SameDecisions.answersAlike(calls, RoutingPolicies.preferred({ defaultProvider: "ecs" }))).toBe(
        false
      )
      // One answer changed in the record is enough to refuse.
      const last = calls.findLastIndex((c) => c.kind === "decide")
      const changed = calls.map((c, i) =>
        i === last && c.kind === "decide" ? { ...c, answer: "provider:ecs" } : c
      )
      expect(SameDecisions.answersAlike(changed, fly())).toBe(false)
    })
  )
})
