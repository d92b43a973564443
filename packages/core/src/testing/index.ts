/** Test kit for plugins: a fake provider built through the real `make`, and the conformance suite. */
export * as Conformance from "./Conformance.js"
export { providerConformance } from "./Conformance.js"
export * as FakeProvider from "./FakeProvider.js"
export * as PricingFixtures from "./PricingFixtures.js"
