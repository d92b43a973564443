import {
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand
} from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { Pricing, VirtualClock } from "@hangar/core"
import * as EcsSimulator from "../src/EcsSimulator.js"
import { live, setup } from "./Setup.js"

type Run = { tasks: Array<{ taskArn: string; lastStatus: string }> }

describe("EC2 capacity, managed scaling and billing", () => {
  it("scales out after a launch time, scales in only after 15 low minutes, and bills every instance-second", async () => {
    const { send, virtual, sim } = await setup({ min: 1, max: 4 })
    const runs: Array<Run> = []
    for (let n = 0; n < 5; n++)
      runs.push(await send<Run>(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" })))
    assert.deepStrictEqual(runs.map((r) => r.tasks[0]!.lastStatus).sort(), [
      "PENDING",
      "PENDING",
      "PROVISIONING",
      "PROVISIONING",
      "PROVISIONING"
    ])
    await virtual!.advanceBy(60_000)
    const launched = live(sim).filter((i) => i.state === "pending")
    assert.isAtLeast(launched.length, 2)
    await virtual!.advanceBy(9 * 60_000)
    for (const i of live(sim)) assert.strictEqual(i.state, "running")
    // Launch times are seeded: tens of seconds to minutes.
    for (const i of sim.model.instances.values())
      if (i.registeredAt !== i.launchedAt) assert.isAbove(i.registeredAt! - i.launchedAt, 20_000)
    const peak = live(sim).length
    assert.strictEqual(peak, 3)
    for (const r of runs) await send(new StopTaskCommand({ cluster: "hangar", task: r.tasks[0]!.taskArn }))
    const emptied = virtual!.now()
    await virtual!.advanceBy(13 * 60_000)
    assert.strictEqual(live(sim).length, peak, "no scale-in before 15 low data points")
    await virtual!.advanceBy(20 * 60_000)
    assert.strictEqual(live(sim).length, 1, "back to the group's min")
    for (const i of sim.model.instances.values())
      if (i.terminatedAt !== undefined) assert.isAtLeast(i.terminatedAt - emptied, 14 * 60_000)
    const bill = sim.billing()
    let expected = 0
    for (const i of sim.model.instances.values()) {
      const cost = Pricing.ec2InstanceCost(i.instanceType, (i.terminatedAt ?? virtual!.now()) - i.launchedAt)
      expected += cost.compute + cost.ebs
    }
    assert.strictEqual(bill.totalMicroUsd, expected)
    assert.strictEqual(bill.byInstanceType["t3.large"], expected)
    assert.strictEqual((bill.byState.running ?? 0) + (bill.byState.terminated ?? 0), expected)
  })

  it("targetCapacity below 100 keeps spare empty instances", async () => {
    const { send, virtual, sim } = await setup({ min: 0, max: 6, targetCapacity: 50 })
    await send(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", count: 2 }))
    await virtual!.advanceBy(60 * 60_000)
    const instances = live(sim)
    const busy = instances.filter((i) => i.tasks.size > 0).length
    assert.strictEqual(busy, 1)
    assert.strictEqual(instances.length, 2)
  })

  it("GPU tasks land only on GPU instances; a task too large for any instance fails RESOURCE:*", async () => {
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const sim = await EcsSimulator.make({ clock, seed: 3 })
    const cpu = sim.model.createAutoScalingGroup({
      name: "cpu",
      instanceType: "t3.large",
      min: 1,
      max: 2,
      desired: 1
    })
    const gpu = sim.model.createAutoScalingGroup({
      name: "gpu",
      instanceType: "g4dn.xlarge",
      min: 0,
      max: 2,
      desired: 0
    })
    sim.model.createCluster("c")
    sim.model.createCapacityProvider("cpu", cpu.arn)
    sim.model.createCapacityProvider("gpu", gpu.arn)
    sim.model.putClusterCapacityProviders("c", ["cpu", "gpu"], [{ capacityProvider: "cpu" }])
    sim.model.registerTaskDefinition(
      "ml",
      [{ name: "m", image: "x", resourceRequirements: [{ type: "GPU", value: "1" }] }],
      2048,
      8192
    )
    const ec2 = sim.model.runTask({ cluster: "c", taskDefinition: "ml", count: 1, launchType: "EC2" })
    assert.deepStrictEqual(
      ec2.failures.map((f) => f.reason),
      ["RESOURCE:GPU"]
    )
    const run = sim.model.runTask({
      cluster: "c",
      taskDefinition: "ml",
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: "gpu" }]
    })
    await clock.advanceBy(10 * 60_000)
    const task = run.tasks[0]!
    assert.strictEqual(task.lastStatus, "RUNNING")
    assert.strictEqual(sim.model.instances.get(task.instance!)!.instanceType, "g4dn.xlarge")
    await sim.close()
  })

  it("an Availability Zone outage loses that zone's instances and tasks (TerminationNotice); replacements launch elsewhere", async () => {
    const { send, virtual, sim } = await setup({ min: 3, max: 4 })
    const zones = new Set(live(sim).map((i) => i.availabilityZone))
    assert.strictEqual(zones.size, 3, "the group spreads across three zones")
    const runs = await send<Run>(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", count: 6 }))
    await virtual!.advanceBy(60_000)
    const victim = sim.model.instances.get(sim.model.tasks.get(runs.tasks[0]!.taskArn)!.instance!)!
    sim.faults.add({ kind: "az-outage", zone: victim.availabilityZone })
    assert.strictEqual(victim.state, "terminated")
    const described = await send<{
      tasks: Array<{ lastStatus: string; stopCode: string; stoppedReason: string }>
    }>(new DescribeTasksCommand({ cluster: "hangar", tasks: [runs.tasks[0]!.taskArn] }))
    assert.strictEqual(described.tasks[0]!.lastStatus, "STOPPED")
    assert.strictEqual(described.tasks[0]!.stopCode, "TerminationNotice")
    assert.include(described.tasks[0]!.stoppedReason, victim.id)
    await virtual!.advanceBy(10 * 60_000)
    const now = live(sim)
    assert.isAtLeast(now.length, 3)
    for (const i of now) assert.notStrictEqual(i.availabilityZone, victim.availabilityZone)
    // A deregistered (INACTIVE) container instance stays describable for at least an hour.
    const inactive = await send<{ containerInstances: Array<{ status: string }> }>(
      new DescribeContainerInstancesCommand({ cluster: "hangar", containerInstances: [victim.arn] })
    )
    assert.strictEqual(inactive.containerInstances[0]!.status, "INACTIVE")
    const listed = await send<{ containerInstanceArns: Array<string> }>(
      new ListContainerInstancesCommand({ cluster: "hangar" })
    )
    assert.notInclude(listed.containerInstanceArns, victim.arn)
    await virtual!.advanceBy(3 * 3_600_000)
    const later = await send<{ failures: Array<{ reason: string }> }>(
      new DescribeContainerInstancesCommand({ cluster: "hangar", containerInstances: [victim.arn] })
    )
    assert.deepStrictEqual(
      later.failures.map((f) => f.reason),
      ["MISSING"]
    )
  })

  it("a capacity shortfall keeps tasks PROVISIONING until it clears; they then run", async () => {
    const { send, virtual, sim } = await setup({ min: 0, max: 2 })
    sim.faults.add({ kind: "capacity", instanceType: "t3.large" })
    const run = await send<Run>(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" }))
    await virtual!.advanceBy(5 * 60_000)
    assert.strictEqual(sim.model.tasks.get(run.tasks[0]!.taskArn)!.lastStatus, "PROVISIONING")
    assert.isTrue(sim.model.activities.some((a) => a.description.includes("InsufficientInstanceCapacity")))
    sim.faults.clear()
    await virtual!.advanceBy(5 * 60_000)
    assert.strictEqual(sim.model.tasks.get(run.tasks[0]!.taskArn)!.lastStatus, "RUNNING")
  })

  it("stopped tasks stay describable for at least an hour, then are MISSING", async () => {
    const { send, virtual } = await setup()
    await send(
      new RegisterTaskDefinitionCommand({
        family: "short",
        memory: "512",
        containerDefinitions: [{ name: "c", image: "x" }]
      })
    )
    const run = await send<Run>(
      new RunTaskCommand({
        cluster: "hangar",
        taskDefinition: "short",
        overrides: { containerOverrides: [{ command: ["work", "60"] }] }
      })
    )
    await virtual!.advanceBy(5 * 60_000 + 3_600_000)
    const kept = await send<{ tasks: Array<{ lastStatus: string; stopCode: string }> }>(
      new DescribeTasksCommand({ cluster: "hangar", tasks: [run.tasks[0]!.taskArn] })
    )
    assert.strictEqual(kept.tasks[0]!.lastStatus, "STOPPED")
    assert.strictEqual(kept.tasks[0]!.stopCode, "EssentialContainerExited")
    await virtual!.advanceBy(2 * 3_600_000)
    const gone = await send<{ tasks: Array<unknown>; failures: Array<{ reason: string }> }>(
      new DescribeTasksCommand({ cluster: "hangar", tasks: [run.tasks[0]!.taskArn] })
    )
    assert.strictEqual(gone.tasks.length, 0)
    assert.deepStrictEqual(
      gone.failures.map((f) => f.reason),
      ["MISSING"]
    )
  })
})
