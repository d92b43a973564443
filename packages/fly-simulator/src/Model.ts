/**
 * The simulator's model without its HTTP API, CLI or persistence (`@hangar/fly-simulator/model`): what an
 * in-process user of the model (the bench engine) imports, so that it loads no server code.
 */
export * as Billing from "./model/Billing.js"
export * as FlyModel from "./model/FlyModel.js"
export * as Lifecycle from "./model/Lifecycle.js"
export * as Machine from "./model/Machine.js"
