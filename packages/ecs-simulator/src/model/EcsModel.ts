/**
 * The ECS-on-EC2 model: clusters, task definitions, capacity providers over Auto Scaling groups of EC2
 * instances, container instances, tasks. Placement is binpack over CPU (1024 units per vCPU), registered memory
 * (below physical) and GPUs; managed scaling evaluates every minute toward targetCapacity, launches instances
 * that take a seeded launch time, and removes an instance only after 15 minutes empty. Time comes from the
 * injected clock; no fastify and no wall clock here.
 */
import { ExecBackend, Pricing, type VirtualClock } from "@hangar/core"

export class EcsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400
  ) {
    super(message)
  }
}

export type TaskStatus =
  | "PROVISIONING"
  | "PENDING"
  | "ACTIVATING"
  | "RUNNING"
  | "DEACTIVATING"
  | "STOPPING"
  | "DEPROVISIONING"
  | "STOPPED"

/** The lifecycle in order; a task only moves forward through it. */
export const lifecycle: ReadonlyArray<TaskStatus> = [
  "PROVISIONING",
  "PENDING",
  "ACTIVATING",
  "RUNNING",
  "DEACTIVATING",
  "STOPPING",
  "DEPROVISIONING",
  "STOPPED"
]

export interface Timing {
  /** From RunInstances to a registered container instance (EC2 boot + agent), before jitter. */
  readonly instanceLaunch: number
  /** Task placement to RUNNING on a warm instance (image pull included). */
  readonly taskStart: number
  readonly taskStop: number
  /** How often managed scaling evaluates (ECS: every minute). */
  readonly scalingPeriod: number
  /** Empty time before an instance is scaled in (CloudWatch: 15 data points). */
  readonly scaleInAfter: number
  /** How long a PROVISIONING task waits for capacity before it stops (10–30 min on AWS). */
  readonly provisioningTimeout: number
  /** Stopped tasks and deregistered instances stay describable at least this long. */
  readonly retention: number
}

export const defaultTiming: Timing = {
  instanceLaunch: 90_000,
  taskStart: 4_000,
  taskStop: 2_000,
  scalingPeriod: 60_000,
  scaleInAfter: 15 * 60_000,
  provisioningTimeout: 20 * 60_000,
  retention: 2 * 3_600_000
}

export interface Cluster {
  readonly name: string
  readonly arn: string
  capacityProviders: Array<string>
  defaultStrategy: Array<{ capacityProvider: string; weight?: number; base?: number }>
  status: "ACTIVE" | "INACTIVE"
  tags: Array<{ key: string; value: string }>
}

export interface ContainerDefinition {
  readonly name: string
  readonly image: string
  readonly cpu?: number
  readonly memory?: number
  readonly memoryReservation?: number
  readonly essential?: boolean
  readonly command?: ReadonlyArray<string>
  readonly environment?: ReadonlyArray<{ name: string; value: string }>
  readonly resourceRequirements?: ReadonlyArray<{ type: string; value: string }>
}

export interface TaskDefinition {
  readonly family: string
  readonly revision: number
  readonly arn: string
  readonly containerDefinitions: ReadonlyArray<ContainerDefinition>
  readonly cpu: number
  readonly memory: number
  readonly gpus: number
  status: "ACTIVE" | "INACTIVE"
  readonly registeredAt: number
}

export interface AutoScalingGroup {
  readonly name: string
  readonly arn: string
  readonly instanceType: string
  min: number
  max: number
  desired: number
}

export interface CapacityProvider {
  readonly name: string
  readonly arn: string
  readonly asg: string
  readonly targetCapacity: number
  readonly managedScaling: boolean
  readonly managedTerminationProtection: boolean
}

export interface Instance {
  readonly id: string
  readonly arn: string
  readonly cluster: string
  readonly capacityProvider: string
  readonly instanceType: string
  readonly cpu: number
  readonly memory: number
  readonly gpus: number
  state: "pending" | "running" | "terminated"
  status: "REGISTERING" | "ACTIVE" | "DRAINING" | "INACTIVE"
  readonly launchedAt: number
  registeredAt: number | undefined
  terminatedAt: number | undefined
  readonly tasks: Set<string>
  emptySince: number | undefined
}

export interface Task {
  readonly arn: string
  readonly cluster: string
  readonly definition: TaskDefinition
  readonly capacityProvider: string | undefined
  instance: string | undefined
  lastStatus: TaskStatus
  desiredStatus: "RUNNING" | "STOPPED"
  readonly createdAt: number
  startedAt: number | undefined
  stoppingAt: number | undefined
  stoppedAt: number | undefined
  stopCode: string | undefined
  stoppedReason: string | undefined
  readonly startedBy: string | undefined
  readonly group: string | undefined
  readonly environment: ReadonlyArray<{ name: string; value: string }>
  readonly command: ReadonlyArray<string> | undefined
  readonly enableExecuteCommand: boolean
  tags: Array<{ key: string; value: string }>
  exitCode: number | undefined
  readonly running: AbortController
  generation: number
}

export interface RunTaskRequest {
  readonly cluster: string
  readonly taskDefinition: string
  readonly count: number
  readonly launchType?: "EC2"
  readonly capacityProviderStrategy?: ReadonlyArray<{ capacityProvider: string }>
  readonly startedBy?: string
  readonly group?: string
  readonly clientToken?: string
  readonly environment?: ReadonlyArray<{ name: string; value: string }>
  readonly command?: ReadonlyArray<string>
  readonly enableExecuteCommand?: boolean
  readonly tags?: ReadonlyArray<{ key: string; value: string }>
}

class Random {
  private s: number
  constructor(seed: number) {
    this.s = seed >>> 0 || 1
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  hex(n: number): string {
    let out = ""
    for (let i = 0; i < n; i++) out += "0123456789abcdef"[Math.floor(this.next() * 16)]
    return out
  }
  jitter(base: number, spread = 0.25): number {
    return Math.round(base * (1 - spread + 2 * spread * this.next()))
  }
}

/** Memory ECS registers for tasks: physical memory less what the OS and agent keep (≈ 7985 of 8192 MiB). */
export const registeredMemory = (physicalMib: number): number => Math.floor(physicalMib * 0.975)

export interface ModelOptions {
  readonly clock: VirtualClock.SimulationClock
  readonly seed?: number
  readonly region?: string
  readonly account?: string
  readonly timing?: Partial<Timing>
  readonly exec?: ExecBackend.ExecBackend
  readonly rootVolumeGib?: number
}

export class EcsModel {
  readonly clusters = new Map<string, Cluster>()
  readonly definitions = new Map<string, Array<TaskDefinition>>()
  readonly capacityProviders = new Map<string, CapacityProvider>()
  readonly groups = new Map<string, AutoScalingGroup>()
  readonly instances = new Map<string, Instance>()
  readonly tasks = new Map<string, Task>()
  /** Tasks not yet STOPPED, so per-minute scaling does not walk a month of history. */
  readonly activeTasks = new Set<Task>()
  readonly tokens = new Map<string, ReadonlyArray<string>>()
  readonly resourceTags = new Map<string, Array<{ key: string; value: string }>>()
  readonly clock: VirtualClock.SimulationClock
  readonly timing: Timing
  readonly region: string
  readonly account: string
  readonly rootVolumeGib: number
  readonly exec: ExecBackend.ExecBackend
  private readonly random: Random
  /** State changes made, for the benchmark. */
  events = 0
  /** Managed-scaling evaluations run (one a minute per cluster), for the benchmark. */
  scalingEvaluations = 0
  private scaling = false

  constructor(options: ModelOptions) {
    this.clock = options.clock
    this.random = new Random(options.seed ?? 1)
    this.region = options.region ?? "us-east-1"
    this.account = options.account ?? "123456789012"
    this.timing = { ...defaultTiming, ...options.timing }
    this.exec = options.exec ?? ExecBackend.scripted()
    this.rootVolumeGib = options.rootVolumeGib ?? Pricing.defaultEbsRootGib
  }

  private arn(kind: string, name: string) {
    return `arn:aws:ecs:${this.region}:${this.account}:${kind}/${name}`
  }

  // ---- clusters

  createCluster(name: string, tags: Array<{ key: string; value: string }> = []): Cluster {
    const existing = this.clusters.get(name)
    if (existing !== undefined && existing.status === "ACTIVE") return existing
    const cluster: Cluster = {
      name,
      arn: this.arn("cluster", name),
      capacityProviders: [],
      defaultStrategy: [],
      status: "ACTIVE",
      tags
    }
    this.clusters.set(name, cluster)
    this.ensureScalingLoop()
    return cluster
  }

  /** A cluster by name or ARN. */
  cluster(ref: string | undefined): Cluster {
    const name = (ref ?? "default").split("/").pop()!
    const cluster = this.clusters.get(name)
    if (cluster === undefined || cluster.status !== "ACTIVE")
      throw new EcsError("ClusterNotFoundException", `Cluster not found: ${ref ?? "default"}.`)
    return cluster
  }

  deleteCluster(ref: string): Cluster {
    const cluster = this.cluster(ref)
    if ([...this.tasks.values()].some((t) => t.cluster === cluster.name && t.lastStatus !== "STOPPED")) {
      throw new EcsError(
        "ClusterContainsTasksException",
        "The cluster cannot be deleted while tasks are active."
      )
    }
    if ([...this.instances.values()].some((i) => i.cluster === cluster.name && i.state !== "terminated")) {
      throw new EcsError(
        "ClusterContainsContainerInstancesException",
        "The cluster cannot be deleted while container instances are active."
      )
    }
    cluster.status = "INACTIVE"
    return cluster
  }

  // ---- task definitions

  registerTaskDefinition(
    family: string,
    containers: ReadonlyArray<ContainerDefinition>,
    cpu?: number,
    memory?: number
  ): TaskDefinition {
    if (containers.length === 0)
      throw new EcsError("ClientException", "containerDefinitions: at least one container is required.")
    const revisions = this.definitions.get(family) ?? []
    const taskCpu = cpu ?? containers.reduce((sum, c) => sum + (c.cpu ?? 0), 0)
    const taskMemory =
      memory ?? containers.reduce((sum, c) => sum + (c.memoryReservation ?? c.memory ?? 0), 0)
    if (taskMemory <= 0) {
      throw new EcsError(
        "ClientException",
        "Invalid setting for container: at least one of 'memory' or 'memoryReservation' must be specified."
      )
    }
    const gpus = containers.reduce(
      (sum, c) =>
        sum +
        (c.resourceRequirements ?? [])
          .filter((r) => r.type === "GPU")
          .reduce((n, r) => n + Number(r.value), 0),
      0
    )
    const definition: TaskDefinition = {
      family,
      revision: revisions.length + 1,
      arn: this.arn("task-definition", `${family}:${revisions.length + 1}`),
      containerDefinitions: containers,
      cpu: taskCpu,
      memory: taskMemory,
      gpus,
      status: "ACTIVE",
      registeredAt: this.clock.now()
    }
    revisions.push(definition)
    this.definitions.set(family, revisions)
    return definition
  }

  /** `family`, `family:revision` or an ARN; the latest ACTIVE revision when none is given. */
  taskDefinition(ref: string): TaskDefinition {
    const last = ref.split("/").pop()!
    const [family, revision] = last.split(":")
    const revisions = this.definitions.get(family ?? "") ?? []
    const found =
      revision === undefined
        ? [...revisions].reverse().find((d) => d.status === "ACTIVE")
        : revisions.find((d) => d.revision === Number(revision))
    if (found === undefined)
      throw new EcsError("ClientException", `Unable to describe task definition ${ref}.`)
    return found
  }

  // ---- capacity

  createAutoScalingGroup(group: {
    name: string
    instanceType: string
    min: number
    max: number
    desired: number
  }): AutoScalingGroup {
    if (Pricing.ec2InstanceTypes[group.instanceType] === undefined) {
      throw new EcsError(
        "InvalidParameterException",
        `instanceType ${group.instanceType} is not one of ${Object.keys(Pricing.ec2InstanceTypes).join(", ")}`
      )
    }
    if (!(group.min >= 0 && group.min <= group.desired && group.desired <= group.max && group.max > 0)) {
      throw new EcsError(
        "InvalidParameterException",
        "Auto Scaling group sizes must satisfy 0 <= min <= desired <= max and max > 0."
      )
    }
    const asg: AutoScalingGroup = {
      ...group,
      arn: `arn:aws:autoscaling:${this.region}:${this.account}:autoScalingGroup:${this.random.hex(8)}:autoScalingGroupName/${group.name}`
    }
    this.groups.set(group.name, asg)
    return asg
  }

  createCapacityProvider(
    name: string,
    asgArn: string,
    targetCapacity = 100,
    managedScaling = true,
    managedTerminationProtection = true
  ): CapacityProvider {
    if (this.capacityProviders.has(name))
      throw new EcsError("ClientException", `The specified capacity provider ${name} already exists.`)
    const asg = [...this.groups.values()].find((g) => g.arn === asgArn || g.name === asgArn)
    if (asg === undefined)
      throw new EcsError("ClientException", `The specified Auto Scaling group ARN ${asgArn} is not valid.`)
    if (targetCapacity < 1 || targetCapacity > 100)
      throw new EcsError("InvalidParameterException", "targetCapacity must be between 1 and 100.")
    const provider: CapacityProvider = {
      name,
      arn: this.arn("capacity-provider", name),
      asg: asg.name,
      targetCapacity,
      managedScaling,
      managedTerminationProtection
    }
    this.capacityProviders.set(name, provider)
    return provider
  }

  putClusterCapacityProviders(
    clusterRef: string,
    providers: ReadonlyArray<string>,
    strategy: ReadonlyArray<{ capacityProvider: string }>
  ): Cluster {
    const cluster = this.cluster(clusterRef)
    for (const name of providers) {
      if (!this.capacityProviders.has(name))
        throw new EcsError("InvalidParameterException", `The capacity provider ${name} does not exist.`)
    }
    cluster.capacityProviders = [...providers]
    cluster.defaultStrategy = strategy.map((s) => ({ capacityProvider: s.capacityProvider }))
    // The group's desired instances come up attached to this cluster.
    for (const name of providers) {
      const provider = this.capacityProviders.get(name)!
      const asg = this.groups.get(provider.asg)!
      const live = this.instancesOf(cluster.name, name).length
      for (let i = live; i < asg.desired; i++) this.launch(cluster.name, provider, asg, true)
    }
    return cluster
  }

  private instancesOf(cluster: string, provider: string): Array<Instance> {
    return [...this.instances.values()].filter(
      (i) => i.cluster === cluster && i.capacityProvider === provider && i.state !== "terminated"
    )
  }

  private launch(
    cluster: string,
    provider: CapacityProvider,
    asg: AutoScalingGroup,
    immediately = false
  ): Instance {
    const type = Pricing.ec2InstanceTypes[asg.instanceType]!
    const id = `i-${this.random.hex(17)}`
    const instance: Instance = {
      id,
      arn: this.arn("container-instance", `${cluster}/${this.random.hex(32)}`),
      cluster,
      capacityProvider: provider.name,
      instanceType: asg.instanceType,
      cpu: type.vcpus * 1024,
      memory: registeredMemory(type.memoryMib),
      gpus: type.gpus,
      state: "pending",
      status: "REGISTERING",
      launchedAt: this.clock.now(),
      registeredAt: undefined,
      terminatedAt: undefined,
      tasks: new Set(),
      emptySince: undefined
    }
    this.instances.set(id, instance)
    this.events++
    const register = () => {
      instance.state = "running"
      instance.status = "ACTIVE"
      instance.registeredAt = this.clock.now()
      instance.emptySince = this.clock.now()
      this.events++
      this.placeProvisioning(cluster)
    }
    if (immediately) register()
    else
      void this.clock
        .sleepUntil(this.clock.now() + this.random.jitter(this.timing.instanceLaunch))
        .then(register)
    return instance
  }

  private terminate(instance: Instance): void {
    instance.state = "terminated"
    instance.status = "INACTIVE"
    instance.terminatedAt = this.clock.now()
    this.events++
  }

  /** CPU units, MiB and GPUs the instance's tasks reserve. */
  used(instance: Instance) {
    let cpu = 0
    let memory = 0
    let gpus = 0
    for (const arn of instance.tasks) {
      const t = this.tasks.get(arn)!
      cpu += t.definition.cpu
      memory += t.definition.memory
      gpus += t.definition.gpus
    }
    return { cpu, memory, gpus }
  }

  /** Binpack: of the instances with room, the one with the least CPU left. */
  private place(
    cluster: string,
    definition: TaskDefinition,
    providers: ReadonlyArray<string>
  ): Instance | { reason: string } {
    let best: Instance | undefined
    let bestLeft = Number.POSITIVE_INFINITY
    let reason = "RESOURCE:MEMORY"
    for (const instance of this.instances.values()) {
      if (
        instance.cluster !== cluster ||
        instance.status !== "ACTIVE" ||
        !providers.includes(instance.capacityProvider)
      )
        continue
      const used = this.used(instance)
      if (instance.gpus - used.gpus < definition.gpus) {
        reason = "RESOURCE:GPU"
        continue
      }
      if (instance.memory - used.memory < definition.memory) {
        reason = "RESOURCE:MEMORY"
        continue
      }
      if (instance.cpu - used.cpu < definition.cpu) {
        reason = "RESOURCE:CPU"
        continue
      }
      const left = instance.cpu - used.cpu - definition.cpu
      if (left < bestLeft) {
        best = instance
        bestLeft = left
      }
    }
    return best ?? { reason }
  }

  // ---- tasks

  runTask(request: RunTaskRequest): {
    tasks: Array<Task>
    failures: Array<{ arn?: string; reason: string; detail?: string }>
  } {
    const cluster = this.cluster(request.cluster)
    const definition = this.taskDefinition(request.taskDefinition)
    if (request.count < 1 || request.count > 10)
      throw new EcsError("InvalidParameterException", "count must be between 1 and 10.")
    if (request.launchType !== undefined && request.capacityProviderStrategy !== undefined) {
      throw new EcsError(
        "InvalidParameterException",
        "Specifying both a launch type and capacity provider strategy is not supported."
      )
    }
    if (request.clientToken !== undefined) {
      const previous = this.tokens.get(request.clientToken)
      if (previous !== undefined) return { tasks: previous.map((arn) => this.tasks.get(arn)!), failures: [] }
    }
    const strategy =
      request.launchType === "EC2" ? [] : (request.capacityProviderStrategy ?? cluster.defaultStrategy)
    const providers =
      request.launchType === "EC2" ? cluster.capacityProviders : strategy.map((s) => s.capacityProvider)
    for (const p of providers) {
      if (!cluster.capacityProviders.includes(p))
        throw new EcsError(
          "InvalidParameterException",
          `The capacity provider ${p} is not associated with the cluster.`
        )
    }
    const tasks: Array<Task> = []
    const failures: Array<{ arn?: string; reason: string; detail?: string }> = []
    for (let i = 0; i < request.count; i++) {
      const placement = this.place(cluster.name, definition, providers)
      const managed =
        request.launchType !== "EC2" && providers.some((p) => this.capacityProviders.get(p)?.managedScaling)
      if (!("id" in placement) && !managed) {
        failures.push({
          arn: [...this.instances.values()].find((x) => x.cluster === cluster.name)?.arn ?? cluster.arn,
          reason: placement.reason
        })
        continue
      }
      const task: Task = {
        arn: this.arn("task", `${cluster.name}/${this.random.hex(32)}`),
        cluster: cluster.name,
        definition,
        capacityProvider: "id" in placement ? placement.capacityProvider : providers[0],
        instance: undefined,
        lastStatus: "PROVISIONING",
        desiredStatus: "RUNNING",
        createdAt: this.clock.now(),
        startedAt: undefined,
        stoppingAt: undefined,
        stoppedAt: undefined,
        stopCode: undefined,
        stoppedReason: undefined,
        startedBy: request.startedBy,
        group: request.group,
        environment: request.environment ?? [],
        command: request.command,
        enableExecuteCommand: request.enableExecuteCommand ?? false,
        tags: [...(request.tags ?? [])],
        exitCode: undefined,
        running: new AbortController(),
        generation: 0
      }
      this.tasks.set(task.arn, task)
      this.activeTasks.add(task)
      this.events++
      tasks.push(task)
      if ("id" in placement) this.assign(task, placement)
      else {
        const generation = task.generation
        void this.clock.sleepUntil(this.clock.now() + this.timing.provisioningTimeout).then(() => {
          if (task.lastStatus === "PROVISIONING" && task.generation === generation) {
            this.finishStop(
              task,
              "TaskFailedToStart",
              "Timeout waiting for capacity: the capacity provider could not launch an instance in time"
            )
          }
        })
      }
    }
    if (request.clientToken !== undefined)
      this.tokens.set(
        request.clientToken,
        tasks.map((t) => t.arn)
      )
    return { tasks, failures }
  }

  private assign(task: Task, instance: Instance): void {
    task.instance = instance.id
    instance.tasks.add(task.arn)
    instance.emptySince = undefined
    this.advance(task, "PENDING")
    const generation = task.generation
    void this.clock.sleepUntil(this.clock.now() + this.random.jitter(this.timing.taskStart)).then(() => {
      if (task.generation !== generation || task.desiredStatus !== "RUNNING") return
      this.advance(task, "ACTIVATING")
      this.advance(task, "RUNNING")
      task.startedAt = this.clock.now()
      if (task.command !== undefined) void this.runEssential(task)
    })
  }

  /** A task given a command runs it as its essential container and stops when it exits. */
  private async runEssential(task: Task): Promise<void> {
    const outcome = await this.exec.run({ command: task.command!, signal: task.running.signal }, this.clock)
    if (task.desiredStatus === "STOPPED") return
    task.exitCode = outcome.exitCode
    this.stopTask(task, "Essential container in task exited", "EssentialContainerExited")
  }

  private placeProvisioning(cluster: string): void {
    for (const task of [...this.activeTasks]) {
      if (task.cluster !== cluster || task.lastStatus !== "PROVISIONING" || task.desiredStatus !== "RUNNING")
        continue
      const placement = this.place(
        cluster,
        task.definition,
        task.capacityProvider === undefined ? [] : [task.capacityProvider]
      )
      if ("id" in placement) this.assign(task, placement)
    }
  }

  private advance(task: Task, status: TaskStatus): void {
    if (lifecycle.indexOf(status) <= lifecycle.indexOf(task.lastStatus) && status !== task.lastStatus) {
      throw new Error(`illegal task transition ${task.lastStatus} → ${status}`)
    }
    task.lastStatus = status
    task.generation++
    this.events++
  }

  task(clusterRef: string | undefined, ref: string): Task {
    const cluster = this.cluster(clusterRef)
    const id = ref.split("/").pop()!
    const task =
      this.tasks.get(ref) ??
      [...this.tasks.values()].find((t) => t.cluster === cluster.name && t.arn.endsWith(`/${id}`))
    if (task === undefined || task.cluster !== cluster.name)
      throw new EcsError("InvalidParameterException", `The referenced task was not found: ${ref}.`)
    return task
  }

  stopTask(task: Task, reason = "Task stopped by user", code = "UserInitiated"): Task {
    if (task.desiredStatus === "STOPPED") return task
    task.desiredStatus = "STOPPED"
    task.stoppingAt = this.clock.now()
    task.stopCode = code
    task.stoppedReason = reason
    task.running.abort()
    if (
      task.lastStatus === "PROVISIONING" ||
      task.lastStatus === "PENDING" ||
      task.lastStatus === "ACTIVATING"
    ) {
      this.finishStop(task, code, reason)
      return task
    }
    this.advance(task, "DEACTIVATING")
    this.advance(task, "STOPPING")
    void this.clock.sleepUntil(this.clock.now() + this.random.jitter(this.timing.taskStop)).then(() => {
      this.advance(task, "DEPROVISIONING")
      this.finishStop(task, code, reason)
    })
    return task
  }

  private finishStop(task: Task, code: string, reason: string): void {
    task.desiredStatus = "STOPPED"
    task.stopCode = task.stopCode ?? code
    task.stoppedReason = task.stoppedReason ?? reason
    this.advance(task, "STOPPED")
    task.stoppedAt = this.clock.now()
    this.activeTasks.delete(task)
    const instance = task.instance === undefined ? undefined : this.instances.get(task.instance)
    if (instance !== undefined) {
      instance.tasks.delete(task.arn)
      if (instance.tasks.size === 0) instance.emptySince = this.clock.now()
    }
  }

  /** Drops stopped tasks and terminated instances past the retention window (billing keeps instances). */
  private forget(now: number): void {
    for (const [arn, task] of this.tasks) {
      if (task.stoppedAt !== undefined && now - task.stoppedAt > this.timing.retention) this.tasks.delete(arn)
    }
  }

  /** Stopped tasks older than the retention window are no longer describable. */
  visible(task: Task): boolean {
    return task.stoppedAt === undefined || this.clock.now() - task.stoppedAt <= this.timing.retention
  }

  // ---- managed scaling

  private ensureScalingLoop(): void {
    if (this.scaling) return
    this.scaling = true
    const tick = () => {
      this.evaluateScaling()
      void this.clock.sleepUntil(this.clock.now() + this.timing.scalingPeriod).then(tick)
    }
    void this.clock.sleepUntil(this.clock.now() + this.timing.scalingPeriod).then(tick)
  }

  /** CapacityProviderReservation toward targetCapacity: scale out for waiting tasks, in after 15 empty minutes. */
  evaluateScaling(): void {
    const now = this.clock.now()
    this.scalingEvaluations++
    this.forget(now)
    for (const cluster of this.clusters.values()) {
      if (cluster.status !== "ACTIVE") continue
      for (const name of cluster.capacityProviders) {
        const provider = this.capacityProviders.get(name)!
        const asg = this.groups.get(provider.asg)!
        const live = this.instancesOf(cluster.name, name)
        const waiting = [...this.activeTasks].filter(
          (t) =>
            t.cluster === cluster.name &&
            t.capacityProvider === name &&
            t.lastStatus === "PROVISIONING" &&
            t.desiredStatus === "RUNNING"
        )
        const busy = live.filter((i) => i.tasks.size > 0 || i.state === "pending").length
        if (provider.managedScaling && waiting.length > 0) {
          const type = Pricing.ec2InstanceTypes[asg.instanceType]!
          const first = waiting[0]!.definition
          const perInstance = Math.max(
            1,
            Math.min(
              Math.floor((type.vcpus * 1024) / Math.max(1, first.cpu)),
              Math.floor(registeredMemory(type.memoryMib) / first.memory)
            )
          )
          const pending = live.filter((i) => i.state === "pending").length
          const needed = Math.ceil(waiting.length / perInstance) - pending
          // ECS scales out to at least two instances (200%) when none has room.
          const step = Math.max(needed, Math.min(2, needed > 0 ? 2 : 0))
          const target = Math.min(asg.max, live.length + Math.max(0, step))
          for (let i = live.length; i < target; i++) this.launch(cluster.name, provider, asg)
          asg.desired = Math.max(asg.desired, target)
        } else if (provider.managedScaling) {
          const needed = Math.max(asg.min, Math.ceil((busy * 100) / provider.targetCapacity))
          const removable = live
            .filter(
              (i) =>
                i.state === "running" &&
                i.tasks.size === 0 &&
                i.emptySince !== undefined &&
                now - i.emptySince >= this.timing.scaleInAfter
            )
            .sort((a, b) => a.launchedAt - b.launchedAt)
          let count = live.length
          for (const instance of removable) {
            if (count <= needed) break
            this.terminate(instance)
            count--
          }
          asg.desired = Math.max(asg.min, count)
        }
      }
    }
  }
}
