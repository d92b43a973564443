/**
 * Issue 20's ECS items through @aws-sdk/client-ecs: the EC2 launch type by default, the listing operations, and
 * state scoped by the region of the credential scope.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeCapacityProvidersCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  InvalidParameterException,
  ListClustersCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  PutClusterCapacityProvidersCommand,
  paginateListClusters,
  paginateListContainerInstances,
  paginateListTaskDefinitionFamilies,
  paginateListTaskDefinitions,
  RegisterTaskDefinitionCommand,
  RunTaskCommand
} from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import * as EcsSimulator from "../src/EcsSimulator.js"
import { credentials, setup } from "./Setup.js"

type Answer = {
  tasks: Array<{ taskArn: string; containerInstanceArn?: string; lastStatus: string }>
  failures: Array<{ reason: string }>
}

const collect = async <T>(pages: AsyncIterable<T>, pick: (page: T) => ReadonlyArray<string> | undefined) => {
  const all: Array<string> = []
  let count = 0
  for await (const page of pages) {
    count++
    all.push(...(pick(page) ?? []))
  }
  return { all, pages: count }
}

describe("RunTask with the EC2 launch type, as AWS runs it", () => {
  it("without launchType or strategy on a cluster with no default strategy: placed, RESOURCE:* failures, or no instances", async () => {
    const { sim, send, client, virtual } = await setup()
    const { arn } = sim.createAutoScalingGroup({
      name: "fixed",
      instanceType: "t3.large",
      min: 2,
      max: 2,
      desired: 2
    })
    await send(new CreateClusterCommand({ clusterName: "plain" }))
    await send(
      new CreateCapacityProviderCommand({
        name: "fixed",
        autoScalingGroupProvider: { autoScalingGroupArn: arn }
      })
    )
    await send(
      new PutClusterCapacityProvidersCommand({
        cluster: "plain",
        capacityProviders: ["fixed"],
        defaultCapacityProviderStrategy: []
      })
    )
    for (const [family, cpu, memory] of [
      ["wide", "8192", "512"],
      ["tall", "512", "30000"]
    ] as const)
      await send(
        new RegisterTaskDefinitionCommand({
          family,
          cpu,
          memory,
          containerDefinitions: [{ name: "c", image: "i" }]
        })
      )
    for (const launchType of [undefined, "EC2" as const]) {
      const placed = await send<Answer>(
        new RunTaskCommand({
          cluster: "plain",
          taskDefinition: "agent",
          ...(launchType === undefined ? {} : { launchType })
        })
      )
      assert.strictEqual(placed.tasks.length, 1, String(launchType))
      assert.deepStrictEqual(placed.failures, [])
      assert.include(placed.tasks[0]!.containerInstanceArn, ":container-instance/plain/")
      const cpu = await send<Answer>(
        new RunTaskCommand({
          cluster: "plain",
          taskDefinition: "wide",
          ...(launchType === undefined ? {} : { launchType })
        })
      )
      assert.deepStrictEqual([cpu.tasks.length, cpu.failures.map((f) => f.reason)], [0, ["RESOURCE:CPU"]])
      const memory = await send<Answer>(
        new RunTaskCommand({
          cluster: "plain",
          taskDefinition: "tall",
          ...(launchType === undefined ? {} : { launchType })
        })
      )
      assert.deepStrictEqual(
        [memory.tasks.length, memory.failures.map((f) => f.reason)],
        [0, ["RESOURCE:MEMORY"]]
      )
      await send(new CreateClusterCommand({ clusterName: "empty" }))
      const none = await send(
        new RunTaskCommand({
          cluster: "empty",
          taskDefinition: "agent",
          ...(launchType === undefined ? {} : { launchType })
        })
      ).catch((e: unknown) => e)
      assert.instanceOf(none, InvalidParameterException)
      assert.strictEqual((none as Error).message, "No Container Instances were found in your cluster.")
    }
    await virtual!.advanceBy(60_000)
    assert.strictEqual(
      [...sim.model.tasks.values()].filter((t) => t.cluster === "plain" && t.lastStatus === "RUNNING").length,
      2
    )
    client.destroy()
  })

  it("a cluster with a default capacity provider strategy still uses it when RunTask names neither", async () => {
    const { send } = await setup()
    const run = await send<Answer>(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" }))
    assert.strictEqual(run.tasks.length, 1)
    assert.strictEqual(run.tasks[0]!.lastStatus, "PENDING")
  })
})

describe("listing operations with AWS's pagination", () => {
  it("ListClusters pages with nextToken and maxResults; deleted clusters are not listed", async () => {
    const { send, client, clock } = await setup()
    for (let n = 0; n < 6; n++) await send(new CreateClusterCommand({ clusterName: `c${n}` }))
    const { all, pages } = await VirtualClock.runToCompletion(
      clock as VirtualClock.VirtualClock,
      collect(paginateListClusters({ client, pageSize: 2 }, {}), (p) => p.clusterArns)
    )
    assert.strictEqual(pages, 4)
    assert.deepStrictEqual(
      all.map((a) => a.slice(a.lastIndexOf("/") + 1)),
      ["hangar", "c0", "c1", "c2", "c3", "c4", "c5"]
    )
    const first = await send<{ clusterArns: Array<string>; nextToken?: string }>(
      new ListClustersCommand({ maxResults: 3 })
    )
    assert.strictEqual(first.clusterArns.length, 3)
    assert.isString(first.nextToken)
    const bad = await send(new ListClustersCommand({ maxResults: 101 })).catch((e: unknown) => e)
    assert.instanceOf(bad, InvalidParameterException)
  })

  it("ListTaskDefinitions, ListTaskDefinitionFamilies and DescribeTaskDefinition by family only", async () => {
    const { send, client, clock } = await setup()
    const register = (family: string) =>
      send(
        new RegisterTaskDefinitionCommand({
          family,
          memory: "512",
          containerDefinitions: [{ name: "c", image: "i" }]
        })
      )
    for (const family of ["web", "web", "web", "batch", "webhook"]) await register(family)
    await send(new DeregisterTaskDefinitionCommand({ taskDefinition: "web:3" }))
    await send(new DeregisterTaskDefinitionCommand({ taskDefinition: "batch:1" }))
    const latest = await send<{ taskDefinition: { revision: number } }>(
      new DescribeTaskDefinitionCommand({ taskDefinition: "web" })
    )
    assert.strictEqual(latest.taskDefinition.revision, 2)
    const run = <T>(promise: Promise<T>) =>
      VirtualClock.runToCompletion(clock as VirtualClock.VirtualClock, promise)
    const active = await run(
      collect(paginateListTaskDefinitions({ client, pageSize: 2 }, {}), (p) => p.taskDefinitionArns)
    )
    assert.deepStrictEqual(
      active.all.map((a) => a.slice(a.lastIndexOf("/") + 1)),
      ["agent:1", "web:1", "web:2", "webhook:1"]
    )
    assert.strictEqual(active.pages, 2)
    const web = await send<{ taskDefinitionArns: Array<string> }>(
      new ListTaskDefinitionsCommand({ familyPrefix: "web", sort: "DESC", status: "ACTIVE" })
    )
    assert.deepStrictEqual(
      web.taskDefinitionArns.map((a) => a.slice(a.lastIndexOf("/") + 1)),
      ["web:2", "web:1"]
    )
    const inactive = await send<{ taskDefinitionArns: Array<string> }>(
      new ListTaskDefinitionsCommand({ status: "INACTIVE" })
    )
    assert.deepStrictEqual(
      inactive.taskDefinitionArns.map((a) => a.slice(a.lastIndexOf("/") + 1)),
      ["batch:1", "web:3"]
    )
    const families = await run(
      collect(
        paginateListTaskDefinitionFamilies({ client, pageSize: 1 }, { familyPrefix: "web" }),
        (p) => p.families
      )
    )
    assert.deepStrictEqual([families.all, families.pages], [["web", "webhook"], 2])
    const gone = await send<{ families: Array<string> }>(
      new ListTaskDefinitionFamiliesCommand({ status: "INACTIVE" })
    )
    assert.deepStrictEqual(gone.families, ["batch"])
    const all = await send<{ families: Array<string> }>(
      new ListTaskDefinitionFamiliesCommand({ status: "ALL" })
    )
    assert.deepStrictEqual(all.families, ["agent", "batch", "web", "webhook"])
  })

  it("ListContainerInstances and DescribeCapacityProviders page too", async () => {
    const { send, client, clock } = await setup({ min: 3, max: 4 })
    const instances = await VirtualClock.runToCompletion(
      clock as VirtualClock.VirtualClock,
      collect(
        paginateListContainerInstances({ client, pageSize: 2 }, { cluster: "hangar" }),
        (p) => p.containerInstanceArns
      )
    )
    assert.deepStrictEqual([instances.all.length, instances.pages, new Set(instances.all).size], [3, 2, 3])
    const first = await send<{ capacityProviders: Array<{ name: string }>; nextToken?: string }>(
      new DescribeCapacityProvidersCommand({ maxResults: 1 })
    )
    assert.deepStrictEqual(
      first.capacityProviders.map((p) => p.name),
      ["cp"]
    )
    assert.isUndefined(first.nextToken)
  })
})

/**
 * A client signing for `region` (with `accessKeyId`, default the tests' own), on the simulator in-process, each
 * call run to completion on its clock.
 */
const clientIn = (sim: EcsSimulator.Simulator, region: string, accessKeyId = credentials.accessKeyId) => {
  const client = new ECSClient({
    region,
    endpoint: "http://ecs-sim.internal",
    credentials: { ...credentials, accessKeyId },
    requestHandler: sim.requestHandler,
    maxAttempts: 1
  })
  return <T>(command: unknown) =>
    VirtualClock.runToCompletion(
      sim.clock as VirtualClock.VirtualClock,
      client.send(command as never) as Promise<T>
    )
}

describe("state scoped by the region of the request's credential scope, by default", () => {
  it("a client for eu-west-2 sees none of us-east-1's clusters or task definitions", async () => {
    const { sim, send } = await setup()
    const inLondon = clientIn(sim, "eu-west-2")
    const listed = await inLondon<{ clusterArns: Array<string> }>(new ListClustersCommand({}))
    assert.deepStrictEqual(listed.clusterArns, [])
    const described = await inLondon<{ clusters: Array<unknown>; failures: Array<{ reason: string }> }>(
      new DescribeClustersCommand({ clusters: ["hangar"] })
    )
    assert.deepStrictEqual([described.clusters, described.failures.map((f) => f.reason)], [[], ["MISSING"]])
    const missing = await inLondon(new DescribeTaskDefinitionCommand({ taskDefinition: "agent" })).catch(
      (e: unknown) => e
    )
    assert.strictEqual((missing as Error).name, "ClientException")
    // The client for us-east-1 still sees its cluster.
    const home = await send<{ clusterArns: Array<string> }>(new ListClustersCommand({}))
    assert.deepStrictEqual(home.clusterArns, ["arn:aws:ecs:us-east-1:123456789012:cluster/hangar"])
    await sim.close()
  })

  it("the same cluster name exists in both regions, each ARN naming its region; us-east-1's is untouched", async () => {
    const { sim, send } = await setup()
    const inLondon = clientIn(sim, "eu-west-2")
    const created = await inLondon<{ cluster: { clusterArn: string } }>(
      new CreateClusterCommand({ clusterName: "hangar" })
    )
    assert.strictEqual(created.cluster.clusterArn, "arn:aws:ecs:eu-west-2:123456789012:cluster/hangar")
    const registered = await inLondon<{ taskDefinition: { taskDefinitionArn: string } }>(
      new RegisterTaskDefinitionCommand({
        family: "uk",
        memory: "512",
        containerDefinitions: [{ name: "c", image: "i" }]
      })
    )
    assert.strictEqual(
      registered.taskDefinition.taskDefinitionArn,
      "arn:aws:ecs:eu-west-2:123456789012:task-definition/uk:1"
    )
    // eu-west-2 has no Auto Scaling groups of its own: its cluster has no container instances.
    const none = await inLondon(new RunTaskCommand({ cluster: "hangar", taskDefinition: "uk" })).catch(
      (e: unknown) => e
    )
    assert.strictEqual((none as Error).message, "No Container Instances were found in your cluster.")
    const home = await send<{
      clusters: Array<{ clusterArn: string; registeredContainerInstancesCount: number }>
    }>(new DescribeClustersCommand({ clusters: ["hangar"] }))
    assert.strictEqual(home.clusters[0]!.clusterArn, "arn:aws:ecs:us-east-1:123456789012:cluster/hangar")
    assert.strictEqual(home.clusters[0]!.registeredContainerInstancesCount, 1)
    const homeFamilies = await send<{ families: Array<string> }>(new ListTaskDefinitionFamiliesCommand({}))
    assert.deepStrictEqual(homeFamilies.families, ["agent"])
    // An ARN of the other region names no resource here.
    const crossed = await send<{ clusters: Array<unknown>; failures: Array<{ reason: string }> }>(
      new DescribeClustersCommand({ clusters: [created.cluster.clusterArn] })
    )
    assert.deepStrictEqual(
      crossed.failures.map((f) => f.reason),
      ["MISSING"]
    )
    await sim.close()
  })

  it("a region's own state survives a restart; a scope that is no region is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ecs-sim-regions-"))
    try {
      const { sim } = await setup({ dataDir: dir })
      await clientIn(
        sim,
        "eu-west-2"
      )(
        new RegisterTaskDefinitionCommand({
          family: "uk",
          memory: "512",
          containerDefinitions: [{ name: "c", image: "i" }]
        })
      )
      const refused = await clientIn(sim, "mars-1")(new ListClustersCommand({})).catch((e: unknown) => e)
      assert.strictEqual((refused as Error).name, "InvalidSignatureException")
      await sim.close()
      const again = await EcsSimulator.make({ clock: new VirtualClock.VirtualClock(), dataDir: dir, seed: 5 })
      const kept = await clientIn(
        again,
        "eu-west-2"
      )<{ taskDefinitionArns: Array<string> }>(new ListTaskDefinitionsCommand({}))
      assert.deepStrictEqual(kept.taskDefinitionArns, [
        "arn:aws:ecs:eu-west-2:123456789012:task-definition/uk:1"
      ])
      await again.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("an access key id of 12 digits is an account of its own, as in LocalStack: same region, separate state", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ecs-sim-accounts-"))
    try {
      const { sim, send } = await setup({ dataDir: dir })
      const other = clientIn(sim, "us-east-1", "111122223333")
      const listed = await other<{ clusterArns: Array<string> }>(new ListClustersCommand({}))
      assert.deepStrictEqual(listed.clusterArns, [])
      const created = await other<{ cluster: { clusterArn: string } }>(
        new CreateClusterCommand({ clusterName: "hangar" })
      )
      assert.strictEqual(created.cluster.clusterArn, "arn:aws:ecs:us-east-1:111122223333:cluster/hangar")
      // The simulator's own account (any other access key id) still has its one cluster, with instances.
      const home = await send<{
        clusters: Array<{ clusterArn: string; registeredContainerInstancesCount: number }>
      }>(new DescribeClustersCommand({ clusters: ["hangar"] }))
      assert.strictEqual(home.clusters[0]!.clusterArn, "arn:aws:ecs:us-east-1:123456789012:cluster/hangar")
      assert.strictEqual(home.clusters[0]!.registeredContainerInstancesCount, 1)
      await sim.close()
      const again = await EcsSimulator.make({ clock: new VirtualClock.VirtualClock(), dataDir: dir, seed: 5 })
      const kept = await clientIn(
        again,
        "us-east-1",
        "111122223333"
      )<{ clusterArns: Array<string> }>(new ListClustersCommand({}))
      assert.deepStrictEqual(kept.clusterArns, ["arn:aws:ecs:us-east-1:111122223333:cluster/hangar"])
      await again.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
