/** The wire shapes of ECS resources in answers: timestamps in epoch seconds, counts as ECS reports them. */
import type { EcsModel, Instance, Task } from "../model/EcsModel.js"

export const seconds = (millis: number | undefined) => (millis === undefined ? undefined : millis / 1000)

export const taskJson = (model: EcsModel, t: Task, includeTags = true) => {
  const instance = t.instance === undefined ? undefined : model.instances.get(t.instance)
  return {
    taskArn: t.arn,
    clusterArn: model.clusters.get(t.cluster)?.arn,
    taskDefinitionArn: t.definition.arn,
    containerInstanceArn: instance?.arn,
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    launchType: "EC2",
    capacityProviderName: t.capacityProvider,
    cpu: String(t.definition.cpu),
    memory: String(t.definition.memory),
    createdAt: seconds(t.createdAt),
    startedAt: seconds(t.startedAt),
    stoppingAt: seconds(t.stoppingAt),
    stoppedAt: seconds(t.stoppedAt),
    pullStartedAt: seconds(t.pullStartedAt),
    stopCode: t.stopCode,
    stoppedReason: t.stoppedReason,
    startedBy: t.startedBy,
    group: t.group,
    enableExecuteCommand: t.enableExecuteCommand,
    availabilityZone: instance?.availabilityZone,
    ...(includeTags ? { tags: t.tags } : {}),
    containers: t.definition.containerDefinitions.map((c) => ({
      name: c.name,
      image: c.image,
      lastStatus: t.lastStatus === "RUNNING" ? "RUNNING" : t.lastStatus === "STOPPED" ? "STOPPED" : "PENDING",
      exitCode: t.exitCode,
      taskArn: t.arn,
      containerArn: `${t.arn.replace(":task/", ":container/")}/${c.name}`,
      managedAgents: t.enableExecuteCommand
        ? [{ name: "ExecuteCommandAgent", lastStatus: t.lastStatus === "RUNNING" ? "RUNNING" : "PENDING" }]
        : []
    })),
    overrides: { containerOverrides: [] }
  }
}

export const instanceJson = (model: EcsModel, i: Instance) => {
  const cpu = i.reservedCpu
  const memory = i.reservedMemory
  const gpus = i.reservedGpus
  const resources = (c: number, m: number, g: number) => [
    { name: "CPU", type: "INTEGER", integerValue: c },
    { name: "MEMORY", type: "INTEGER", integerValue: m },
    ...(i.gpus > 0
      ? [{ name: "GPU", type: "STRINGSET", stringSetValue: Array.from({ length: g }, (_, n) => `gpu-${n}`) }]
      : [])
  ]
  return {
    containerInstanceArn: i.arn,
    ec2InstanceId: i.id,
    capacityProviderName: i.capacityProvider,
    status: i.status,
    ec2InstanceState: i.state,
    agentConnected: i.status === "ACTIVE",
    runningTasksCount: [...i.tasks].filter((a) => model.tasks.get(a)?.lastStatus === "RUNNING").length,
    pendingTasksCount: [...i.tasks].filter((a) => model.tasks.get(a)?.lastStatus !== "RUNNING").length,
    registeredAt: seconds(i.registeredAt),
    registeredResources: resources(i.cpu, i.memory, i.gpus),
    remainingResources: resources(i.cpu - cpu, i.memory - memory, i.gpus - gpus),
    attributes: [
      { name: "ecs.instance-type", value: i.instanceType },
      { name: "ecs.availability-zone", value: i.availabilityZone },
      // What Hangar's launch template and termination lifecycle hook record on AWS (the identity document's
      // pendingTime, and the moment the hook runs), here the exact instants the bill is computed from.
      { name: "hangar.launch-time", value: String(i.launchedAt) },
      ...(i.terminatedAt === undefined
        ? []
        : [{ name: "hangar.termination-time", value: String(i.terminatedAt) }])
    ]
  }
}

export const clusterJson = (model: EcsModel, name: string) => {
  const c = model.clusters.get(name)!
  return {
    clusterArn: c.arn,
    clusterName: c.name,
    status: c.status,
    capacityProviders: c.capacityProviders,
    defaultCapacityProviderStrategy: c.defaultStrategy,
    registeredContainerInstancesCount: [...model.instances.values()].filter(
      (i) => i.cluster === name && i.status === "ACTIVE"
    ).length,
    runningTasksCount: [...model.tasks.values()].filter(
      (t) => t.cluster === name && t.lastStatus === "RUNNING"
    ).length,
    pendingTasksCount: [...model.tasks.values()].filter(
      (t) => t.cluster === name && ["PROVISIONING", "PENDING", "ACTIVATING"].includes(t.lastStatus)
    ).length,
    tags: c.tags
  }
}

export const definitionJson = (d: ReturnType<EcsModel["taskDefinition"]>) => ({
  taskDefinitionArn: d.arn,
  family: d.family,
  revision: d.revision,
  status: d.status,
  cpu: String(d.cpu),
  memory: String(d.memory),
  containerDefinitions: d.containerDefinitions,
  networkMode: d.networkMode ?? "bridge",
  volumes: d.volumes ?? [],
  ...(d.taskRoleArn === undefined ? {} : { taskRoleArn: d.taskRoleArn }),
  requiresCompatibilities: ["EC2"],
  registeredAt: seconds(d.registeredAt)
})

export const capacityProviderJson = (model: EcsModel, name: string) => {
  const p = model.capacityProviders.get(name)!
  return {
    capacityProviderArn: p.arn,
    name: p.name,
    status: "ACTIVE",
    autoScalingGroupProvider: {
      autoScalingGroupArn: model.groups.get(p.asg)?.arn,
      managedScaling: {
        status: p.managedScaling ? "ENABLED" : "DISABLED",
        targetCapacity: p.targetCapacity,
        minimumScalingStepSize: p.minimumScalingStepSize,
        maximumScalingStepSize: p.maximumScalingStepSize,
        instanceWarmupPeriod: Math.round(model.timing.instanceWarmup / 1000)
      },
      managedTerminationProtection: p.managedTerminationProtection ? "ENABLED" : "DISABLED"
    },
    tags: p.tags
  }
}
