/** The shipped JSON Schema of scenario files is the one the Effect Schema generates today. */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import * as Scenario from "../src/Scenario.js"
import * as ScenarioSchema from "../src/ScenarioSchema.js"

const root = new URL("..", import.meta.url).pathname

describe("schema/scenario.schema.json", () => {
  it("is what the Effect Schema generates (regenerate with `pnpm --filter @hangar/bench schema`)", () => {
    // Compared as JSON: the file is formatted by the repository's formatter.
    const shipped = JSON.parse(readFileSync(join(root, ScenarioSchema.file), "utf8"))
    assert.deepStrictEqual(shipped, JSON.parse(ScenarioSchema.text()))
  })

  it("lists the allowed regions, instance types and sizes, and refuses unknown fields", () => {
    const schema = JSON.parse(ScenarioSchema.text())
    assert.deepStrictEqual(schema.properties.regions.items.enum, [...Scenario.knownRegions])
    assert.deepStrictEqual(schema.properties.ecs.properties.instanceType.enum, [
      ...Scenario.pricedInstanceTypes
    ])
    assert.notInclude(schema.properties.ecs.properties.instanceType.enum, "t3.nano")
    assert.deepStrictEqual(schema.properties.size.enum, ["dev", "standard", "performance", "high-perf"])
    assert.strictEqual(schema.additionalProperties, false)
    assert.includeMembers(schema.required, ["name", "regions", "size", "arrival", "duration", "ecs", "fly"])
  })

  it("the seed's scenario files name it for their editors", () => {
    const directory = join(root, "scenarios")
    for (const file of readdirSync(directory).filter((f) => f.endsWith(".yaml")))
      assert.match(
        readFileSync(join(directory, file), "utf8"),
        /^# yaml-language-server: \$schema=\.\.\/schema\/scenario\.schema\.json\n/,
        file
      )
  })
})
