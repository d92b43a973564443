import {
  ClusterContainsTasksException,
  ClusterNotFoundException,
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  DeleteClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeCapacityProvidersCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ECSServiceException,
  ExecuteCommandCommand,
  InvalidParameterException,
  ListContainerInstancesCommand,
  ListTagsForResourceCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
  TargetNotConnectedException,
  waitUntilTasksRunning,
  waitUntilTasksStopped
} from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { credentials, quick, setup } from "./Setup.js"

type Tasks = {
  tasks: Array<{ taskArn: string; lastStatus: string }>
  failures: Array<{ reason: string; arn: string }>
}

describe("ecs-simulator through the real @aws-sdk/client-ecs", () => {
  it("runs a task on warm capacity; the tasksRunning and tasksStopped waiters work; stop code and reason", async () => {
    const { client, send, sim } = await setup({ clock: new VirtualClock.RealClock(), timing: quick })
    const run = await send<Tasks>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", startedBy: "hangar" })
    )
    const arn = run.tasks[0]!.taskArn
    const running = await waitUntilTasksRunning(
      { client, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 },
      { cluster: "hangar", tasks: [arn] }
    )
    assert.strictEqual(running.state, "SUCCESS")
    const listed = await send<{ taskArns: Array<string> }>(
      new ListTasksCommand({ cluster: "hangar", startedBy: "hangar" })
    )
    assert.deepStrictEqual(listed.taskArns, [arn])
    await send(new StopTaskCommand({ cluster: "hangar", task: arn, reason: "session released" }))
    const stopped = await waitUntilTasksStopped(
      { client, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 },
      { cluster: "hangar", tasks: [arn] }
    )
    assert.strictEqual(stopped.state, "SUCCESS")
    const described = await send<{
      tasks: Array<{ stopCode: string; stoppedReason: string; stoppedAt: Date; createdAt: Date }>
    }>(new DescribeTasksCommand({ cluster: "hangar", tasks: [arn] }))
    assert.strictEqual(described.tasks[0]!.stopCode, "UserInitiated")
    assert.strictEqual(described.tasks[0]!.stoppedReason, "session released")
    assert.instanceOf(described.tasks[0]!.stoppedAt, Date)
    assert.isAtMost(described.tasks[0]!.createdAt.getTime(), described.tasks[0]!.stoppedAt.getTime())
    await sim.close()
  })

  it("tasksRunning fails fast on a task that stopped (essential container exited)", async () => {
    const { client, send, sim } = await setup({ clock: new VirtualClock.RealClock(), timing: quick })
    const run = await send<Tasks>(
      new RunTaskCommand({
        cluster: "hangar",
        taskDefinition: "agent",
        overrides: { containerOverrides: [{ name: "agent", command: ["exit", "3"] }] }
      })
    )
    const arn = run.tasks[0]!.taskArn
    const outcome = await waitUntilTasksRunning(
      { client, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 },
      { cluster: "hangar", tasks: [arn] }
    ).catch((e: unknown) => e as Error)
    // Either the waiter saw STOPPED (FAILURE) or caught RUNNING in the short window; the end state is what counts.
    assert.ok(outcome !== undefined)
    await waitUntilTasksStopped(
      { client, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 },
      { cluster: "hangar", tasks: [arn] }
    )
    const described = await send<{
      tasks: Array<{ stopCode: string; containers: Array<{ exitCode: number }> }>
    }>(new DescribeTasksCommand({ cluster: "hangar", tasks: [arn] }))
    assert.strictEqual(described.tasks[0]!.stopCode, "EssentialContainerExited")
    assert.strictEqual(described.tasks[0]!.containers[0]!.exitCode, 3)
    await sim.close()
  })

  it("every lifecycle status appears, in order, on the virtual clock", async () => {
    const { send, sim, virtual } = await setup()
    const seen: Array<string> = []
    const run = await send<Tasks>(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" }))
    const task = sim.model.tasks.get(run.tasks[0]!.taskArn)!
    const watch = () => {
      if (seen.at(-1) !== task.lastStatus) seen.push(task.lastStatus)
    }
    watch()
    for (let i = 0; i < 40; i++) {
      await virtual!.advanceBy(500)
      watch()
    }
    await send(new StopTaskCommand({ cluster: "hangar", task: task.arn }))
    watch()
    for (let i = 0; i < 20; i++) {
      await virtual!.advanceBy(500)
      watch()
    }
    assert.deepStrictEqual(seen, ["PENDING", "ACTIVATING", "RUNNING", "STOPPING", "STOPPED"])
    assert.strictEqual(task.generation, 7)
  })

  it("clusters, task definitions and capacity providers: create, describe, deregister, delete", async () => {
    const { send, asgArn } = await setup()
    const described = await send<{
      clusters: Array<{
        clusterName: string
        capacityProviders: Array<string>
        registeredContainerInstancesCount: number
      }>
      failures: Array<{ reason: string }>
    }>(new DescribeClustersCommand({ clusters: ["hangar", "nope"] }))
    assert.strictEqual(described.clusters[0]!.clusterName, "hangar")
    assert.deepStrictEqual(described.clusters[0]!.capacityProviders, ["cp"])
    assert.strictEqual(described.clusters[0]!.registeredContainerInstancesCount, 1)
    assert.deepStrictEqual(
      described.failures.map((f) => f.reason),
      ["MISSING"]
    )
    const second = await send<{ taskDefinition: { revision: number; taskDefinitionArn: string } }>(
      new RegisterTaskDefinitionCommand({
        family: "agent",
        containerDefinitions: [{ name: "agent", image: "hangar/agent:2", memoryReservation: 512, cpu: 256 }]
      })
    )
    assert.strictEqual(second.taskDefinition.revision, 2)
    const latest = await send<{ taskDefinition: { revision: number; memory: string; cpu: string } }>(
      new DescribeTaskDefinitionCommand({ taskDefinition: "agent" })
    )
    assert.deepStrictEqual(
      [latest.taskDefinition.revision, latest.taskDefinition.memory, latest.taskDefinition.cpu],
      [2, "512", "256"]
    )
    const gone = await send<{ taskDefinition: { status: string } }>(
      new DeregisterTaskDefinitionCommand({ taskDefinition: "agent:2" })
    )
    assert.strictEqual(gone.taskDefinition.status, "INACTIVE")
    const back = await send<{ taskDefinition: { revision: number } }>(
      new DescribeTaskDefinitionCommand({ taskDefinition: "agent" })
    )
    assert.strictEqual(back.taskDefinition.revision, 1)
    const providers = await send<{
      capacityProviders: Array<{
        name: string
        autoScalingGroupProvider: { autoScalingGroupArn: string; managedScaling: { targetCapacity: number } }
      }>
    }>(new DescribeCapacityProvidersCommand({ capacityProviders: ["cp"] }))
    assert.strictEqual(providers.capacityProviders[0]!.autoScalingGroupProvider.autoScalingGroupArn, asgArn)
    assert.strictEqual(
      providers.capacityProviders[0]!.autoScalingGroupProvider.managedScaling.targetCapacity,
      100
    )
    const duplicate = await send(
      new CreateCapacityProviderCommand({
        name: "cp",
        autoScalingGroupProvider: { autoScalingGroupArn: asgArn }
      })
    ).catch((e: unknown) => e)
    assert.instanceOf(duplicate, ECSServiceException)
    assert.strictEqual((duplicate as ECSServiceException).name, "ClientException")
    await send(new CreateClusterCommand({ clusterName: "scratch" }))
    const deleted = await send<{ cluster: { status: string } }>(
      new DeleteClusterCommand({ cluster: "scratch" })
    )
    assert.strictEqual(deleted.cluster.status, "INACTIVE")
    const missing = await send(new DeleteClusterCommand({ cluster: "scratch" })).catch((e: unknown) => e)
    assert.instanceOf(missing, ClusterNotFoundException)
  })

  it("DeleteCluster refuses a cluster with active tasks (typed)", async () => {
    const { send } = await setup()
    await send(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" }))
    const refused = await send(new DeleteClusterCommand({ cluster: "hangar" })).catch((e: unknown) => e)
    assert.instanceOf(refused, ClusterContainsTasksException)
  })

  it("StartTask places on a chosen container instance or says why not; ListTasks filters by instance", async () => {
    const { send } = await setup({ instanceType: "t3.medium" })
    const instances = await send<{ containerInstanceArns: Array<string> }>(
      new ListContainerInstancesCommand({ cluster: "hangar" })
    )
    const target = instances.containerInstanceArns[0]!
    const started = await send<Tasks>(
      new StartTaskCommand({
        cluster: "hangar",
        taskDefinition: "agent",
        containerInstances: [target, "missing-instance"]
      })
    )
    assert.strictEqual(started.tasks.length, 1)
    assert.deepStrictEqual(
      started.failures.map((f) => f.reason),
      ["MISSING"]
    )
    const second = await send<Tasks>(
      new StartTaskCommand({ cluster: "hangar", taskDefinition: "agent", containerInstances: [target] })
    )
    assert.strictEqual(second.tasks.length, 0)
    assert.deepStrictEqual(
      second.failures.map((f) => [f.reason, f.arn]),
      [["RESOURCE:MEMORY", target]]
    )
    const onInstance = await send<{ taskArns: Array<string> }>(
      new ListTasksCommand({ cluster: "hangar", containerInstance: target })
    )
    assert.deepStrictEqual(onInstance.taskArns, [started.tasks[0]!.taskArn])
  })

  it("launchType EC2 without room fails with RESOURCE:*; with managed scaling the task provisions and runs", async () => {
    const { send, virtual } = await setup({ instanceType: "t3.medium", min: 1, max: 3 })
    await send(
      new RegisterTaskDefinitionCommand({
        family: "big",
        cpu: "1024",
        memory: "3000",
        containerDefinitions: [{ name: "agent", image: "x" }]
      })
    )
    const first = await send<Tasks>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "big", launchType: "EC2" })
    )
    assert.strictEqual(first.tasks.length, 1)
    const full = await send<Tasks>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "big", launchType: "EC2" })
    )
    assert.deepStrictEqual(
      full.failures.map((f) => f.reason),
      ["RESOURCE:MEMORY"]
    )
    assert.include(full.failures[0]!.arn, ":container-instance/hangar/")
    const waiting = await send<Tasks>(new RunTaskCommand({ cluster: "hangar", taskDefinition: "big" }))
    assert.strictEqual(waiting.tasks[0]!.lastStatus, "PROVISIONING")
    await virtual!.advanceBy(5 * 60_000)
    const later = await send<{ tasks: Array<{ lastStatus: string; availabilityZone: string }> }>(
      new DescribeTasksCommand({ cluster: "hangar", tasks: [waiting.tasks[0]!.taskArn] })
    )
    assert.strictEqual(later.tasks[0]!.lastStatus, "RUNNING")
    assert.match(later.tasks[0]!.availabilityZone, /^us-east-1[abc]$/)
    const instances = await send<{ containerInstanceArns: Array<string> }>(
      new ListContainerInstancesCommand({ cluster: "hangar" })
    )
    assert.isAtLeast(instances.containerInstanceArns.length, 2)
    const described = await send<{
      containerInstances: Array<{
        registeredResources: Array<{ name: string; integerValue: number }>
        remainingResources: Array<{ name: string; integerValue: number }>
      }>
    }>(
      new DescribeContainerInstancesCommand({
        cluster: "hangar",
        containerInstances: instances.containerInstanceArns
      })
    )
    const resource = (list: Array<{ name: string; integerValue: number }>, name: string) =>
      list.find((r) => r.name === name)!.integerValue
    assert.strictEqual(resource(described.containerInstances[0]!.registeredResources, "CPU"), 2048)
    assert.isBelow(resource(described.containerInstances[0]!.registeredResources, "MEMORY"), 4096)
    assert.strictEqual(
      resource(described.containerInstances[0]!.remainingResources, "MEMORY"),
      resource(described.containerInstances[0]!.registeredResources, "MEMORY") - 3000
    )
  })

  it("clientToken makes RunTask idempotent", async () => {
    const { send, sim } = await setup()
    const a = await send<Tasks>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", clientToken: "task-1" })
    )
    const b = await send<Tasks>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", clientToken: "task-1" })
    )
    assert.strictEqual(a.tasks[0]!.taskArn, b.tasks[0]!.taskArn)
    assert.strictEqual(sim.model.tasks.size, 1)
  })

  it("clientToken keeps the first answer per (cluster, token): failures are answered again, another cluster runs its own", async () => {
    const { send, sim } = await setup()
    await send(
      new RegisterTaskDefinitionCommand({
        family: "huge",
        cpu: "1024",
        memory: "16384",
        containerDefinitions: [{ name: "huge", image: "hangar/agent" }]
      })
    )
    type Answer = Tasks & { failures: Array<{ reason: string }> }
    const run = (cluster: string, taskDefinition: string, clientToken: string) =>
      send<Answer>(new RunTaskCommand({ cluster, taskDefinition, launchType: "EC2", clientToken }))
    const first = await run("hangar", "huge", "retry-1")
    assert.deepStrictEqual(
      [first.tasks.length, first.failures.map((f) => f.reason)],
      [0, ["RESOURCE:MEMORY"]]
    )
    const retried = await run("hangar", "huge", "retry-1")
    assert.deepStrictEqual(
      [retried.tasks.length, retried.failures.map((f) => f.reason)],
      [0, ["RESOURCE:MEMORY"]]
    )
    // Even a retry whose body would now fit keeps the first answer.
    const sameToken = await run("hangar", "agent", "retry-1")
    assert.deepStrictEqual(
      sameToken.failures.map((f) => f.reason),
      ["RESOURCE:MEMORY"]
    )
    assert.strictEqual(sim.model.tasks.size, 0)
    sim.provisionCluster("other", [
      { name: "cp-other", group: { name: "asg-other", instanceType: "t3.large", min: 1, max: 2, desired: 1 } }
    ])
    const onHangar = await run("hangar", "agent", "shared-token")
    const onOther = await run("other", "agent", "shared-token")
    assert.strictEqual(onHangar.tasks.length, 1)
    assert.strictEqual(onOther.tasks.length, 1)
    assert.include(onHangar.tasks[0]!.taskArn, ":task/hangar/")
    assert.include(onOther.tasks[0]!.taskArn, ":task/other/")
    const again = await run("other", "agent", "shared-token")
    assert.strictEqual(again.tasks[0]!.taskArn, onOther.tasks[0]!.taskArn)
    assert.strictEqual(sim.model.tasks.size, 2)
  })

  it("awsvpc needs a network configuration; volumes configured at launch need RunTask's volumeConfigurations", async () => {
    const { send, sim } = await setup()
    const rejects = async (command: unknown, text: string) => {
      const error = await send(command as never).then(
        () => undefined,
        (e: unknown) => e as Error
      )
      assert.instanceOf(error, InvalidParameterException)
      assert.include(error!.message, text)
    }
    await rejects(
      new RegisterTaskDefinitionCommand({
        family: "lost-mount",
        cpu: "256",
        memory: "512",
        containerDefinitions: [
          { name: "c", image: "x", mountPoints: [{ sourceVolume: "nowhere", containerPath: "/w" }] }
        ]
      }),
      "sourceVolume nowhere"
    )
    await send(
      new RegisterTaskDefinitionCommand({
        family: "vpc",
        cpu: "256",
        memory: "512",
        networkMode: "awsvpc",
        volumes: [
          { name: "workspace", configuredAtLaunch: true },
          { name: "shared", efsVolumeConfiguration: { fileSystemId: "fs-123", transitEncryption: "ENABLED" } }
        ],
        containerDefinitions: [
          {
            name: "c",
            image: "x",
            mountPoints: [
              { sourceVolume: "workspace", containerPath: "/workspace" },
              { sourceVolume: "shared", containerPath: "/shared" }
            ]
          }
        ]
      })
    )
    const described = await send<{
      taskDefinition: { networkMode: string; volumes: Array<{ name: string }> }
    }>(new DescribeTaskDefinitionCommand({ taskDefinition: "vpc" }))
    assert.strictEqual(described.taskDefinition.networkMode, "awsvpc")
    assert.deepStrictEqual(
      described.taskDefinition.volumes.map((v) => v.name),
      ["workspace", "shared"]
    )
    const network = { awsvpcConfiguration: { subnets: ["subnet-1"], securityGroups: ["sg-1"] } }
    const ebs = [
      { name: "workspace", managedEBSVolume: { roleArn: "arn:aws:iam::1:role/infra", sizeInGiB: 20 } }
    ]
    await rejects(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "vpc", volumeConfigurations: ebs }),
      "Network Configuration must be provided"
    )
    await rejects(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "vpc", networkConfiguration: network }),
      "volume workspace is configured at launch"
    )
    await rejects(
      new RunTaskCommand({
        cluster: "hangar",
        taskDefinition: "vpc",
        networkConfiguration: network,
        volumeConfigurations: [...ebs, { name: "shared", managedEBSVolume: { roleArn: undefined } }]
      }),
      "shared is not a volume the task definition configures at launch"
    )
    assert.strictEqual(sim.model.tasks.size, 0)
    const ran = await send<Tasks>(
      new RunTaskCommand({
        cluster: "hangar",
        taskDefinition: "vpc",
        networkConfiguration: network,
        volumeConfigurations: ebs
      })
    )
    assert.strictEqual(ran.tasks.length, 1)
  })

  it("tags on clusters and tasks; DescribeTasks returns tags only with include TAGS", async () => {
    const { send, sim } = await setup()
    const run = await send<Tasks>(
      new RunTaskCommand({
        cluster: "hangar",
        taskDefinition: "agent",
        tags: [{ key: "session", value: "s1" }]
      })
    )
    const arn = run.tasks[0]!.taskArn
    await send(
      new TagResourceCommand({
        resourceArn: arn,
        tags: [
          { key: "session", value: "s2" },
          { key: "repo", value: "r" }
        ]
      })
    )
    const tags = await send<{ tags: Array<{ key: string; value: string }> }>(
      new ListTagsForResourceCommand({ resourceArn: arn })
    )
    assert.deepStrictEqual(tags.tags, [
      { key: "session", value: "s2" },
      { key: "repo", value: "r" }
    ])
    const clusterArn = sim.model.clusters.get("hangar")!.arn
    await send(new TagResourceCommand({ resourceArn: clusterArn, tags: [{ key: "team", value: "hangar" }] }))
    const clusterTags = await send<{ tags: Array<{ key: string }> }>(
      new ListTagsForResourceCommand({ resourceArn: clusterArn })
    )
    assert.deepStrictEqual(
      clusterTags.tags.map((t) => t.key),
      ["team"]
    )
    const plain = await send<{ tasks: Array<{ tags?: unknown }> }>(
      new DescribeTasksCommand({ cluster: "hangar", tasks: [arn] })
    )
    assert.isUndefined(plain.tasks[0]!.tags)
    const tagged = await send<{ tasks: Array<{ tags: Array<unknown> }> }>(
      new DescribeTasksCommand({ cluster: "hangar", tasks: [arn], include: ["TAGS"] })
    )
    assert.strictEqual(tagged.tasks[0]!.tags.length, 2)
    const unknown = await send(
      new ListTagsForResourceCommand({ resourceArn: "arn:aws:ecs:us-east-1:1:task/x/y" })
    ).catch((e: unknown) => e)
    assert.instanceOf(unknown, InvalidParameterException)
  })

  it("ExecuteCommand: a session with a loopback streamUrl; typed errors when exec is off or the task is not running", async () => {
    const { send, sim } = await setup()
    const url = await sim.listen({ port: 0 })
    const off = await send<Tasks>(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" }))
    const refused = await send(
      new ExecuteCommandCommand({
        cluster: "hangar",
        task: off.tasks[0]!.taskArn,
        command: "echo hi",
        interactive: true
      })
    ).catch((e: unknown) => e)
    assert.instanceOf(refused, InvalidParameterException)
    assert.include((refused as Error).message, "execute command was not enabled")
    const nonInteractive = await send(
      new ExecuteCommandCommand({
        cluster: "hangar",
        task: off.tasks[0]!.taskArn,
        command: "echo hi",
        interactive: false
      })
    ).catch((e: unknown) => e)
    assert.instanceOf(nonInteractive, InvalidParameterException)
    assert.include((nonInteractive as Error).message, "interactive")
    const on = await send<Tasks>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", enableExecuteCommand: true })
    )
    const early = await send(
      new ExecuteCommandCommand({
        cluster: "hangar",
        task: on.tasks[0]!.taskArn,
        command: "echo hi",
        interactive: true
      })
    ).catch((e: unknown) => e)
    assert.instanceOf(early, TargetNotConnectedException)
    await (sim.clock as VirtualClock.VirtualClock).advanceBy(60_000)
    const session = await send<{
      session: { streamUrl: string; tokenValue: string; sessionId: string }
      containerName: string
    }>(
      new ExecuteCommandCommand({
        cluster: "hangar",
        task: on.tasks[0]!.taskArn,
        command: "echo hi",
        interactive: true
      })
    )
    assert.strictEqual(session.containerName, "agent")
    assert.isTrue(session.session.streamUrl.startsWith(`${url.replace("http", "ws")}/ssm/data-channel/`))
    assert.isAtLeast(session.session.tokenValue.length, 24)
    await sim.close()
  })

  it("typed exceptions; throttling and 5xx are retried by the SDK; an unknown operation is a clear error", async () => {
    const { send, sim } = await setup({ maxAttempts: 3 })
    const missing = await send(new ListTasksCommand({ cluster: "nope" })).catch((e: unknown) => e)
    assert.instanceOf(missing, ClusterNotFoundException)
    assert.include((missing as Error).message, "nope")
    sim.faults.add({ kind: "throttle", operation: "ListTasks", times: 2 })
    const listed = await send<{ $metadata: { attempts: number } }>(
      new ListTasksCommand({ cluster: "hangar" })
    )
    assert.strictEqual(listed.$metadata.attempts, 3)
    sim.faults.add({
      kind: "error",
      operation: "DescribeClusters",
      status: 500,
      type: "ServerException",
      message: "boom",
      times: 1
    })
    const described = await send<{ $metadata: { attempts: number } }>(
      new DescribeClustersCommand({ clusters: ["hangar"] })
    )
    assert.strictEqual(described.$metadata.attempts, 2)
    sim.faults.add({ kind: "throttle", operation: "ListTasks", times: 5 })
    const exhausted = await send(new ListTasksCommand({ cluster: "hangar" })).catch((e: unknown) => e)
    assert.instanceOf(exhausted, ECSServiceException)
    assert.strictEqual((exhausted as ECSServiceException).name, "ThrottlingException")
    assert.strictEqual((exhausted as ECSServiceException).$metadata.attempts, 3)
    const response = await sim.server.inject({
      method: "POST",
      url: "/",
      headers: {
        "x-amz-target": "AmazonEC2ContainerServiceV20141113.CreateService",
        "content-type": "application/x-amz-json-1.1"
      },
      payload: "{}"
    })
    assert.strictEqual(response.statusCode, 400)
    assert.strictEqual(response.json().__type, "UnknownOperationException")
    assert.include(response.json().message, "CreateService")
    assert.include(response.json().message, "RunTask")
  })

  it("over a real loopback port through AWS_ENDPOINT_URL_ECS; a wrong access key is UnrecognizedClientException", async () => {
    const { sim } = await setup({ accessKeys: ["AKIDTEST"] })
    const url = await sim.listen({ host: "127.0.0.1", port: 0 })
    const previous = process.env.AWS_ENDPOINT_URL_ECS
    process.env.AWS_ENDPOINT_URL_ECS = url
    try {
      const client = new ECSClient({ region: "us-east-1", credentials, maxAttempts: 1 })
      const clusters = await client.send(new DescribeClustersCommand({ clusters: ["hangar"] }))
      assert.strictEqual(clusters.clusters?.[0]?.clusterName, "hangar")
      const wrong = new ECSClient({
        region: "us-east-1",
        credentials: { accessKeyId: "AKIDWRONG", secretAccessKey: "x" },
        maxAttempts: 1
      })
      const denied = await wrong.send(new DescribeClustersCommand({})).catch((e: unknown) => e)
      assert.instanceOf(denied, ECSServiceException)
      assert.strictEqual((denied as ECSServiceException).name, "UnrecognizedClientException")
      assert.notInclude((denied as Error).message, "AKIDWRONG")
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_ECS
      else process.env.AWS_ENDPOINT_URL_ECS = previous
      await sim.close()
    }
  })
})
