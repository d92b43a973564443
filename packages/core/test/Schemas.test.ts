import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { fromParseError } from "../src/ComputeError.js"
import * as PricingCatalog from "../src/PricingCatalog.js"
import { Session } from "../src/Session.js"
import { TaskResult } from "../src/TaskResult.js"
import * as TaskSpec from "../src/TaskSpec.js"
import { Usage } from "../src/Usage.js"

const params = { fastCheck: { seed: 424242, numRuns: 200 } }

const roundTrips =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (value: A) => {
    const json = JSON.stringify(Schema.encodeSync(schema)(value))
    const decoded = Schema.decodeUnknownSync(schema)(JSON.parse(json))
    return JSON.stringify(Schema.encodeSync(schema)(decoded)) === json
  }

describe("schemas", () => {
  it.prop(
    "TaskSpec survives JSON encode → decode",
    [TaskSpec.TaskSpec],
    ([t]) => roundTrips(TaskSpec.TaskSpec)(t),
    params
  )
  it.prop("Session survives JSON encode → decode", [Session], ([s]) => roundTrips(Session)(s), params)
  it.prop(
    "TaskResult survives JSON encode → decode",
    [TaskResult],
    ([r]) => roundTrips(TaskResult)(r),
    params
  )
  it.prop("Usage survives JSON encode → decode", [Usage], ([u]) => roundTrips(Usage)(u), params)

  it.effect("applies TaskSpec defaults", () =>
    Effect.gen(function* () {
      const task = yield* TaskSpec.decodeUnknown({ taskId: "t-1", repository: "acme/webapp" })
      assert.strictEqual(task.branch, "main")
      assert.strictEqual(task.size, "standard")
      assert.strictEqual(task.region, "iad")
      assert.isFalse(task.requiresGpu)
      assert.deepStrictEqual(task.env, {})
    })
  )

  for (const [field, value, expected] of [
    ["size", "huge", 'Expected "dev"'],
    ["repository", "not a repo!", "repository name"],
    ["taskId", "", "1 to 128 characters"],
    ["region", "US East", "region code"],
    ["requiresGpu", "yes", "boolean"]
  ] as const) {
    it.effect(`a bad ${field} is an InvalidRequest naming "${field}"`, () =>
      Effect.gen(function* () {
        const result = yield* Effect.either(
          TaskSpec.decodeUnknown({ taskId: "t-1", repository: "acme/webapp", [field]: value })
        )
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          const error = fromParseError(result.left, { module: "Test", method: "decode" })
          assert.strictEqual(error.field, field)
          assert.include(error.expected, expected)
          assert.include(error.message, field)
        }
      })
    )
  }

  it.effect("an unknown TaskSpec key is rejected by name", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(TaskSpec.decodeUnknown({ taskId: "t", repository: "r", gpu: true }))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result))
        assert.strictEqual(fromParseError(result.left, { module: "T", method: "d" }).field, "gpu")
    })
  )

  it("ships pricing catalogs with a source URL and a date on every price", () => {
    for (const catalog of [PricingCatalog.fly, PricingCatalog.ec2]) {
      for (const price of catalog.prices) {
        assert.match(price.source, /^https:\/\//, price.key)
        assert.match(price.asOf, /^\d{4}-\d{2}-\d{2}$/, price.key)
      }
    }
    assert.throws(
      () =>
        PricingCatalog.parse({ schemaVersion: 1, provider: "x", currency: "USD", prices: [{ key: "k" }] }),
      /description/
    )
    assert.throws(() => PricingCatalog.price(PricingCatalog.ec2, "instance:z9.huge"), /t3\.medium/)
  })
})
