import {
  ClusterNotFoundException,
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ECSClient,
  ExecuteCommandCommand,
  InvalidParameterException,
  ListContainerInstancesCommand,
  ListTasksCommand,
  PutClusterCapacityProvidersCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  waitUntilTasksRunning,
  waitUntilTasksStopped
} from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { Pricing, SessionManagerMessage, VirtualClock } from "@hangar/core"
import { FastCheck as fc } from "effect"
import WebSocket from "ws"
import * as EcsSimulator from "../src/EcsSimulator.js"

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" }

const setup = async (
  options: {
    clock?: VirtualClock.SimulationClock
    min?: number
    max?: number
    instanceType?: string
    timing?: Partial<EcsSimulator.Options["timing"]>
  } = {}
) => {
  const clock = options.clock ?? new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const sim = await EcsSimulator.make({
    clock,
    seed: 5,
    ...(options.timing === undefined ? {} : { timing: options.timing })
  })
  const client = new ECSClient({
    region: "us-east-1",
    endpoint: "http://ecs-sim.internal",
    credentials,
    requestHandler: sim.requestHandler,
    maxAttempts: 3
  })
  const send = <T>(command: { input: unknown }): Promise<T> =>
    clock instanceof VirtualClock.VirtualClock
      ? VirtualClock.runToCompletion(clock, client.send(command as never) as Promise<T>)
      : (client.send(command as never) as Promise<T>)
  const { arn } = sim.createAutoScalingGroup({
    name: "asg",
    instanceType: options.instanceType ?? "t3.large",
    min: options.min ?? 1,
    max: options.max ?? 4,
    desired: options.min ?? 1
  })
  await send(new CreateClusterCommand({ clusterName: "hangar" }))
  await send(
    new CreateCapacityProviderCommand({
      name: "cp",
      autoScalingGroupProvider: {
        autoScalingGroupArn: arn,
        managedScaling: { status: "ENABLED", targetCapacity: 100 }
      }
    })
  )
  await send(
    new PutClusterCapacityProvidersCommand({
      cluster: "hangar",
      capacityProviders: ["cp"],
      defaultCapacityProviderStrategy: [{ capacityProvider: "cp" }]
    })
  )
  await send(
    new RegisterTaskDefinitionCommand({
      family: "agent",
      cpu: "1024",
      memory: "2048",
      containerDefinitions: [{ name: "agent", image: "hangar/agent", essential: true }]
    })
  )
  return { clock, sim, client, send }
}

describe("ecs-simulator through the real @aws-sdk/client-ecs", () => {
  it("runs a task on warm capacity, describes it, stops it; the SDK's waiters work", async () => {
    const { client, send, sim } = await setup({
      clock: new VirtualClock.RealClock(),
      timing: { taskStart: 50, taskStop: 50 }
    })
    const run = await send<{ tasks: Array<{ taskArn: string; lastStatus: string }> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", startedBy: "hangar" })
    )
    const arn = run.tasks[0]!.taskArn
    const running = await waitUntilTasksRunning(
      { client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { cluster: "hangar", tasks: [arn] }
    )
    assert.strictEqual(running.state, "SUCCESS")
    const listed = await send<{ taskArns: Array<string> }>(
      new ListTasksCommand({ cluster: "hangar", startedBy: "hangar" })
    )
    assert.deepStrictEqual(listed.taskArns, [arn])
    await send(new StopTaskCommand({ cluster: "hangar", task: arn, reason: "session released" }))
    const stopped = await waitUntilTasksStopped(
      { client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { cluster: "hangar", tasks: [arn] }
    )
    assert.strictEqual(stopped.state, "SUCCESS")
    const described = await send<{
      tasks: Array<{ stopCode: string; stoppedReason: string; stoppedAt: Date }>
    }>(new DescribeTasksCommand({ cluster: "hangar", tasks: [arn] }))
    assert.strictEqual(described.tasks[0]!.stopCode, "UserInitiated")
    assert.strictEqual(described.tasks[0]!.stoppedReason, "session released")
    assert.instanceOf(described.tasks[0]!.stoppedAt, Date)
    await sim.close()
  })

  it("typed exceptions, and an unknown operation is a clear error", async () => {
    const { send } = await setup()
    const missing = await send(new ListTasksCommand({ cluster: "nope" })).catch((e: unknown) => e)
    assert.instanceOf(missing, ClusterNotFoundException)
    const bad = await send(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", count: 50 })
    ).catch((e: unknown) => e)
    assert.instanceOf(bad, InvalidParameterException)
    assert.include((bad as Error).message, "count")
  })

  it("retries throttling like the SDK does", async () => {
    const { send, sim } = await setup({ clock: new VirtualClock.RealClock() })
    sim.faults.add({
      operation: "ListTasks",
      type: "ThrottlingException",
      status: 400,
      message: "Rate exceeded",
      times: 2
    })
    const listed = await send<{ taskArns: Array<string>; $metadata: { attempts: number } }>(
      new ListTasksCommand({ cluster: "hangar" })
    )
    assert.strictEqual(listed.$metadata.attempts, 3)
  })

  it("launchType EC2 without room fails with RESOURCE:MEMORY; with managed scaling the task provisions, capacity arrives and it runs", async () => {
    const { send, clock } = await setup({ instanceType: "t3.medium", min: 1, max: 3 })
    const vc = clock as VirtualClock.VirtualClock
    await send(
      new RegisterTaskDefinitionCommand({
        family: "big",
        cpu: "1024",
        memory: "3000",
        containerDefinitions: [{ name: "agent", image: "x" }]
      })
    )
    const first = await send<{ tasks: Array<{ taskArn: string }> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "big", launchType: "EC2" })
    )
    assert.strictEqual(first.tasks.length, 1)
    const full = await send<{ tasks: Array<unknown>; failures: Array<{ reason: string }> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "big", launchType: "EC2" })
    )
    assert.deepStrictEqual(
      full.failures.map((f) => f.reason),
      ["RESOURCE:MEMORY"]
    )
    const waiting = await send<{ tasks: Array<{ taskArn: string; lastStatus: string }> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "big" })
    )
    assert.strictEqual(waiting.tasks[0]!.lastStatus, "PROVISIONING")
    await vc.advanceBy(5 * 60_000)
    const later = await send<{ tasks: Array<{ lastStatus: string }> }>(
      new DescribeTasksCommand({ cluster: "hangar", tasks: [waiting.tasks[0]!.taskArn] })
    )
    assert.strictEqual(later.tasks[0]!.lastStatus, "RUNNING")
    const instances = await send<{ containerInstanceArns: Array<string> }>(
      new ListContainerInstancesCommand({ cluster: "hangar" })
    )
    assert.isAtLeast(instances.containerInstanceArns.length, 2)
    const described = await send<{
      containerInstances: Array<{ registeredResources: Array<{ name: string; integerValue: number }> }>
    }>(
      new DescribeContainerInstancesCommand({
        cluster: "hangar",
        containerInstances: instances.containerInstanceArns
      })
    )
    const cpu = described.containerInstances[0]!.registeredResources.find(
      (r) => r.name === "CPU"
    )!.integerValue
    const memory = described.containerInstances[0]!.registeredResources.find(
      (r) => r.name === "MEMORY"
    )!.integerValue
    assert.strictEqual(cpu, 2048)
    assert.isBelow(memory, 4096)
  })

  it("clientToken makes RunTask idempotent", async () => {
    const { send } = await setup()
    const a = await send<{ tasks: Array<{ taskArn: string }> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", clientToken: "task-1" })
    )
    const b = await send<{ tasks: Array<{ taskArn: string }> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", clientToken: "task-1" })
    )
    assert.strictEqual(a.tasks[0]!.taskArn, b.tasks[0]!.taskArn)
  })

  it("scale-in after 15 idle minutes lowers the bill; the bill is Σ instance-seconds × rate with the 60 s minimum", async () => {
    const { send, clock, sim } = await setup({ min: 1, max: 4 })
    const vc = clock as VirtualClock.VirtualClock
    const runs = await Promise.all(
      [1, 2, 3, 4, 5].map(() =>
        send<{ tasks: Array<{ taskArn: string }> }>(
          new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" })
        )
      )
    )
    await vc.advanceBy(10 * 60_000)
    const peak = sim.model.instances.size
    assert.isAtLeast(peak, 2)
    for (const r of runs) await send(new StopTaskCommand({ cluster: "hangar", task: r.tasks[0]!.taskArn }))
    await vc.advanceBy(20 * 60_000)
    const live = [...sim.model.instances.values()].filter((i) => i.state !== "terminated")
    assert.strictEqual(live.length, 1)
    const bill = sim.billing()
    let expected = 0
    for (const i of sim.model.instances.values()) {
      const cost = Pricing.ec2InstanceCost(i.instanceType, (i.terminatedAt ?? vc.now()) - i.launchedAt)
      expected += cost.compute + cost.ebs
    }
    assert.strictEqual(bill.totalMicroUsd, expected)
  })

  it("ExecuteCommand opens a data channel: output, stderr and the exit code arrive", async () => {
    const clock = new VirtualClock.RealClock()
    const { send, sim } = await setup({ clock, timing: { taskStart: 10 } })
    await sim.listen({ port: 0 })
    const run = await send<{ tasks: Array<{ taskArn: string }> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", enableExecuteCommand: true })
    )
    await new Promise((r) => setTimeout(r, 50))
    const exec = await send<{ session: { streamUrl: string; tokenValue: string } }>(
      new ExecuteCommandCommand({
        cluster: "hangar",
        task: run.tasks[0]!.taskArn,
        command: "yes-lines 500",
        interactive: false
      })
    )
    const received = await new Promise<{ stdout: string; exitCode: number }>((resolve, reject) => {
      const ws = new WebSocket(exec.session.streamUrl)
      let stdout = ""
      let sequence = 0
      ws.on("open", () => ws.send(SessionManagerMessage.openDataChannel(exec.session.tokenValue)))
      ws.on("message", (data: Buffer) => {
        const message = SessionManagerMessage.decode(data)
        ws.send(
          SessionManagerMessage.encode(SessionManagerMessage.acknowledge(message, sequence++, Date.now()))
        )
        if (message.messageType === "output_stream_data")
          stdout += Buffer.from(message.payload).toString("utf8")
        if (message.messageType === "channel_closed")
          resolve({ stdout, exitCode: JSON.parse(Buffer.from(message.payload).toString("utf8")).ExitCode })
      })
      ws.on("error", reject)
    })
    assert.strictEqual(received.exitCode, 0)
    assert.strictEqual(received.stdout.split("\n").length, 501)
    await sim.close()
  })

  it("bad input on every operation is a typed 4xx, never a 5xx", async () => {
    const { sim } = await setup()
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
      "StopTask",
      "DescribeTasks",
      "ListTasks",
      "ListContainerInstances",
      "DescribeContainerInstances",
      "ExecuteCommand",
      "TagResource",
      "ListTagsForResource",
      "NoSuchOperation"
    ]
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.oneof(
          fc.integer(),
          fc.string(),
          fc.array(fc.integer()),
          fc.record({
            cluster: fc.integer(),
            taskDefinition: fc.boolean(),
            tasks: fc.string(),
            count: fc.string(),
            name: fc.integer()
          })
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
          const json = response.json() as { __type?: string; message?: string }
          const typed = typeof json.__type === "string" && typeof json.message === "string"
          // Some of these bodies happen to be valid for list/describe operations; none may crash the server.
          const nonObject = typeof body !== "object" || Array.isArray(body)
          return response.statusCode < 500 && (response.statusCode < 400 ? !nonObject : typed)
        }
      ),
      { seed: 11, numRuns: 200 }
    )
  })

  it("placement never over-commits an instance (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom(256, 512, 1024, 2048),
            fc.constantFrom(512, 1024, 2048, 4096),
            fc.boolean()
          ),
          { minLength: 1, maxLength: 25 }
        ),
        async (requests) => {
          const { send, sim, clock } = await setup({ min: 1, max: 3 })
          const vc = clock as VirtualClock.VirtualClock
          const arns: Array<string> = []
          for (const [i, [cpu, memory, stop]] of requests.entries()) {
            await send(
              new RegisterTaskDefinitionCommand({
                family: `f${i}`,
                cpu: String(cpu),
                memory: String(memory),
                containerDefinitions: [{ name: "c", image: "x" }]
              })
            )
            const r = await send<{ tasks: Array<{ taskArn: string }> }>(
              new RunTaskCommand({ cluster: "hangar", taskDefinition: `f${i}` })
            )
            arns.push(...r.tasks.map((t) => t.taskArn))
            if (stop && arns.length > 0)
              await send(new StopTaskCommand({ cluster: "hangar", task: arns.shift()! }))
            await vc.advanceBy(30_000)
            for (const instance of sim.model.instances.values()) {
              let c = 0
              let m = 0
              for (const arn of instance.tasks) {
                c += sim.model.tasks.get(arn)!.definition.cpu
                m += sim.model.tasks.get(arn)!.definition.memory
              }
              if (c > instance.cpu || m > instance.memory) return false
              if (instance.state === "terminated" && instance.tasks.size > 0) return false
            }
          }
          return true
        }
      ),
      { seed: 12, numRuns: 15 }
    )
  })
})
