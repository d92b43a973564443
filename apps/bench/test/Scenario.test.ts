import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Charts from "../src/Charts.js"
import * as PolicyBenchmark from "../src/PolicyBenchmark.js"
import * as PolicyReport from "../src/PolicyReport.js"
import * as Results from "../src/Results.js"
import * as Scenario from "../src/Scenario.js"
import * as Scenarios from "../src/Scenarios.js"
import * as Trace from "../src/Trace.js"
import { smallWorkload } from "./CommandLine.js"

/** The command-line tests' workload over two days (its fields on the same lines: line 1 is a comment). */
const small = smallWorkload.replace("days: 1\n", "days: 2\n")

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

  it.effect("a bad field fails with its line, column, path, what was expected and what was found", () =>
    Effect.gen(function* () {
      const negative = yield* Effect.flip(
        Scenario.parse(small.replace("perDay: 20", "perDay: -3"), "my.yaml")
      )
      assert.deepStrictEqual(
        negative.issues.map((i) => [i.line, i.column, i.path.join(".")]),
        [[9, 35, "arrival.perDay"]]
      )
      assert.strictEqual(
        negative.message,
        "my.yaml:9:35: arrival.perDay: expected a positive number; found -3"
      )
      const extra = yield* Effect.flip(Scenario.parse(`${small}\ncolour: blue\n`, "my.yaml"))
      assert.include(extra.message, 'found an unknown field "colour"')
      const several = yield* Effect.flip(
        Scenario.parse(
          small.replace("perDay: 20", "perDay: -3").replace("size: dev", "size: large"),
          "my.yaml"
        )
      )
      assert.deepStrictEqual(
        several.issues.map((i) => i.path.join(".")),
        ["size", "arrival.perDay"]
      )
      const json = yield* Effect.flip(Scenario.parse('{ "name": "x",\n  "days": "two" }', "my.json"))
      assert.include(json.message, 'my.json:2:11: days: expected a positive number; found "two"')
    })
  )

  it.effect("rules across fields: GPU tasks need a GPU instance type, a task must fit on an instance", () =>
    Effect.gen(function* () {
      const gpu = yield* Effect.flip(Scenario.parse(`${small}gpuShare: 0.2\n`, "gpu.yaml"))
      assert.strictEqual(
        gpu.message,
        'gpu.yaml:11:22: ecs.instanceType: expected a GPU instance type for gpuShare 0.2: one of g4dn.xlarge; found "t3.large" (no GPU)'
      )
      const tooSmall = yield* Effect.flip(
        Scenario.parse(
          small
            .replace("size: dev", "size: high-perf")
            .replace("suspend", "stop")
            .replace("t3.large", "t3.medium"),
          "big.yaml"
        )
      )
      assert.include(
        tooSmall.message,
        "ecs.instanceType: expected an instance type that holds a high-perf task"
      )
      assert.include(tooSmall.message, 'found "t3.medium" (2 vCPU, 3993 MiB registered)')
      const twice = yield* Effect.flip(
        Scenario.parse(small.replace("[iad, lhr]", "[iad, iad]"), "twice.yaml")
      )
      assert.include(twice.message, 'regions[1]: expected each region once; found "iad" again')
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
      assert.include(first, `"schemaVersion": ${Results.schemaVersion}`)
    })
  )

  it.effect("every policy costs at least the exact optimum; one recommendation per trace, on the front", () =>
    Effect.gen(function* () {
      const scenario = yield* Scenario.parse(small, "small.yaml")
      const { bounds, rows } = PolicyBenchmark.run(
        [{ name: "small", source: { kind: "scenario", scenario } }],
        {
          waitUsdPerSecond: 60 / 3600,
          seed: 1
        }
      )
      const bound = bounds[0]!
      assert.isAtMost(bound.oracle0Usd, bound.optimumUsd + 1e-9)
      assert.isAtMost(bound.optimumUsd, bound.oracle1Usd + 1e-9)
      assert.isAtMost(bound.optimumUsd, (bound.waitAwareUsd ?? Number.NaN) + 1e-9)
      for (const row of rows) {
        assert.isAtLeast(row.costUsd + 1e-9, bound.optimumUsd, `${row.routing} × ${row.idle}`)
        assert.closeTo(row.costOverOptimum, row.costUsd / bound.optimumUsd, 1e-9)
      }
      const recommended = rows.filter((r) => r.recommended)
      assert.strictEqual(recommended.length, 1)
      assert.isTrue(recommended[0]!.pareto)
      for (const row of rows.filter((r) => r.failed === 0))
        assert.isAtMost(recommended[0]!.totalUsd, row.totalUsd + 1e-9)
      const best = `${recommended[0]!.routing} × ${recommended[0]!.idle}`
      const report = PolicyReport.text(bounds, rows, [], 60)
      assert.include(report, `small: at $60/h of waiting, use ${best}`)
      const front = rows.filter((r) => r.pareto)
      assert.isBelow(
        report.split("\n").length,
        20 + front.length,
        "the terminal shows the front, not every run"
      )
      const svg = yield* Effect.promise(() =>
        Charts.costVersusLatency(rows.map((r) => ({ ...r, policy: `${r.routing} × ${r.idle}` })))
      )
      assert.include(svg, best.replace("&", "&amp;"))
      assert.notInclude(svg, "0.000000")
      assert.strictEqual(
        rows.length,
        PolicyBenchmark.routingPolicies.length * PolicyBenchmark.idlePolicies(1, 0).length
      )
      assert.isTrue(Option.isSome(Option.fromNullable(rows.find((r) => r.routing === "all-ecs"))))
    })
  )
})
