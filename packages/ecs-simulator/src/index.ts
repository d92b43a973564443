/** @hangar/ecs-simulator: a local ECS endpoint for the AWS SDK with an EC2 capacity model and per-second billing. */

export * as EcsSimulator from "./EcsSimulator.js"
export * as Billing from "./model/Billing.js"
export * as EcsModel from "./model/EcsModel.js"
