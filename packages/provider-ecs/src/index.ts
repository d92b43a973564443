/** @hangar/provider-ecs: the ECS-on-EC2 plugin on @aws-sdk/client-ecs, with ECS Exec. */
export * as ClusterCost from "./ClusterCost.js"
export * as EcsCostModel from "./EcsCostModel.js"
export * as EcsErrors from "./EcsErrors.js"
export * as EcsProvider from "./EcsProvider.js"
export * as SessionManagerChannel from "./SessionManagerChannel.js"
