import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { setup } from "./Setup.js"

const operations = [
  "CreateCluster",
  "DescribeClusters",
  "DeleteCluster",
  "RegisterTaskDefinition",
  "DescribeTaskDefinition",
  "DeregisterTaskDefinition",
  "CreateCapacityProvider",
  "PutClusterCapacityProviders",
  "DescribeCapacityProviders",
  "RunTask",
  "StartTask",
  "StopTask",
  "DescribeTasks",
  "ListTasks",
  "ListContainerInstances",
  "DescribeContainerInstances",
  "ExecuteCommand",
  "TagResource",
  "ListTagsForResource"
] as const

/** One clearly wrong body per operation, and the field its error must name. */
const wrong: Record<(typeof operations)[number], [unknown, string]> = {
  CreateCluster: [{ clusterName: "has spaces!" }, "clusterName"],
  DescribeClusters: [{ clusters: "hangar" }, "clusters"],
  DeleteCluster: [{}, "cluster"],
  RegisterTaskDefinition: [{ family: "f", containerDefinitions: [{ name: "c" }] }, "image"],
  DescribeTaskDefinition: [{ taskDefinition: 7 }, "taskDefinition"],
  DeregisterTaskDefinition: [{}, "taskDefinition"],
  CreateCapacityProvider: [
    {
      name: "x",
      autoScalingGroupProvider: { autoScalingGroupArn: "a", managedScaling: { targetCapacity: 101 } }
    },
    "targetCapacity"
  ],
  PutClusterCapacityProviders: [
    { cluster: "hangar", capacityProviders: ["cp"] },
    "defaultCapacityProviderStrategy"
  ],
  DescribeCapacityProviders: [{ capacityProviders: [1] }, "capacityProviders"],
  RunTask: [{ cluster: "hangar", taskDefinition: "agent", count: 11 }, "count"],
  StartTask: [{ cluster: "hangar", taskDefinition: "agent", containerInstances: [] }, "containerInstances"],
  StopTask: [{ cluster: "hangar" }, "task"],
  DescribeTasks: [{ cluster: "hangar", tasks: "x" }, "tasks"],
  ListTasks: [{ cluster: "hangar", maxResults: 0 }, "maxResults"],
  ListContainerInstances: [{ cluster: "hangar", status: "SLEEPING" }, "status"],
  DescribeContainerInstances: [{ cluster: "hangar" }, "containerInstances"],
  ExecuteCommand: [{ cluster: "hangar", task: "t", command: "ls" }, "interactive"],
  TagResource: [{ resourceArn: "a", tags: [{ key: 1 }] }, "key"],
  ListTagsForResource: [{}, "resourceArn"]
}

describe("bad input: a typed 4xx naming the field, never a 5xx, and no state change", () => {
  it("each operation's wrong body names the offending field and changes nothing", async () => {
    const { sim } = await setup()
    const before = JSON.stringify([
      sim.model.tasks.size,
      sim.model.instances.size,
      [...sim.model.clusters.keys()],
      [...sim.model.capacityProviders.keys()],
      sim.model.definitions.get("agent")?.length
    ])
    for (const operation of operations) {
      const [body, field] = wrong[operation]
      const response = await sim.server.inject({
        method: "POST",
        url: "/",
        headers: {
          "x-amz-target": `AmazonEC2ContainerServiceV20141113.${operation}`,
          "content-type": "application/x-amz-json-1.1"
        },
        payload: JSON.stringify(body)
      })
      assert.strictEqual(response.statusCode, 400, operation)
      const json = response.json() as { __type: string; message: string }
      assert.strictEqual(json.__type, "InvalidParameterException", operation)
      assert.include(json.message, field, operation)
    }
    const after = JSON.stringify([
      sim.model.tasks.size,
      sim.model.instances.size,
      [...sim.model.clusters.keys()],
      [...sim.model.capacityProviders.keys()],
      sim.model.definitions.get("agent")?.length
    ])
    assert.strictEqual(after, before)
  })

  it("arbitrary bodies on every operation never crash the server (property)", async () => {
    const { sim } = await setup()
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations, "NoSuchOperation"),
        fc.oneof(
          fc.jsonValue(),
          fc.record(
            {
              cluster: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
              taskDefinition: fc.oneof(fc.string(), fc.boolean()),
              tasks: fc.oneof(fc.array(fc.string()), fc.string()),
              count: fc.oneof(fc.integer(), fc.string()),
              name: fc.oneof(fc.string(), fc.integer()),
              containerInstances: fc.array(fc.string(), { maxLength: 12 }),
              resourceArn: fc.string(),
              tags: fc.array(fc.record({ key: fc.string(), value: fc.string() }), { maxLength: 3 })
            },
            { requiredKeys: [] }
          )
        ),
        async (operation, body) => {
          const response = await sim.server.inject({
            method: "POST",
            url: "/",
            headers: {
              "x-amz-target": `AmazonEC2ContainerServiceV20141113.${operation}`,
              "content-type": "application/x-amz-json-1.1"
            },
            payload: JSON.stringify(body)
          })
          if (response.statusCode >= 500) return false
          if (response.statusCode >= 400) {
            const json = response.json() as { __type?: unknown; message?: unknown }
            return typeof json.__type === "string" && typeof json.message === "string"
          }
          return typeof body === "object" && body !== null && !Array.isArray(body)
        }
      ),
      { seed: 11, numRuns: 300 }
    )
  })

  it("malformed JSON, a missing target, and an unknown route are typed 4xx errors", async () => {
    const { sim } = await setup()
    const broken = await sim.server.inject({
      method: "POST",
      url: "/",
      headers: {
        "x-amz-target": "AmazonEC2ContainerServiceV20141113.ListTasks",
        "content-type": "application/x-amz-json-1.1"
      },
      payload: "{not json"
    })
    assert.strictEqual(broken.statusCode, 400)
    assert.strictEqual(broken.json().__type, "SerializationException")
    const untargeted = await sim.server.inject({
      method: "POST",
      url: "/",
      headers: { "content-type": "application/json" },
      payload: "{}"
    })
    assert.strictEqual(untargeted.statusCode, 400)
    assert.include(untargeted.json().message, "X-Amz-Target")
    const nowhere = await sim.server.inject({ method: "GET", url: "/nowhere" })
    assert.strictEqual(nowhere.statusCode, 404)
    assert.strictEqual(nowhere.json().__type, "UnknownOperationException")
  })
})
