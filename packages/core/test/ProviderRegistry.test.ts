import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import type { ComputeProvider } from "../src/ComputeProvider.js"
import * as ProviderRegistry from "../src/ProviderRegistry.js"
import * as FakeProvider from "../src/testing/FakeProvider.js"

class Alpha extends Context.Tag("test/Alpha")<Alpha, ComputeProvider>() {}
class Beta extends Context.Tag("test/Beta")<Beta, ComputeProvider>() {}

const plugin = <I>(tag: Context.Tag<I, ComputeProvider>, id: string) =>
  Layer.effect(
    tag,
    Effect.map(FakeProvider.make({ id }), (fake) => fake.provider)
  )

const registry = ProviderRegistry.layer(Alpha, Beta).pipe(
  Layer.provide(Layer.mergeAll(plugin(Alpha, "alpha"), plugin(Beta, "beta")))
)

describe("ProviderRegistry", () => {
  it.effect("finds composed providers by id", () =>
    Effect.gen(function* () {
      const providers = yield* ProviderRegistry.ProviderRegistry
      assert.deepStrictEqual(providers.ids, ["alpha", "beta"])
      assert.strictEqual((yield* providers.get("beta")).id, "beta")
    }).pipe(Effect.provide(registry))
  )

  it.effect("an unknown id fails with InvalidRequest listing the known ids", () =>
    Effect.gen(function* () {
      const providers = yield* ProviderRegistry.ProviderRegistry
      const error = yield* Effect.flip(providers.get("gamma"))
      assert.strictEqual(error.field, "provider")
      assert.include(error.message, "alpha, beta")
      assert.include(error.message, "gamma")
    }).pipe(Effect.provide(registry))
  )

  it.effect("refuses two providers with one id", () =>
    Effect.gen(function* () {
      const a = yield* FakeProvider.make({ id: "same" })
      const b = yield* FakeProvider.make({ id: "same" })
      assert.throws(() => ProviderRegistry.fromProviders([a.provider, b.provider]), /share the id "same"/)
    })
  )
})
