/**
 * The committed `tuned.yaml` against the engine: on a short slice, each scenario's chosen configuration still
 * meets its start-latency target on both sides, and the search prunes: candidates are simulated cheapest bound
 * first and none whose bound exceeds the best found is run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Engine from "../src/engine/Engine.js"
import * as EngineClock from "../src/engine/EngineClock.js"
import * as Scenarios from "../src/Scenarios.js"
import * as Trace from "../src/Trace.js"
import * as Tune from "../src/Tune.js"

/** Long enough that the repositories' first launches (about 13 s each on Fly) are under 5% of the starts. */
const sliceDays = 7

describe("tune", () => {
  it("the committed configurations still meet their scenarios' targets on a short slice", async () => {
    const scenarios = await Effect.runPromise(Scenarios.seedScenarios)
    const tuned = await Effect.runPromise(Tune.readTuned(Scenarios.tunedFile))
    const single = scenarios.filter((s) => s.regions.length === 1)
    assert.isAbove(single.length, 0)
    for (const scenario of single) {
      const choice = tuned[scenario.name]
      assert.isDefined(choice, `tuned.yaml has no configuration for ${scenario.name}: run hangar-bench tune`)
      const slice = Tune.withFly(Tune.withEcs({ ...scenario, days: sliceDays }, choice!.ecs), choice!.fly)
      const trace = Trace.generate(slice)
      for (const side of ["ecs", "fly"] as const) {
        const result = Tune.simulate(slice, side, trace)
        assert.isTrue(
          Tune.meets(slice, result),
          `${scenario.name} ${side}: p95 ${Tune.p95(result)} s, ${result.failed} failed, target ${slice.startLatencyP95Seconds} s`
        )
      }
    }
  }, 600_000)

  it("refuses a region whose catalog lacks a price the bill needs, naming the region and the key", () => {
    const clock = new EngineClock.EngineClock(Date.UTC(2026, 0, 1))
    const shape = { instanceType: "m6i.large", minInstances: 1, maxInstances: 2 }
    assert.throws(
      () => Engine.ecsRegionCluster(clock, "lhr", 1, shape),
      /no price "instance:m6i\.large" for eu-west-2/
    )
    assert.throws(() => Engine.ecsRegionCluster(clock, "fra", 1, shape), /fra/)
    const london = Engine.ecsRegionCluster(clock, "lhr", 1, { ...shape, instanceType: "t3.large" })
    assert.strictEqual(london.model.pricing.catalogRegion, "eu-west-2")
    london.model.dispose()
  })

  it("ranks ECS candidates by a lower bound that grows with the group minimum and the instance price", async () => {
    const [scenario] = await Effect.runPromise(Scenarios.seedScenarios)
    const candidates = Tune.ecsCandidates(scenario!)
    assert.includeMembers(
      [...new Set(candidates.map((c) => c.instanceType))],
      ["t3.medium", "t3.large", "m6i.large", "c6i.large", "t4g.medium", "m6g.large", "c6g.large"]
    )
    const bound = (type: string, min: number) =>
      Tune.ecsLowerBound(scenario!, {
        instanceType: type,
        minInstances: min,
        maxInstances: 4,
        targetCapacity: 100
      })
    assert.strictEqual(bound("t3.large", 0), 0)
    assert.isAbove(bound("t3.large", 2), bound("t3.large", 1))
    assert.isAbove(bound("t3.large", 1), bound("t3.medium", 1))
  })
})
