import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as Conformance from "../src/testing/Conformance.js"
import * as FakeProvider from "../src/testing/FakeProvider.js"

const fakeLayer = (options: FakeProvider.FakeProviderOptions = {}) =>
  Layer.merge(
    Layer.effect(
      Conformance.ProviderUnderTest,
      Effect.map(FakeProvider.make(options), (fake) => fake.provider)
    ),
    Conformance.layerFromTime(Conformance.testClockTime)
  )

Conformance.providerConformance("fake", fakeLayer())

describe("the conformance suite can fail", () => {
  it.effect("a fake that bills running time while asleep fails 'usage grows only while running'", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(Conformance.run("usage grows only while running"))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.include(result.left.message, "no running seconds accrue while asleep")
    }).pipe(Effect.provide(fakeLayer({ bugAccrueWhileAsleep: true })))
  )

  it.effect("a fake without any unsupported feature fails the Unsupported check", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(
        Conformance.run("an unsupported request is Unsupported with the plugin's reason")
      )
      assert.isTrue(Either.isLeft(result))
    }).pipe(Effect.provide(fakeLayer({ unsupported: {} })))
  )

  it.effect("the same fake, unbroken, passes that check", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(Conformance.run("usage grows only while running"))
      assert.isTrue(Either.isRight(result))
    }).pipe(Effect.provide(fakeLayer()))
  )
})
