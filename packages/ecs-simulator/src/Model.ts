/**
 * The simulator's model without its HTTP API, CLI or persistence (`@hangar/ecs-simulator/model`): what an
 * in-process user of the model (the bench engine) imports, so that it loads no server code.
 */
export * as Billing from "./model/Billing.js"
export * as EcsModel from "./model/EcsModel.js"
export * as Lifecycle from "./model/Lifecycle.js"
export * as ManagedScaling from "./model/ManagedScaling.js"
export * as Placement from "./model/Placement.js"
