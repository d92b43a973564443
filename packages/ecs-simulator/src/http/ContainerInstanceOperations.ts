/** The container instances: ListContainerInstances, DescribeContainerInstances. */
import { Schema } from "effect"
import type { EcsModel } from "../model/EcsModel.js"
import type { Operation } from "./AwsJson.js"
import { ClusterRef, input, Paging, pageOf } from "./OperationInput.js"
import { instanceJson } from "./WireShapes.js"

/** Registers the container instance operations into `operations`. */
export const registerContainerInstanceOperations = (
  operations: Map<string, Operation>,
  model: EcsModel
): void => {
  operations.set("ListContainerInstances", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          status: Schema.optional(
            Schema.Literal("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED")
          ),
          ...Paging(100)
        }),
      body,
      "ListContainerInstances"
    )
    const arns = model.listContainerInstances(i.cluster, i.status)
    const { page, ...next } = pageOf(arns, i)
    return { containerInstanceArns: page, ...next }
  })
  operations.set("DescribeContainerInstances", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          cluster: ClusterRef,
          containerInstances: Schema.Array(Schema.String).pipe(Schema.maxItems(100))
        }),
      body,
      "DescribeContainerInstances"
    )
    const cluster = model.cluster(i.cluster)
    const containerInstances = []
    const failures = []
    for (const ref of i.containerInstances) {
      const found = model.describableContainerInstance(cluster.name, ref)
      if (found === undefined) failures.push({ arn: ref, reason: "MISSING" })
      else containerInstances.push(instanceJson(model, found))
    }
    return { containerInstances, failures }
  })
}
