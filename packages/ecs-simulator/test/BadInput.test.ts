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

  it("the issue's probes: object-inherited targets, deep nesting, other charsets, lax numbers, path-like ARNs", async () => {
    const { sim } = await setup()
    const post = (operation: string, payload: string, contentType = "application/x-amz-json-1.1") =>
      sim.server.inject({
        method: "POST",
        url: "/",
        headers: {
          "x-amz-target": `AmazonEC2ContainerServiceV20141113.${operation}`,
          "content-type": contentType
        },
        payload
      })
    const before = (await sim.server.inject({ method: "GET", url: "/_sim/state" })).body
    for (const name of [
      "__proto__",
      "hasOwnProperty",
      "constructor",
      "toString",
      "valueOf",
      "__defineGetter__"
    ]) {
      const response = await post(name, "{}")
      assert.strictEqual(response.statusCode, 400, name)
      assert.strictEqual(response.json().__type, "UnknownOperationException", name)
    }
    const deep = `${"[".repeat(5_000)}"sh"${"]".repeat(5_000)}`
    const nested = await post(
      "RegisterTaskDefinition",
      `{"family":"deep","containerDefinitions":[{"name":"c","image":"i","memory":128,"command":${deep}}]}`
    )
    assert.strictEqual(nested.statusCode, 400)
    assert.strictEqual(nested.json().__type, "SerializationException")
    assert.include(nested.json().message, "levels deep")
    const utf16 = await post(
      "CreateCluster",
      JSON.stringify({ clusterName: "wide" }),
      "application/x-amz-json-1.1; charset=utf-16"
    )
    assert.strictEqual(utf16.statusCode, 400)
    assert.include(utf16.json().message, "charset=utf-16")
    const notUtf8 = await sim.server.inject({
      method: "POST",
      url: "/",
      headers: {
        "x-amz-target": "AmazonEC2ContainerServiceV20141113.CreateCluster",
        "content-type": "application/x-amz-json-1.1"
      },
      payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])
    })
    assert.strictEqual(notUtf8.statusCode, 400)
    for (const cpu of ["0x100", " 256 ", "256.0", "1e3", "+256", ""]) {
      const lax = await post(
        "RegisterTaskDefinition",
        JSON.stringify({
          family: "lax",
          cpu,
          memory: "512",
          containerDefinitions: [{ name: "c", image: "i" }]
        })
      )
      assert.strictEqual(lax.statusCode, 400, cpu)
      assert.include(lax.json().message, "cpu", cpu)
    }
    for (const cluster of [
      "arn:aws:ecs:us-east-1:123456789012:cluster/x/../hangar",
      "hangar/../hangar",
      "../hangar",
      "arn:aws:ecs:us-east-1:123456789012:cluster/hangar/.."
    ]) {
      const response = await post("RunTask", JSON.stringify({ cluster, taskDefinition: "agent" }))
      assert.strictEqual(response.statusCode, 400, cluster)
    }
    for (const taskDefinition of [
      "agent/../agent",
      "arn:aws:ecs:us-east-1:123456789012:task-definition/x/../agent:1",
      "agent:0x1"
    ]) {
      const response = await post("RunTask", JSON.stringify({ cluster: "hangar", taskDefinition }))
      assert.strictEqual(response.statusCode, 400, taskDefinition)
    }
    assert.strictEqual((await sim.server.inject({ method: "GET", url: "/_sim/state" })).body, before)
    assert.isFalse(sim.model.definitions.has("lax"))
    assert.isFalse(sim.model.definitions.has("deep"))
    // The strict forms still work: decimal units, and vCPU / GB as RegisterTaskDefinition documents them.
    const strict = await post(
      "RegisterTaskDefinition",
      JSON.stringify({
        family: "ok",
        cpu: "0.5 vCPU",
        memory: "1 GB",
        containerDefinitions: [{ name: "c", image: "i" }]
      })
    )
    assert.strictEqual(strict.statusCode, 200)
    assert.deepStrictEqual(
      [strict.json().taskDefinition.cpu, strict.json().taskDefinition.memory],
      ["512", "1024"]
    )
  })
})
