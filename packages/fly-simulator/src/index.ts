/** @hangar/fly-simulator: a local Fly Machines API with lifecycle timing, virtual time and per-second billing. */

export * as Cli from "./Cli.js"
export * as Faults from "./Faults.js"
export * as FlySimulator from "./FlySimulator.js"
export * as FlyProxy from "./http/Proxy.js"
export * as Billing from "./model/Billing.js"
export * as FlyModel from "./model/FlyModel.js"
export * as Lifecycle from "./model/Lifecycle.js"
export * as Machine from "./model/Machine.js"
export * as Persistence from "./Persistence.js"
export * as RateLimits from "./RateLimits.js"
export * as Workspaces from "./Workspaces.js"
