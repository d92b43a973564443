/** @hangar/ecs-simulator: a local ECS endpoint for the AWS SDK with an EC2 capacity model and per-second billing. */

export * as DataChannel from "./DataChannel.js"
export * as EcsSimulator from "./EcsSimulator.js"
export * as Faults from "./Faults.js"
export * as Billing from "./model/Billing.js"
export * as EcsModel from "./model/EcsModel.js"
export * as Lifecycle from "./model/Lifecycle.js"
export * as ManagedScaling from "./model/ManagedScaling.js"
export * as Placement from "./model/Placement.js"
export * as Workspaces from "./model/Workspaces.js"
