/** Test kit: a fake provider built through the real `make`, the conformance suite, and command-line helpers. */

export * as CommandLine from "./CommandLine.js"
export * as Conformance from "./Conformance.js"
export { providerConformance } from "./Conformance.js"
export * as FakeProvider from "./FakeProvider.js"
export * as PricingFixtures from "./PricingFixtures.js"
