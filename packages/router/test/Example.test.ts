import { assert, describe, it } from "@effect/vitest"
import { main } from "../examples/RouteMixed.js"

describe("README example", () => {
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
})
