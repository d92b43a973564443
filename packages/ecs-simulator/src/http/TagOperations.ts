/** The tags: TagResource, ListTagsForResource. */
import { Schema } from "effect"
import type { EcsModel } from "../model/EcsModel.js"
import type { Operation } from "./AwsJson.js"
import { input, Tag } from "./OperationInput.js"

/** Registers the tag operations into `operations`. */
export const registerTagOperations = (operations: Map<string, Operation>, model: EcsModel): void => {
  operations.set("TagResource", (body) => {
    const i = input(
      () => Schema.Struct({ resourceArn: Schema.String, tags: Schema.Array(Tag).pipe(Schema.maxItems(50)) }),
      body,
      "TagResource"
    )
    model.tagResource(i.resourceArn, i.tags)
    return {}
  })
  operations.set("ListTagsForResource", (body) => {
    const i = input(() => Schema.Struct({ resourceArn: Schema.String }), body, "ListTagsForResource")
    const tags = model.tagsOf(i.resourceArn)
    return { tags }
  })
}
