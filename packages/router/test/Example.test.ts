import { assert, describe, it } from "@effect/vitest"
import * as RecoverAfterCrash from "../examples/RecoverAfterCrash.js"
import { main } from "../examples/RouteMixed.js"

describe("README examples", () => {
  it("routes a mixed set of tasks across both simulators and says where each ran and why", async () => {
    const lines = await main()
    console.log(lines.join("\n"))
    assert.strictEqual(lines.length, 5)
    assert.match(lines[0]!, /fix-typo +→ fly .*short tasks go to fly/)
    assert.match(lines[1]!, /train-model +→ ecs .*GPU/)
    assert.match(lines[2]!, /edge-preview +→ fly .*edge/)
    assert.match(lines[3]!, /nightly-refactor +→ ecs/)
    assert.match(lines[4]!, /short-gpu-check +→ ecs .*cannot take it/)
  })

  it("a restarted router adopts what a crashed one created and destroys a machine nobody owns", async () => {
    const lines = await RecoverAfterCrash.main()
    console.log(lines.join("\n"))
    assert.match(lines[0]!, /^router-a died after creating ecs-nightly-refactor: 1 ECS task running/)
    assert.match(
      lines[1]!,
      /^\+0 s: intent nightly-refactor adopted \(ecs\/ecs-nightly-refactor\); orphan hangar-stray\/\w+ left for its grace period$/
    )
    assert.isTrue(lines.some((l) => /^\+60 s: orphan hangar-stray\/\w+ destroyed$/.test(l)))
    assert.strictEqual(
      lines.at(-1),
      "after the idle timeout: 0 machine and 0 task running; the stray machine is destroyed"
    )
  })
})
