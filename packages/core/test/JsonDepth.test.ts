import { assert, describe, it } from "@effect/vitest"
import { JsonDepth } from "../src/simulation/index.js"

describe("JsonDepth", () => {
  it("counts nested arrays and objects, not brackets inside strings, and stops past the limit", () => {
    assert.strictEqual(JsonDepth.depthOf('{"a":[1,{"b":[]}]}'), 4)
    assert.strictEqual(JsonDepth.depthOf('{"a":"[[[[{{{{","b":"\\"[["}'), 1)
    assert.strictEqual(JsonDepth.depthOf("[]".repeat(3)), 1)
    assert.strictEqual(JsonDepth.depthOf("1"), 0)
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`
    assert.strictEqual(JsonDepth.depthOf(deep), 100_000)
    assert.strictEqual(JsonDepth.depthOf(deep, 64), 65)
  })
})
