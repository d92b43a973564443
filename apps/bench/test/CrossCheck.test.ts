/**
 * The engine against the wire: a 2-day slice of each of the seed's four scenarios, simulated by the engine
 * (in-process providers over the simulators' models) and by the wire path (the real plugins over the simulators'
 * HTTP APIs), must agree per provider: tasks completed and failed, cold starts, and the bill within 1%.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as CostTable from "../src/CostTable.js"
import * as Engine from "../src/engine/Engine.js"
import * as Scenarios from "../src/Scenarios.js"
import type { SideResult } from "../src/Sides.js"
import * as Trace from "../src/Trace.js"

const days = 2

const differences = (scenario: string, engine: SideResult, wire: SideResult): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const name = `${scenario} ${engine.provider}`
  if (engine.tasks - engine.failed !== wire.tasks - wire.failed)
    problems.push(
      `${name}: ${engine.tasks - engine.failed} tasks completed on the engine, ${wire.tasks - wire.failed} on the wire`
    )
  if (engine.failed !== wire.failed)
    problems.push(
      `${name}: ${engine.failed} failed on the engine (${engine.failureReasons.map((r) => r.reason).join("; ")}), ${wire.failed} on the wire (${wire.failureReasons.map((r) => r.reason).join("; ")})`
    )
  if (engine.coldStarts !== wire.coldStarts)
    problems.push(`${name}: ${engine.coldStarts} cold starts on the engine, ${wire.coldStarts} on the wire`)
  const relative = Math.abs(engine.usd - wire.usd) / Math.max(wire.usd, 1e-9)
  if (relative > 0.01) {
    const states = (r: SideResult) =>
      Object.entries(r.hoursByState)
        .map(([s, h]) => `${s} ${h.toFixed(2)} h`)
        .join(", ")
    problems.push(
      `${name}: bill $${engine.usd.toFixed(4)} on the engine, $${wire.usd.toFixed(4)} on the wire (${(relative * 100).toFixed(2)}%); hours by state: engine ${states(engine)}, wire ${states(wire)}`
    )
  }
  return problems
}

describe("the engine agrees with the wire path", () => {
  it.live(
    "per provider on a 2-day slice of every seed scenario: tasks, failures, cold starts, bill within 1%",
    () =>
      Effect.gen(function* () {
        const scenarios = (yield* Scenarios.seedScenarios).map((s) => ({ ...s, days }))
        const problems: Array<string> = []
        for (const scenario of scenarios) {
          const trace = Trace.generate(scenario)
          const engineFly = Engine.runFly(scenario, trace)
          const engineEcs = CostTable.combineEcs(
            scenario,
            trace.length,
            scenario.regions.map((region) => Engine.runEcsRegion(scenario, trace, region))
          )
          const wireFly = yield* CostTable.runFly(scenario, trace)
          const wireEcs = yield* CostTable.runEcs(scenario, trace)
          for (const [engine, wire] of [
            [engineFly, wireFly],
            [engineEcs, wireEcs]
          ] as const) {
            console.log(
              `${scenario.name} ${engine.provider}: tasks ${engine.tasks - engine.failed}/${wire.tasks - wire.failed}, failed ${engine.failed}/${wire.failed}, cold starts ${engine.coldStarts}/${wire.coldStarts}, bill $${engine.usd.toFixed(4)}/$${wire.usd.toFixed(4)} (engine/wire)`
            )
            problems.push(...differences(scenario.name, engine, wire))
          }
        }
        assert.deepStrictEqual(problems, [])
      }),
    600_000
  )
})
