import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as CostTable from "../src/CostTable.js"
import * as Results from "../src/Results.js"
import * as Scenario from "../src/Scenario.js"
import * as Trace from "../src/Trace.js"

const tiny = `
name: tiny
description: a day of a few tasks on both providers
seed: 3
days: 1
repositories: 2
regions: [iad]
size: dev
arrival: { kind: poisson, perDay: 12 }
duration: { kind: fixed, seconds: 600 }
startLatencyP95Seconds: 10
ecs: { instanceType: t3.medium, minInstances: 1, maxInstances: 2, rationale: test }
fly: { idleTimeoutMinutes: 5, sleepsBy: suspend, volumeGb: 10 }
`

const run = (scenario: Scenario.Scenario) =>
  Effect.gen(function* () {
    const trace = Trace.generate(scenario)
    const ecs = yield* CostTable.runEcs(scenario, trace)
    const fly = yield* CostTable.runFly(scenario, trace)
    return { trace, ecs, fly, json: Results.stableJson({ schemaVersion: Results.schemaVersion, ecs, fly }) }
  })

describe("cost table", () => {
  it.live(
    "the same seed gives byte-identical results, every task completes, and the bills are what the prices say",
    () =>
      Effect.gen(function* () {
        const scenario = yield* Scenario.parse(tiny, "tiny.yaml")
        const first = yield* run(scenario)
        const second = yield* run(scenario)
        assert.strictEqual(first.json, second.json)
        assert.isAbove(first.trace.length, 3)
        assert.strictEqual(first.fly.failed, 0)
        assert.strictEqual(first.ecs.failed, 0)
        // ECS keeps one t3.medium (+30 GiB gp3) all day: at least $0.0416 × 24
        assert.isAtLeast(first.ecs.usd, 0.0416 * 24)
        // Fly: two 10 GB volumes for a day plus suspended machines; far below the ECS floor for this trickle
        assert.isBelow(first.fly.usd, first.ecs.usd)
        assert.isAbove(first.fly.hoursByState.suspended ?? 0, 1)
      })
  )
})
