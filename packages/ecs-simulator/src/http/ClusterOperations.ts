/** The clusters: CreateCluster, DescribeClusters, ListClusters, DeleteCluster. */
import { Schema } from "effect"
import * as Arn from "../model/Arn.js"
import type { EcsModel } from "../model/EcsModel.js"
import type { Operation } from "./AwsJson.js"
import { input, Paging, pageOf, Tag } from "./OperationInput.js"
import { clusterJson } from "./WireShapes.js"

/** Registers the cluster operations into `operations`. */
export const registerClusterOperations = (operations: Map<string, Operation>, model: EcsModel): void => {
  operations.set("CreateCluster", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          clusterName: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,255}$/)), {
            default: () => "default"
          }),
          tags: Schema.optional(Schema.Array(Tag))
        }),
      body,
      "CreateCluster"
    )
    return { cluster: clusterJson(model, model.createCluster(i.clusterName, [...(i.tags ?? [])]).name) }
  })
  operations.set("DescribeClusters", (body) => {
    const i = input(
      () =>
        Schema.Struct({
          clusters: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["default"] })
        }),
      body,
      "DescribeClusters"
    )
    const clusters = []
    const failures = []
    for (const ref of i.clusters) {
      const name = Arn.clusterName(ref, model)
      const c = typeof name === "string" ? model.clusters.get(name) : undefined
      if (c === undefined) failures.push({ arn: ref, reason: "MISSING" })
      else clusters.push(clusterJson(model, c.name))
    }
    return { clusters, failures }
  })
  operations.set("ListClusters", (body) => {
    const i = input(() => Schema.Struct(Paging(100)), body, "ListClusters")
    const { page, ...next } = pageOf(model.activeClusterArns(), i)
    return { clusterArns: page, ...next }
  })
  operations.set("DeleteCluster", (body) => {
    const i = input(() => Schema.Struct({ cluster: Schema.String }), body, "DeleteCluster")
    return { cluster: clusterJson(model, model.deleteCluster(i.cluster).name) }
  })
}
