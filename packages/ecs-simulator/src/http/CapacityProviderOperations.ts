/** The capacity providers: CreateCapacityProvider, PutClusterCapacityProviders, DescribeCapacityProviders. */
import { Schema } from "effect"
import type { EcsModel } from "../model/EcsModel.js"
import type { Operation } from "./AwsJson.js"
import { input, Paging, pageOf, Strategy, Tag } from "./OperationInput.js"
import { capacityProviderJson, clusterJson } from "./WireShapes.js"

/** Registers the capacity provider operations into `operations`. */
export const registerCapacityProviderOperations = (
  operations: Map<string, Operation>,
  model: EcsModel
): void => {
  operations.set("CreateCapacityProvider", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          name: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,255}$/)),
          autoScalingGroupProvider: Schema.Struct({
            autoScalingGroupArn: Schema.String,
            managedScaling: Schema.optional(
              Schema.Struct({
                status: Schema.optional(Schema.Literal("ENABLED", "DISABLED")),
                targetCapacity: Schema.optional(Schema.Int.pipe(Schema.between(1, 100))),
                minimumScalingStepSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10000))),
                maximumScalingStepSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10000))),
                instanceWarmupPeriod: Schema.optional(Schema.Int.pipe(Schema.between(0, 10000)))
              })
            ),
            managedTerminationProtection: Schema.optional(Schema.Literal("ENABLED", "DISABLED"))
          }),
          tags: Schema.optional(Schema.Array(Tag))
        }),
      body,
      "CreateCapacityProvider"
    )
    const scaling = i.autoScalingGroupProvider.managedScaling
    const p = model.createCapacityProvider(
      i.name,
      i.autoScalingGroupProvider.autoScalingGroupArn,
      scaling?.targetCapacity ?? 100,
      (scaling?.status ?? "ENABLED") === "ENABLED",
      i.autoScalingGroupProvider.managedTerminationProtection === "ENABLED",
      {
        ...(scaling?.minimumScalingStepSize === undefined
          ? {}
          : { minimumScalingStepSize: scaling.minimumScalingStepSize }),
        ...(scaling?.maximumScalingStepSize === undefined
          ? {}
          : { maximumScalingStepSize: scaling.maximumScalingStepSize }),
        ...(i.tags === undefined ? {} : { tags: i.tags })
      }
    )
    return { capacityProvider: capacityProviderJson(model, p.name) }
  })
  operations.set("PutClusterCapacityProviders", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: Schema.String,
          capacityProviders: Schema.Array(Schema.String),
          defaultCapacityProviderStrategy: Strategy
        }),
      body,
      "PutClusterCapacityProviders"
    )
    return {
      cluster: clusterJson(
        model,
        model.putClusterCapacityProviders(i.cluster, i.capacityProviders, i.defaultCapacityProviderStrategy)
          .name
      )
    }
  })
  operations.set("DescribeCapacityProviders", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          capacityProviders: Schema.optional(Schema.Array(Schema.String).pipe(Schema.maxItems(100))),
          ...Paging(10)
        }),
      body,
      "DescribeCapacityProviders"
    )
    const { page, ...next } = pageOf(model.capacityProvidersNamed(i.capacityProviders), i)
    return {
      capacityProviders: page.map((p) => capacityProviderJson(model, p.name)),
      failures: [],
      ...next
    }
  })
}
