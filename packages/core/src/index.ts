/**
 * @hangar/core: the provider contract and what plugins, router, simulators and bench share. Wire protocols are at
 * `@hangar/core/protocols`, simulator helpers at `@hangar/core/simulation`, the test kit at `@hangar/core/testing`.
 */
export * as Capabilities from "./Capabilities.js"
export * as ComputeError from "./ComputeError.js"
export * as ComputeProvider from "./ComputeProvider.js"
export * as CostModel from "./CostModel.js"
export * as IdlePolicy from "./IdlePolicy.js"
export * as Money from "./Money.js"
export * as Pricing from "./Pricing.js"
export * as PricingCatalog from "./PricingCatalog.js"
export * as ProviderRegistry from "./ProviderRegistry.js"
export * as Region from "./Region.js"
export * as RoutingPolicy from "./RoutingPolicy.js"
export * as SeededRandom from "./SeededRandom.js"
export * as Session from "./Session.js"
export * as SizePreset from "./SizePreset.js"
export * as Statistics from "./Statistics.js"
export * as TaskResult from "./TaskResult.js"
export * as TaskSpec from "./TaskSpec.js"
export * as Usage from "./Usage.js"
export * as VirtualClock from "./VirtualClock.js"
