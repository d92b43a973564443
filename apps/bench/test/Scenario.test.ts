import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as PolicyBenchmark from "../src/PolicyBenchmark.js"
import * as Results from "../src/Results.js"
import * as Scenario from "../src/Scenario.js"
import * as Scenarios from "../src/Scenarios.js"
import * as Trace from "../src/Trace.js"

const small = `
name: small
description: a small test workload
seed: 7
days: 2
repositories: 3
regions: [iad, lhr]
size: dev
arrival: { kind: poisson, perDay: 20 }
duration: { kind: lognormal, medianSeconds: 300, sigma: 0.5, maxSeconds: 3600 }
startLatencyP95Seconds: 10
ecs: { instanceType: t3.large, minInstances: 1, maxInstances: 2, rationale: test }
fly: { idleTimeoutMinutes: 5, sleepsBy: suspend, volumeGb: 10 }
`

describe("scenarios", () => {
  it.effect("the seed's four scenarios load and validate", () =>
    Effect.gen(function* () {
      const scenarios = yield* Scenarios.seedScenarios
      assert.deepStrictEqual(
        scenarios.map((s) => s.name),
        ["hundred-tasks-a-day", "always-on", "bursty", "global"]
      )
      for (const s of scenarios) assert.isDefined(s.seedClaim)
    })
  )

  it.effect("a bad field fails with its path and what was expected", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Scenario.parse(small.replace("perDay: 20", "perDay: -3"), "my.yaml"))
      assert.include(error.field, "my.yaml: arrival")
      assert.include(error.message, "positive")
      const unknownKind = yield* Effect.flip(
        Scenario.parse(small.replace("kind: poisson", "kind: sometimes"), "my.yaml")
      )
      assert.include(unknownKind.message, "arrival")
      const extra = yield* Effect.flip(Scenario.parse(`${small}\ncolour: blue\n`, "my.yaml"))
      assert.include(extra.message, "colour")
      const notYaml = yield* Effect.flip(Scenario.parse("name: [unclosed", "broken.yaml"))
      assert.strictEqual(notYaml.field, "broken.yaml")
    })
  )

  it.effect("the same seed gives the same trace; another seed another", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(small, "small.yaml")
      const a = Trace.generate(scenario)
      assert.deepStrictEqual(a, Trace.generate(scenario))
      assert.notDeepEqual(a, Trace.generate({ ...scenario, seed: 8 }))
      assert.isAbove(a.length, 10)
      for (const t of a)
        assert.isTrue(t.arrivalMillis >= 0 && t.arrivalMillis < 2 * 86_400_000 && t.durationMillis >= 1000)
    })
  )

  it.effect("arrival processes produce about the rate they are given", () =>
    Effect.gen(function* () {
      const base = yield* Scenario.parse(small, "small.yaml")
      const count = (arrival: Scenario.Arrival) => Trace.generate({ ...base, days: 30, arrival }).length
      const poisson = count({ kind: "poisson", perDay: 100 })
      assert.isTrue(poisson > 2700 && poisson < 3300, `poisson: ${poisson}`)
      const diurnal = count({ kind: "diurnal", perDay: 100, amplitude: 0.33, peakHourUtc: 15 })
      assert.isTrue(diurnal > 2700 && diurnal < 3300, `diurnal: ${diurnal}`)
      assert.strictEqual(count({ kind: "periodic", everyMinutes: 60, jitterSeconds: 0 }), 720)
      const continuous = Trace.generate({
        ...base,
        repositories: 1,
        arrival: { kind: "continuous", gapSeconds: 0 },
        duration: { kind: "fixed", seconds: 3600 }
      })
      assert.strictEqual(continuous.length, 48)
    })
  )
})

describe("policy benchmark", () => {
  it.effect("the same seed gives byte-identical JSON results", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(small, "small.yaml")
      const json = () => {
        const { bounds, rows } = PolicyBenchmark.run(
          [{ name: "small", source: { kind: "scenario", scenario } }],
          {
            waitUsdPerSecond: 60 / 3600,
            seed: 1
          }
        )
        return Results.stableJson({ schemaVersion: Results.schemaVersion, bounds, rows })
      }
      const first = json()
      assert.strictEqual(first, json())
      assert.include(first, '"schemaVersion": 1')
    })
  )

  it.effect("every policy costs at least Oracle-1, and the front is not empty", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(small, "small.yaml")
      const { bounds, rows } = PolicyBenchmark.run(
        [{ name: "small", source: { kind: "scenario", scenario } }],
        {
          waitUsdPerSecond: 0,
          seed: 1
        }
      )
      const oracle1 = bounds[0]!.oracle1Usd
      assert.isAtMost(bounds[0]!.oracle0Usd, oracle1)
      for (const row of rows) assert.isAtLeast(row.costUsd + 1e-9, oracle1, `${row.routing} × ${row.idle}`)
      assert.isTrue(rows.some((r) => r.pareto))
      assert.strictEqual(
        rows.length,
        PolicyBenchmark.routingPolicies.length * PolicyBenchmark.idlePolicies(1, 0).length
      )
      assert.isTrue(Option.isSome(Option.fromNullable(rows.find((r) => r.routing === "all-ecs"))))
    })
  )
})
