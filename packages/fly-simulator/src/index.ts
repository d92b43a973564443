/** @hangar/fly-simulator: a local Fly Machines API with lifecycle timing, virtual time and per-second billing. */

export * as Faults from "./Faults.js"
export * as FlySimulator from "./FlySimulator.js"
export * as Billing from "./model/Billing.js"
export * as FlyModel from "./model/FlyModel.js"
export * as Lifecycle from "./model/Lifecycle.js"
