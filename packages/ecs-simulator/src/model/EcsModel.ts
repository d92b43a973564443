/**
 * The ECS-on-EC2 state and rules: clusters, task definitions, Auto Scaling groups behind capacity providers,
 * container instances in Availability Zones, tasks. Placement is binpack; managed scaling runs every
 * `scalingPeriod` toward targetCapacity; instances take a seeded launch time; tasks follow the declared
 * lifecycle with seeded timings. Time comes from the injected clock only (no fastify, no wall clock), and every
 * timer is tagged with the model's epoch so `reset` leaves no stale work behind.
 */
import { Pricing, VirtualClock } from "@hangar/core"
import * as ExecBackend from "@hangar/core/simulation/exec-backend"
import * as Arn from "./Arn.js"
import * as AutoScalingGroup from "./AutoScalingGroup.js"
import type { CapacityProvider, ScalingOptions } from "./CapacityProvider.js"
import type * as Cluster from "./Cluster.js"
import type { Instance } from "./ContainerInstance.js"
import * as ContainerInstance from "./ContainerInstance.js"
import * as Errors from "./EcsError.js"
import { EcsError } from "./EcsError.js"
import * as Lifecycle from "./Lifecycle.js"
import * as ManagedScaling from "./ManagedScaling.js"
import * as Placement from "./Placement.js"
import { SeededRandom } from "./Random.js"
import * as Tags from "./Tags.js"
import { Running, type StopCode, type Task } from "./Task.js"
import * as TaskDefinition from "./TaskDefinition.js"
import { Workspaces } from "./Workspaces.js"

export { registeredMemory } from "./AutoScalingGroup.js"
export type { Instance } from "./ContainerInstance.js"
export { EcsError } from "./EcsError.js"
export type { TaskStatus, TimingModel as Timing } from "./Lifecycle.js"
export { defaultTiming, taskStatuses as lifecycle } from "./Lifecycle.js"
export type { Task } from "./Task.js"
export type { ContainerDefinition } from "./TaskDefinition.js"

/** What the fault injector can do to capacity (an Availability Zone outage, a capacity shortfall). */
export interface CapacityFaults {
  zoneDown(zone: string): boolean
  /** True when this launch should fail with InsufficientInstanceCapacity. */
  launchFails(instanceType: string, zone: string): boolean
}

/** The abort reason of a stopped task (given explicitly: a default AbortError costs a DOMException per stop). */
const taskStopped = Object.freeze({ name: "TaskStopped", message: "the task stopped" })

const noFaults: CapacityFaults = { zoneDown: () => false, launchFails: () => false }

export interface RunTaskRequest {
  readonly cluster: string
  readonly taskDefinition: string
  readonly count: number
  readonly launchType?: "EC2"
  readonly capacityProviderStrategy?: ReadonlyArray<{ readonly capacityProvider: string }>
  readonly startedBy?: string
  readonly group?: string
  readonly clientToken?: string
  readonly environment?: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly command?: ReadonlyArray<string>
  readonly enableExecuteCommand?: boolean
  readonly tags?: ReadonlyArray<Tags.Tag>
}

export interface Failure {
  readonly arn?: string
  readonly reason: string
  readonly detail?: string
}

export interface ModelOptions {
  readonly clock: VirtualClock.SimulationClock
  readonly seed?: number
  readonly region?: string
  readonly account?: string
  readonly timing?: Partial<Lifecycle.TimingModel>
  readonly exec?: ExecBackend.ExecBackend
  readonly rootVolumeGib?: number
  /** The EC2 prices the model's groups must have and its bill uses (default: `region`'s, see core's `Pricing.ec2Pricing`). */
  readonly pricing?: Pricing.Ec2Pricing
  readonly faults?: CapacityFaults
  /** Whether each instance has a public IPv4 address (billed per hour, as on a default VPC's public subnets). */
  readonly publicIpv4?: boolean
  /** GB of data a repository's workspace holds (EFS bills bytes stored): the bill's stated assumption. */
  readonly workspaceGb?: number
}

/**
 * What changed since the store last saved it, by key: the durable part of the model (groups, capacity
 * providers, task definitions, clusters, the instance ledger), and whether everything was reset. Every method
 * that changes one of them records it here; `Persistence.Store` journals exactly these and clears them.
 */
export class Unsaved {
  reset = false
  readonly groups = new Set<string>()
  readonly capacityProviders = new Set<string>()
  readonly definitions = new Set<TaskDefinition.TaskDefinition>()
  readonly clusters = new Set<string>()
  readonly instances = new Set<string>()
  /** File systems and access points (the repositories' workspaces), by id. */
  readonly workspaces = new Set<string>()

  get empty(): boolean {
    return (
      !this.reset &&
      this.groups.size === 0 &&
      this.capacityProviders.size === 0 &&
      this.definitions.size === 0 &&
      this.clusters.size === 0 &&
      this.instances.size === 0 &&
      this.workspaces.size === 0
    )
  }

  clear(): void {
    this.reset = false
    for (const set of [
      this.groups,
      this.capacityProviders,
      this.definitions,
      this.clusters,
      this.instances,
      this.workspaces
    ])
      set.clear()
  }
}

/** An Auto Scaling activity (launch, launch failure, termination), for `/_sim/state`. */
export interface Activity {
  readonly at: number
  readonly group: string
  readonly description: string
}

export class EcsModel {
  readonly clusters = new Map<string, Cluster.Cluster>()
  readonly definitions = new Map<string, Array<TaskDefinition.TaskDefinition>>()
  readonly capacityProviders = new Map<string, CapacityProvider>()
  readonly groups = new Map<string, AutoScalingGroup.AutoScalingGroup>()
  /** Every instance ever launched (billing needs terminated ones too). */
  readonly instances = new Map<string, Instance>()
  /** The instances not terminated, in launch order, so scaling does not walk history. */
  private readonly live = new Set<Instance>()
  /** Tasks within the retention window. */
  readonly tasks = new Map<string, Task>()
  /** Tasks not yet STOPPED, so scaling does not walk history. */
  readonly activeTasks = new Set<Task>()
  /** The tasks still PROVISIONING, in the order they were run: what placement and scaling look at. */
  private readonly provisioning = new Set<Task>()
  /** STOPPED tasks in the order they stopped, from `stoppedHead` on, so forgetting does not walk the window. */
  private stopped: Array<Task> = []
  private stoppedHead = 0
  /** RunTask's first answer per (cluster, clientToken): the tasks it started and the failures it gave. */
  readonly tokens = new Map<
    string,
    { readonly tasks: ReadonlyArray<string>; readonly failures: ReadonlyArray<Failure>; readonly at: number }
  >()
  readonly activities: Array<Activity> = []
  /** Durable state changed since the last save. */
  readonly unsaved = new Unsaved()
  readonly clock: VirtualClock.SimulationClock
  readonly timing: Lifecycle.TimingModel
  readonly region: string
  readonly account: string
  readonly rootVolumeGib: number
  readonly pricing: Pricing.Ec2Pricing
  readonly exec: ExecBackend.ExecBackend
  readonly zones: ReadonlyArray<string>
  readonly publicIpv4: boolean
  /** The repositories' workspaces: EFS access points (see Workspaces.ts). */
  readonly workspaces: Workspaces
  faults: CapacityFaults
  private random: SeededRandom
  private epoch = 0
  private scaling = false
  private zoneCursor = 0
  /** Per cluster, per capacity provider: since when the scale-in alarm's data points have been low. */
  private readonly lowSince = new Map<string, Map<string, number>>()
  private readonly realTimers = new Set<ReturnType<typeof setTimeout>>()
  /** Task and instance state changes made (for the benchmark). */
  events = 0
  /** CapacityProviderReservation data points published (one per provider per scaling period). */
  scalingEvaluations = 0
  /** CloudWatch alarm evaluations (a high and a low alarm per data point). */
  alarmEvaluations = 0
  /**
   * Hears of every task status change as it is made (an in-process driver that waits on tasks, instead of polling
   * them). It is called in the middle of the change (a stopping task's `stoppedAt` is not set yet), so it must
   * only take note, and never change the model.
   */
  onTaskChange: ((task: Task) => void) | undefined = undefined

  constructor(options: ModelOptions) {
    this.clock = options.clock
    this.random = new SeededRandom(options.seed ?? 1)
    this.region = options.region ?? "us-east-1"
    this.account = options.account ?? "123456789012"
    this.timing = { ...Lifecycle.defaultTiming, ...options.timing }
    this.exec = options.exec ?? ExecBackend.scripted()
    this.rootVolumeGib = options.rootVolumeGib ?? Pricing.defaultEbsRootGib
    this.pricing = options.pricing ?? Pricing.ec2Pricing(this.region)
    this.faults = options.faults ?? noFaults
    this.zones = ["a", "b", "c"].map((z) => `${this.region}${z}`)
    this.publicIpv4 = options.publicIpv4 ?? false
    this.workspaces = new Workspaces(this.region, this.account, options.workspaceGb ?? 10, (id) =>
      this.unsaved.workspaces.add(id)
    )
  }

  /** Forgets everything (pending timers included) and reseeds. */
  reset(seed?: number): void {
    this.epoch++
    for (const handle of this.realTimers) clearTimeout(handle)
    this.realTimers.clear()
    for (const task of this.activeTasks) task.running.abort(taskStopped)
    for (const map of [
      this.clusters,
      this.definitions,
      this.capacityProviders,
      this.groups,
      this.instances,
      this.tasks,
      this.tokens,
      this.lowSince
    ])
      map.clear()
    this.activeTasks.clear()
    this.provisioning.clear()
    this.live.clear()
    this.stopped = []
    this.stoppedHead = 0
    this.workspaces.reset()
    this.unsaved.clear()
    this.unsaved.reset = true
    this.activities.length = 0
    this.scaling = false
    this.zoneCursor = 0
    this.events = 0
    this.scalingEvaluations = 0
    this.alarmEvaluations = 0
    if (seed !== undefined) this.random = new SeededRandom(seed)
  }

  /** Stops every timer (the simulator is closing). */
  dispose(): void {
    this.epoch++
    for (const handle of this.realTimers) clearTimeout(handle)
    this.realTimers.clear()
    for (const task of this.activeTasks) task.running.abort(taskStopped)
  }

  /** Runs `fn` after `delay` ms of simulated time unless the model was reset or disposed since. */
  private after(delay: number, fn: () => void): void {
    const epoch = this.epoch
    const run = () => {
      if (epoch === this.epoch) fn()
    }
    const clock = this.clock
    if (clock instanceof VirtualClock.VirtualClock) clock.schedule(clock.now() + delay, run)
    else {
      const handle = setTimeout(() => {
        this.realTimers.delete(handle)
        run()
      }, delay)
      this.realTimers.add(handle)
    }
  }

  arn(kind: string, name: string): string {
    return `arn:aws:ecs:${this.region}:${this.account}:${kind}/${name}`
  }

  // ---- clusters

  createCluster(name: string, tags: ReadonlyArray<Tags.Tag> = []): Cluster.Cluster {
    const existing = this.clusters.get(name)
    if (existing !== undefined && existing.status === "ACTIVE") {
      Tags.merge(existing.tags, tags)
      this.unsaved.clusters.add(name)
      return existing
    }
    const cluster: Cluster.Cluster = {
      name,
      arn: this.arn("cluster", name),
      capacityProviders: [],
      defaultStrategy: [],
      status: "ACTIVE",
      tags: [...tags]
    }
    this.clusters.set(name, cluster)
    this.unsaved.clusters.add(name)
    this.ensureScalingLoop()
    return cluster
  }

  /** An ACTIVE cluster by name or ARN (the `default` cluster when none is given). */
  cluster(ref: string | undefined): Cluster.Cluster {
    const name = Arn.clusterName(ref ?? "default", this)
    if (name === false)
      throw Errors.invalidParameter(
        `cluster: expected a cluster name (1-255 letters, digits, '-' or '_') or a cluster ARN, got ${Errors.shown(ref ?? "")}.`
      )
    const cluster = name === undefined ? undefined : this.clusters.get(name)
    if (cluster === undefined || cluster.status !== "ACTIVE")
      throw Errors.clusterNotFound(Errors.shown(ref ?? "default"))
    return cluster
  }

  deleteCluster(ref: string): Cluster.Cluster {
    const cluster = this.cluster(ref)
    for (const t of this.activeTasks)
      if (t.cluster === cluster.name)
        throw new EcsError(
          "ClusterContainsTasksException",
          `The cluster ${cluster.name} cannot be deleted while tasks are active; stop them first.`
        )
    for (const i of this.instances.values())
      if (i.cluster === cluster.name && i.state !== "terminated")
        throw new EcsError(
          "ClusterContainsContainerInstancesException",
          `The cluster ${cluster.name} cannot be deleted while container instances are active; set the Auto Scaling group's min and desired to 0 first.`
        )
    if (cluster.capacityProviders.length > 0)
      throw new EcsError(
        "ClusterContainsCapacityProviderException",
        `The cluster ${cluster.name} cannot be deleted while capacity providers are associated; call PutClusterCapacityProviders with an empty list first.`
      )
    cluster.status = "INACTIVE"
    this.unsaved.clusters.add(cluster.name)
    return cluster
  }

  // ---- task definitions

  registerTaskDefinition(
    family: string,
    containers: ReadonlyArray<TaskDefinition.ContainerDefinition>,
    cpu?: number,
    memory?: number,
    settings: TaskDefinition.Settings = {}
  ): TaskDefinition.TaskDefinition {
    const demand = TaskDefinition.demand(containers, cpu, memory)
    const names = new Set<string>()
    for (const volume of settings.volumes ?? []) {
      if (names.has(volume.name))
        throw Errors.invalidParameter(`volumes: the volume name ${volume.name} is used twice.`)
      names.add(volume.name)
    }
    for (const container of containers)
      for (const mount of container.mountPoints ?? [])
        if (!names.has(mount.sourceVolume))
          throw Errors.invalidParameter(
            `containerDefinitions.mountPoints: sourceVolume ${mount.sourceVolume} of container ${container.name} is not a volume of the task definition.`
          )
    const revisions = this.definitions.get(family) ?? []
    const revision = revisions.length + 1
    const definition: TaskDefinition.TaskDefinition = {
      family,
      revision,
      arn: this.arn("task-definition", `${family}:${revision}`),
      containerDefinitions: containers,
      ...demand,
      ...settings,
      status: "ACTIVE",
      registeredAt: this.clock.now()
    }
    revisions.push(definition)
    this.definitions.set(family, revisions)
    this.unsaved.definitions.add(definition)
    return definition
  }

  /** DeregisterTaskDefinition: the revision becomes INACTIVE. */
  deregisterTaskDefinition(ref: string): TaskDefinition.TaskDefinition {
    const definition = this.taskDefinition(ref)
    definition.status = "INACTIVE"
    this.unsaved.definitions.add(definition)
    return definition
  }

  /** The tags of a taggable resource (a visible task, an ACTIVE cluster, a capacity provider) by ARN. */
  tagsOf(arn: string): Array<Tags.Tag> {
    const task = this.tasks.get(arn)
    if (task !== undefined && this.visible(task)) return task.tags
    for (const c of this.clusters.values()) if (c.arn === arn && c.status === "ACTIVE") return c.tags
    for (const p of this.capacityProviders.values()) if (p.arn === arn) return p.tags
    throw Errors.invalidParameter(
      `resourceArn: no cluster, task or capacity provider has the ARN ${Errors.shown(arn)}.`
    )
  }

  /** TagResource: merges `tags` (by key) into the resource's. */
  tagResource(arn: string, tags: ReadonlyArray<Tags.Tag>): void {
    Tags.merge(this.tagsOf(arn), tags)
    for (const c of this.clusters.values()) if (c.arn === arn) this.unsaved.clusters.add(c.name)
    for (const p of this.capacityProviders.values())
      if (p.arn === arn) this.unsaved.capacityProviders.add(p.name)
  }

  /** `family` (latest ACTIVE revision), `family:revision` or an ARN. */
  taskDefinition(ref: string): TaskDefinition.TaskDefinition {
    const parsed = Arn.taskDefinition(ref, this)
    if (parsed === false)
      throw Errors.invalidParameter(
        `taskDefinition: expected family, family:revision or a task definition ARN, got ${Errors.shown(ref)}.`
      )
    const { family, revision } = parsed ?? { family: "", revision: undefined }
    const revisions = this.definitions.get(family) ?? []
    let found: TaskDefinition.TaskDefinition | undefined
    if (revision === undefined) {
      for (let i = revisions.length - 1; i >= 0 && found === undefined; i--)
        if (revisions[i]!.status === "ACTIVE") found = revisions[i]
    } else found = revisions.find((d) => d.revision === revision)
    if (found === undefined) throw Errors.client(`Unable to describe task definition ${Errors.shown(ref)}.`)
    return found
  }

  // ---- capacity

  createAutoScalingGroup(spec: AutoScalingGroup.GroupSpec): AutoScalingGroup.AutoScalingGroup {
    AutoScalingGroup.validate(spec, this.pricing)
    if (this.groups.has(spec.name))
      throw Errors.invalidParameter(`name: an Auto Scaling group named ${spec.name} already exists.`)
    const group: AutoScalingGroup.AutoScalingGroup = {
      name: spec.name,
      instanceType: spec.instanceType,
      min: spec.min,
      max: spec.max,
      desired: spec.desired,
      arn: `arn:aws:autoscaling:${this.region}:${this.account}:autoScalingGroup:${this.random.uuid()}:autoScalingGroupName/${spec.name}`
    }
    this.groups.set(spec.name, group)
    this.unsaved.groups.add(spec.name)
    return group
  }

  createCapacityProvider(
    name: string,
    asgRef: string,
    targetCapacity = 100,
    managedScaling = true,
    managedTerminationProtection = true,
    options: ScalingOptions & { tags?: ReadonlyArray<Tags.Tag> } = {}
  ): CapacityProvider {
    if (this.capacityProviders.has(name))
      throw Errors.client(`The specified capacity provider ${name} already exists.`)
    const group = [...this.groups.values()].find((g) => g.arn === asgRef || g.name === asgRef)
    if (group === undefined)
      throw Errors.client(
        `The specified Auto Scaling group ARN ${asgRef} is not valid; create the group first (POST /_sim/autoscaling-groups).`
      )
    for (const p of this.capacityProviders.values())
      if (p.asg === group.name)
        throw Errors.client(
          `The Auto Scaling group ${group.name} is already used by capacity provider ${p.name}.`
        )
    if (!Number.isInteger(targetCapacity) || targetCapacity < 1 || targetCapacity > 100)
      throw Errors.invalidParameter(`targetCapacity: expected an integer 1-100, got ${targetCapacity}.`)
    const minimumScalingStepSize = options.minimumScalingStepSize ?? 1
    const maximumScalingStepSize = options.maximumScalingStepSize ?? 10_000
    if (minimumScalingStepSize < 1 || maximumScalingStepSize < minimumScalingStepSize)
      throw Errors.invalidParameter(
        "minimumScalingStepSize/maximumScalingStepSize: expected 1 <= minimum <= maximum."
      )
    const provider: CapacityProvider = {
      name,
      arn: this.arn("capacity-provider", name),
      asg: group.name,
      targetCapacity,
      managedScaling,
      managedTerminationProtection,
      minimumScalingStepSize,
      maximumScalingStepSize,
      tags: [...(options.tags ?? [])]
    }
    this.capacityProviders.set(name, provider)
    this.unsaved.capacityProviders.add(name)
    return provider
  }

  putClusterCapacityProviders(
    clusterRef: string,
    providers: ReadonlyArray<string>,
    strategy: ReadonlyArray<Cluster.StrategyItem>
  ): Cluster.Cluster {
    const cluster = this.cluster(clusterRef)
    for (const name of [...providers, ...strategy.map((s) => s.capacityProvider)])
      if (!this.capacityProviders.has(name))
        throw Errors.invalidParameter(`The capacity provider ${name} does not exist.`)
    for (const s of strategy)
      if (!providers.includes(s.capacityProvider))
        throw Errors.invalidParameter(
          `defaultCapacityProviderStrategy: ${s.capacityProvider} is not in capacityProviders.`
        )
    for (const name of providers)
      for (const other of this.clusters.values())
        if (other !== cluster && other.status === "ACTIVE" && other.capacityProviders.includes(name))
          throw new EcsError(
            "ResourceInUseException",
            `The capacity provider ${name} is already associated with cluster ${other.name}.`
          )
    for (const name of cluster.capacityProviders)
      if (!providers.includes(name))
        for (const t of this.activeTasks)
          if (t.cluster === cluster.name && t.capacityProvider === name)
            throw new EcsError(
              "ResourceInUseException",
              `The capacity provider ${name} has active tasks; stop them before removing it.`
            )
    cluster.capacityProviders = [...providers]
    this.unsaved.clusters.add(cluster.name)
    cluster.defaultStrategy = strategy.map((s) => ({ ...s }))
    // The group's desired instances come up attached to this cluster (registered at once: setup, not scaling).
    for (const name of providers) {
      const provider = this.capacityProviders.get(name)!
      const group = this.groups.get(provider.asg)!
      const live = this.liveInstances(cluster.name, name).length
      for (let i = live; i < group.desired; i++) this.launch(cluster.name, provider, group, true)
    }
    return cluster
  }

  /** Sets a group's sizes (the ASG API's UpdateAutoScalingGroup); the next scaling evaluation acts on them. */
  updateAutoScalingGroup(
    name: string,
    sizes: {
      readonly min?: number | undefined
      readonly max?: number | undefined
      readonly desired?: number | undefined
    }
  ): AutoScalingGroup.AutoScalingGroup {
    const group = this.groups.get(name)
    if (group === undefined) throw Errors.invalidParameter(`name: no Auto Scaling group named ${name}.`)
    const next = {
      name,
      instanceType: group.instanceType,
      min: sizes.min ?? group.min,
      max: sizes.max ?? group.max,
      desired: sizes.desired ?? group.desired
    }
    AutoScalingGroup.validate(next, this.pricing)
    group.min = next.min
    group.max = next.max
    group.desired = next.desired
    this.unsaved.groups.add(name)
    this.reconcileGroups()
    return group
  }

  liveInstances(cluster: string, provider: string): Array<Instance> {
    const out: Array<Instance> = []
    for (const i of this.live) if (i.cluster === cluster && i.capacityProvider === provider) out.push(i)
    return out
  }

  private nextZone(): string | undefined {
    for (let n = 0; n < this.zones.length; n++) {
      const zone = this.zones[(this.zoneCursor + n) % this.zones.length]!
      if (!this.faults.zoneDown(zone)) {
        this.zoneCursor = (this.zoneCursor + n + 1) % this.zones.length
        return zone
      }
    }
    return undefined
  }

  private activity(group: string, description: string): void {
    this.activities.push({ at: this.clock.now(), group, description })
    if (this.activities.length > 1000) this.activities.splice(0, this.activities.length - 1000)
  }

  private launch(
    cluster: string,
    provider: CapacityProvider,
    group: AutoScalingGroup.AutoScalingGroup,
    immediately = false
  ): Instance | undefined {
    const zone = this.nextZone()
    if (zone === undefined) {
      this.activity(group.name, "Launching a new EC2 instance failed: no Availability Zone is available.")
      return undefined
    }
    if (this.faults.launchFails(group.instanceType, zone)) {
      this.activity(
        group.name,
        `Launching a new EC2 instance failed: InsufficientInstanceCapacity for ${group.instanceType} in ${zone}.`
      )
      return undefined
    }
    const shape = AutoScalingGroup.shape(group.instanceType)
    let id = `i-${this.random.hex(17)}`
    // A restarted simulator's seed can draw an id its ledger already has: never overwrite a ledger line.
    while (this.instances.has(id)) id = `i-${this.random.hex(17)}`
    const instance: Instance = {
      id,
      arn: this.arn("container-instance", `${cluster}/${this.random.hex(32)}`),
      cluster,
      capacityProvider: provider.name,
      instanceType: group.instanceType,
      availabilityZone: zone,
      ...shape,
      state: "pending",
      status: "REGISTERING",
      launchedAt: this.clock.now(),
      warmAt: immediately ? this.clock.now() : this.clock.now() + this.timing.instanceWarmup,
      registeredAt: undefined,
      terminatedAt: undefined,
      ...ContainerInstance.unreserved()
    }
    this.instances.set(instance.id, instance)
    this.live.add(instance)
    this.unsaved.instances.add(instance.id)
    this.events++
    this.activity(group.name, `Launching a new EC2 instance: ${instance.id} in ${zone}.`)
    const register = () => {
      if (instance.state !== "pending") return
      this.moveInstance(instance, "running", "ACTIVE")
      instance.registeredAt = this.clock.now()
      instance.emptySince = this.clock.now()
      this.placeProvisioning(cluster)
    }
    if (immediately) register()
    else
      this.after(this.random.jitter(this.timing.instanceLaunch, this.timing.instanceLaunchSpread), register)
    return instance
  }

  private moveInstance(
    instance: Instance,
    state: Lifecycle.InstanceState,
    status: Lifecycle.ContainerInstanceStatus
  ): void {
    if (state !== instance.state)
      Lifecycle.check(Lifecycle.instanceTransitions, "instance", instance.state, state)
    if (status !== instance.status)
      Lifecycle.check(Lifecycle.containerInstanceTransitions, "container instance", instance.status, status)
    instance.state = state
    instance.status = status
    if (state === "terminated") this.live.delete(instance)
    this.events++
  }

  /** Terminates an instance; its tasks stop (the host is gone). */
  private terminate(instance: Instance, why: string): void {
    for (const arn of [...instance.tasks]) {
      const task = this.tasks.get(arn)
      if (task !== undefined)
        this.lose(task, "TerminationNotice", `Host EC2 (instance ${instance.id}) terminated: ${why}`)
    }
    this.moveInstance(instance, "terminated", "INACTIVE")
    instance.terminatedAt = this.clock.now()
    this.unsaved.instances.add(instance.id)
    const provider = this.capacityProviders.get(instance.capacityProvider)
    if (provider !== undefined)
      this.activity(provider.asg, `Terminating EC2 instance: ${instance.id} (${why}).`)
  }

  /** An Availability Zone went down: its instances are lost, the group replaces them in other zones. */
  zoneOutage(zone: string): void {
    for (const instance of this.instances.values())
      if (instance.availabilityZone === zone && instance.state !== "terminated")
        this.terminate(instance, `Availability Zone ${zone} outage`)
    this.reconcileGroups()
  }

  /** Launches or terminates so each group has its desired count (the ASG's own loop). */
  private reconcileGroups(): void {
    for (const cluster of this.clusters.values()) {
      if (cluster.status !== "ACTIVE") continue
      for (const name of cluster.capacityProviders) {
        const provider = this.capacityProviders.get(name)!
        const group = this.groups.get(provider.asg)!
        const live = this.liveInstances(cluster.name, name)
        for (let i = live.length; i < group.desired; i++) this.launch(cluster.name, provider, group)
        if (live.length > group.desired) {
          // Scale-in protection: only instances with no tasks go, oldest first.
          const empty = live
            .filter((i) => i.tasks.size === 0)
            .sort((a, b) => a.launchedAt - b.launchedAt)
            .slice(0, live.length - group.desired)
          for (const instance of empty) this.terminate(instance, "scale-in")
        }
      }
    }
  }

  /** CPU units, MiB and GPUs the instance's tasks reserve. */
  used(instance: Instance) {
    return { cpu: instance.reservedCpu, memory: instance.reservedMemory, gpus: instance.reservedGpus }
  }

  /** The cluster's ACTIVE container instances. */
  registeredInstances(cluster: string): Array<Instance> {
    const out: Array<Instance> = []
    for (const i of this.instances.values()) if (i.cluster === cluster && i.status === "ACTIVE") out.push(i)
    return out
  }

  private candidates(cluster: string, providers: ReadonlyArray<string>): Array<Instance> {
    const out: Array<Instance> = []
    for (const i of this.instances.values())
      if (i.cluster === cluster && i.status === "ACTIVE" && providers.includes(i.capacityProvider))
        out.push(i)
    return out
  }

  // ---- tasks

  private newTask(
    cluster: Cluster.Cluster,
    definition: TaskDefinition.TaskDefinition,
    capacityProvider: string | undefined,
    request: Omit<RunTaskRequest, "cluster" | "taskDefinition" | "count">
  ): Task {
    const task: Task = {
      arn: this.arn("task", `${cluster.name}/${this.random.hex(32)}`),
      cluster: cluster.name,
      definition,
      capacityProvider,
      launchType: "EC2",
      instance: undefined,
      lastStatus: "PROVISIONING",
      desiredStatus: "RUNNING",
      createdAt: this.clock.now(),
      pullStartedAt: undefined,
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
      running: new Running(),
      generation: 0
    }
    this.tasks.set(task.arn, task)
    this.activeTasks.add(task)
    this.provisioning.add(task)
    this.events++
    return task
  }

  runTask(request: RunTaskRequest): { tasks: Array<Task>; failures: Array<Failure> } {
    const cluster = this.cluster(request.cluster)
    const definition = this.taskDefinition(request.taskDefinition)
    if (!Number.isInteger(request.count) || request.count < 1 || request.count > 10)
      throw Errors.invalidParameter(`count: expected an integer 1-10, got ${request.count}.`)
    if (request.launchType !== undefined && request.capacityProviderStrategy !== undefined)
      throw Errors.invalidParameter(
        "Specifying both a launchType and capacityProviderStrategy is not supported: pass one of them."
      )
    // The first answer per (cluster, token) is the answer, whether it started tasks or gave failures.
    const tokenKey = request.clientToken === undefined ? undefined : `${cluster.name}\n${request.clientToken}`
    const previous = tokenKey === undefined ? undefined : this.tokens.get(tokenKey)
    if (previous !== undefined)
      return {
        tasks: previous.tasks.map((arn) => this.tasks.get(arn)).filter((t): t is Task => t !== undefined),
        failures: [...previous.failures]
      }
    // With neither a launchType nor a strategy, the cluster's default strategy; without one, the EC2 launch type.
    const strategy =
      request.launchType === "EC2" ? [] : (request.capacityProviderStrategy ?? cluster.defaultStrategy)
    const ec2 = strategy.length === 0
    const providers = strategy.map((s) => s.capacityProvider)
    for (const p of providers)
      if (!cluster.capacityProviders.includes(p))
        throw Errors.invalidParameter(
          `capacityProviderStrategy: the capacity provider ${p} is not associated with cluster ${cluster.name}.`
        )
    // The EC2 launch type places on the cluster's registered container instances, whatever their provider.
    const candidates = () =>
      ec2 ? this.registeredInstances(cluster.name) : this.candidates(cluster.name, providers)
    if (ec2 && candidates().length === 0)
      throw Errors.invalidParameter("No Container Instances were found in your cluster.")
    const managed = !ec2 && providers.some((p) => this.capacityProviders.get(p)?.managedScaling === true)
    const tasks: Array<Task> = []
    const failures: Array<Failure> = []
    for (let n = 0; n < request.count; n++) {
      const placement = Placement.binpack(candidates(), definition)
      if (placement._tag === "NoRoom" && !managed) {
        failures.push({ arn: placement.instance?.arn ?? cluster.arn, reason: placement.reason })
        continue
      }
      const provider =
        placement._tag === "Placed"
          ? placement.instance.capacityProvider
          : this.providerFor(providers, definition)
      const task = this.newTask(cluster, definition, provider, request)
      tasks.push(task)
      if (placement._tag === "Placed") this.assign(task, placement.instance)
      else this.awaitCapacity(task)
    }
    if (tokenKey !== undefined)
      this.tokens.set(tokenKey, { tasks: tasks.map((t) => t.arn), failures, at: this.clock.now() })
    return { tasks, failures }
  }

  /** The first managed provider whose instance type can hold the task (a GPU task needs a GPU group). */
  private providerFor(providers: ReadonlyArray<string>, demand: Placement.Demand): string | undefined {
    let first: string | undefined
    for (const name of providers) {
      const provider = this.capacityProviders.get(name)
      if (provider === undefined || !provider.managedScaling) continue
      first ??= name
      const shape = AutoScalingGroup.shape(this.groups.get(provider.asg)!.instanceType)
      if (Placement.perInstance(shape, demand) > 0) return name
    }
    return first
  }

  /** A PROVISIONING task waits for managed scaling; after `provisioningTimeout` it stops with a reason. */
  private awaitCapacity(task: Task): void {
    const generation = task.generation
    this.after(this.timing.provisioningTimeout, () => {
      if (task.lastStatus !== "PROVISIONING" || task.generation !== generation) return
      this.finishStop(
        task,
        "TaskFailedToStart",
        `Timeout waiting for capacity: capacity provider ${task.capacityProvider ?? "(none)"} could not place the task within ${Math.round(this.timing.provisioningTimeout / 60_000)} minutes.`
      )
    })
  }

  /** StartTask: one task on each named container instance, or a failure saying why not. */
  startTask(request: {
    cluster: string | undefined
    taskDefinition: string
    containerInstances: ReadonlyArray<string>
    startedBy?: string
    group?: string
    environment?: ReadonlyArray<{ name: string; value: string }>
    command?: ReadonlyArray<string>
    enableExecuteCommand?: boolean
    tags?: ReadonlyArray<Tags.Tag>
  }): { tasks: Array<Task>; failures: Array<Failure> } {
    const cluster = this.cluster(request.cluster)
    const definition = this.taskDefinition(request.taskDefinition)
    if (request.containerInstances.length < 1 || request.containerInstances.length > 10)
      throw Errors.invalidParameter(
        `containerInstances: expected 1-10 container instances, got ${request.containerInstances.length}.`
      )
    const tasks: Array<Task> = []
    const failures: Array<Failure> = []
    for (const ref of request.containerInstances) {
      const instance = this.containerInstance(cluster.name, ref)
      if (instance === undefined || instance.status === "INACTIVE") {
        failures.push({ arn: ref, reason: "MISSING" })
        continue
      }
      if (instance.status !== "ACTIVE") {
        failures.push({
          arn: instance.arn,
          reason: "AGENT",
          detail: `The container instance is ${instance.status}.`
        })
        continue
      }
      const why = Placement.misfit(instance, definition)
      if (why !== undefined) {
        failures.push({ arn: instance.arn, reason: why })
        continue
      }
      const task = this.newTask(cluster, definition, instance.capacityProvider, request)
      tasks.push(task)
      this.assign(task, instance)
    }
    return { tasks, failures }
  }

  /** A container instance of `cluster` by ARN, ARN suffix or EC2 instance id. */
  containerInstance(cluster: string, ref: string): Instance | undefined {
    for (const i of this.instances.values())
      if (i.cluster === cluster && (i.arn === ref || i.id === ref || i.arn.endsWith(`/${ref}`))) return i
    return undefined
  }

  private move(task: Task, status: Lifecycle.TaskStatus): void {
    Lifecycle.check(Lifecycle.taskTransitions, "task", task.lastStatus, status)
    if (task.lastStatus === "PROVISIONING") this.provisioning.delete(task)
    task.lastStatus = status
    task.generation++
    this.events++
    this.onTaskChange?.(task)
  }

  private assign(task: Task, instance: Instance): void {
    task.instance = instance.id
    instance.tasks.add(task.arn)
    instance.reservedCpu += task.definition.cpu
    instance.reservedMemory += task.definition.memory
    instance.reservedGpus += task.definition.gpus
    instance.emptySince = undefined
    this.move(task, "PENDING")
    const images = task.definition.containerDefinitions.map((c) => c.image)
    const pull = images.some((image) => !instance.images.has(image))
      ? this.random.jitter(this.timing.imagePull)
      : 0
    const start = this.random.jitter(this.timing.taskStart)
    const agentPickup = Math.round(start / 4)
    let generation = task.generation
    this.after(agentPickup, () => {
      if (task.generation !== generation) return
      this.move(task, "ACTIVATING")
      task.pullStartedAt = this.clock.now()
      generation = task.generation
      this.after(start - agentPickup + pull, () => {
        if (task.generation !== generation) return
        for (const image of images) instance.images.add(image)
        this.move(task, "RUNNING")
        task.startedAt = this.clock.now()
        if (task.command !== undefined) void this.runEssential(task)
      })
    })
  }

  /** A task given a command runs it as its essential container and stops when it exits. */
  private async runEssential(task: Task): Promise<void> {
    const epoch = this.epoch
    const outcome = await this.exec.run({ command: task.command!, signal: task.running.signal }, this.clock)
    if (epoch !== this.epoch || task.desiredStatus === "STOPPED") return
    task.exitCode = outcome.exitCode
    this.stopTask(task, "Essential container in task exited", "EssentialContainerExited")
  }

  private placeProvisioning(cluster: string): void {
    for (const task of this.provisioning) {
      if (task.cluster !== cluster) continue
      const placement = Placement.binpack(
        this.candidates(cluster, task.capacityProvider === undefined ? [] : [task.capacityProvider]),
        task.definition
      )
      if (placement._tag === "Placed") this.assign(task, placement.instance)
    }
  }

  /** A task of the cluster by ARN or id (visible within the retention window). */
  task(clusterRef: string | undefined, ref: string): Task {
    const cluster = this.cluster(clusterRef)
    const parsed = Arn.task(ref, this)
    if (parsed === false)
      throw Errors.invalidParameter(`task: expected a task id or a task ARN, got ${Errors.shown(ref)}.`)
    const task =
      parsed === undefined || (parsed.cluster !== undefined && parsed.cluster !== cluster.name)
        ? undefined
        : this.tasks.get(this.arn("task", `${cluster.name}/${parsed.id}`))
    if (task === undefined || task.cluster !== cluster.name || !this.visible(task))
      throw Errors.invalidParameter(`The referenced task was not found: ${Errors.shown(ref)}.`)
    return task
  }

  stopTask(task: Task, reason = "Task stopped by user", code: StopCode = "UserInitiated"): Task {
    if (task.desiredStatus === "STOPPED") return task
    task.desiredStatus = "STOPPED"
    task.stoppingAt = this.clock.now()
    task.stopCode = code
    task.stoppedReason = reason
    task.running.abort(taskStopped)
    if (task.lastStatus === "PROVISIONING" || task.lastStatus === "PENDING") {
      this.finishStop(task, code, reason)
      return task
    }
    this.move(task, "DEACTIVATING")
    this.move(task, "STOPPING")
    const generation = task.generation
    this.after(this.random.jitter(this.timing.taskStop), () => {
      if (task.generation !== generation) return
      this.move(task, "DEPROVISIONING")
      this.finishStop(task, code, reason)
    })
    return task
  }

  /** The task's host is gone: it stops at once. */
  private lose(task: Task, code: StopCode, reason: string): void {
    task.desiredStatus = "STOPPED"
    task.stoppingAt ??= this.clock.now()
    task.running.abort(taskStopped)
    task.stopCode = code
    task.stoppedReason = reason
    for (const status of ["DEACTIVATING", "STOPPING", "DEPROVISIONING"] as const)
      if (Lifecycle.taskTransitions[task.lastStatus].includes(status)) this.move(task, status)
    this.finishStop(task, code, reason)
  }

  private finishStop(task: Task, code: StopCode, reason: string): void {
    task.desiredStatus = "STOPPED"
    task.stopCode ??= code
    task.stoppedReason ??= reason
    this.move(task, "STOPPED")
    task.stoppedAt = this.clock.now()
    this.activeTasks.delete(task)
    this.stopped.push(task)
    const instance = task.instance === undefined ? undefined : this.instances.get(task.instance)
    if (instance?.tasks.delete(task.arn)) {
      instance.reservedCpu -= task.definition.cpu
      instance.reservedMemory -= task.definition.memory
      instance.reservedGpus -= task.definition.gpus
      if (instance.tasks.size === 0) instance.emptySince = this.clock.now()
      this.placeProvisioning(task.cluster)
    }
  }

  /** Stopped tasks stay describable for `retention`. */
  visible(task: Task): boolean {
    return task.stoppedAt === undefined || this.clock.now() - task.stoppedAt <= this.timing.retention
  }

  /** Drops stopped tasks past the retention window (instances stay: billing needs them). */
  private forget(now: number): void {
    while (this.stoppedHead < this.stopped.length) {
      const task = this.stopped[this.stoppedHead]!
      if (now - task.stoppedAt! <= this.timing.retention) break
      this.tasks.delete(task.arn)
      this.stoppedHead++
    }
    if (this.stoppedHead > 1024 && this.stoppedHead * 2 > this.stopped.length) {
      this.stopped = this.stopped.slice(this.stoppedHead)
      this.stoppedHead = 0
    }
    for (const [token, answer] of this.tokens)
      if (now - answer.at > this.timing.retention && answer.tasks.every((a) => !this.tasks.has(a)))
        this.tokens.delete(token)
  }

  // ---- what List*, Describe* and ExecuteCommand see

  /** ListClusters: the ARNs of the ACTIVE clusters. */
  activeClusterArns(): Array<string> {
    return [...this.clusters.values()].filter((c) => c.status === "ACTIVE").map((c) => c.arn)
  }

  /** DescribeCapacityProviders: every capacity provider, or those `refs` name (by name or ARN). */
  capacityProvidersNamed(refs: ReadonlyArray<string> | undefined): Array<CapacityProvider> {
    return [...this.capacityProviders.values()].filter(
      (p) => refs === undefined || refs.includes(p.name) || refs.includes(p.arn)
    )
  }

  /**
   * ListTasks: the ARNs of the visible tasks of a cluster with `desiredStatus` (none is PENDING), filtered by one
   * container instance, family or `startedBy` (which must then be the only filter).
   */
  listTasks(query: {
    readonly cluster: string | undefined
    readonly desiredStatus: "RUNNING" | "PENDING" | "STOPPED"
    readonly startedBy?: string | undefined
    readonly family?: string | undefined
    readonly containerInstance?: string | undefined
  }): Array<string> {
    const cluster = this.cluster(query.cluster)
    if (
      query.startedBy !== undefined &&
      (query.family !== undefined || query.containerInstance !== undefined)
    )
      throw Errors.invalidParameter(
        "startedBy: when startedBy is given it must be the only filter besides desiredStatus."
      )
    const onInstance =
      query.containerInstance === undefined
        ? undefined
        : this.containerInstance(cluster.name, query.containerInstance)
    if (query.containerInstance !== undefined && onInstance === undefined)
      throw Errors.invalidParameter(
        `containerInstance: no container instance ${query.containerInstance} in cluster ${cluster.name}.`
      )
    return [...this.tasks.values()]
      .filter(
        (t) =>
          t.cluster === cluster.name &&
          this.visible(t) &&
          query.desiredStatus !== "PENDING" &&
          t.desiredStatus === query.desiredStatus &&
          (onInstance === undefined || t.instance === onInstance.id) &&
          (query.startedBy === undefined || t.startedBy === query.startedBy) &&
          (query.family === undefined || t.definition.family === query.family)
      )
      .map((t) => t.arn)
  }

  /** ListContainerInstances: a cluster's container instances with `status`, or all but INACTIVE ones. */
  listContainerInstances(clusterRef: string | undefined, status: string | undefined): Array<string> {
    const cluster = this.cluster(clusterRef)
    return [...this.instances.values()]
      .filter(
        (x) =>
          x.cluster === cluster.name && (status === undefined ? x.status !== "INACTIVE" : x.status === status)
      )
      .map((x) => x.arn)
  }

  /** DescribeContainerInstances: a container instance of `cluster`, unless terminated longer than `retention` ago. */
  describableContainerInstance(cluster: string, ref: string): Instance | undefined {
    const found = this.containerInstance(cluster, ref)
    if (found?.terminatedAt !== undefined && this.clock.now() - found.terminatedAt > this.timing.retention)
      return undefined
    return found
  }

  /**
   * ExecuteCommand's rules: sessions are interactive, the task was run with execute command enabled and is
   * RUNNING, and the container (the first when none is named) is one of its definition's.
   */
  executeCommandTarget(request: {
    readonly cluster: string | undefined
    readonly task: string
    readonly container: string | undefined
    readonly interactive: boolean
  }): { readonly task: Task; readonly container: TaskDefinition.ContainerDefinition } {
    // "Amazon ECS only supports initiating interactive sessions, so you must specify true" (API reference).
    if (!request.interactive)
      throw Errors.invalidParameter(
        "interactive: Amazon ECS only supports interactive execute-command sessions; expected true, got false."
      )
    const task = this.task(request.cluster, request.task)
    if (!task.enableExecuteCommand)
      throw Errors.invalidParameter(
        "The execute command failed because execute command was not enabled when the task was run."
      )
    if (task.lastStatus !== "RUNNING")
      throw new EcsError(
        "TargetNotConnectedException",
        `The execute command failed because the task is ${task.lastStatus}.`
      )
    const containers = task.definition.containerDefinitions
    const container =
      request.container === undefined ? containers[0]! : containers.find((c) => c.name === request.container)
    if (container === undefined)
      throw Errors.invalidParameter(
        `container: the task has no container named ${request.container}; it has ${containers.map((c) => c.name).join(", ")}.`
      )
    return { task, container }
  }

  // ---- managed scaling

  private ensureScalingLoop(): void {
    if (this.scaling) return
    this.scaling = true
    const tick = () => {
      this.evaluateScaling()
      this.after(this.timing.scalingPeriod, tick)
    }
    this.after(this.timing.scalingPeriod, tick)
  }

  /** One scaling period: publish CapacityProviderReservation per provider, evaluate the alarms, act. */
  evaluateScaling(): void {
    const now = this.clock.now()
    this.forget(now)
    for (const cluster of this.clusters.values()) {
      if (cluster.status !== "ACTIVE") continue
      for (const name of cluster.capacityProviders) {
        const provider = this.capacityProviders.get(name)!
        const group = this.groups.get(provider.asg)!
        if (!provider.managedScaling) continue
        this.scalingEvaluations++
        this.alarmEvaluations += 2
        const live = this.liveInstances(cluster.name, name)
        const shape = AutoScalingGroup.shape(group.instanceType)
        const waiting: Array<Placement.Demand> = []
        for (const t of this.provisioning)
          if (t.cluster === cluster.name && t.capacityProvider === name) waiting.push(t.definition)
        let busy = 0
        let warmingUp = false
        for (const i of live) {
          if (i.tasks.size > 0 || i.state === "pending") busy++
          if (now < i.warmAt) warmingUp = true
        }
        const decision = ManagedScaling.decide({
          instances: live.length,
          busy,
          waiting,
          shape,
          targetCapacity: provider.targetCapacity,
          min: group.min,
          max: group.max,
          minimumStep: provider.minimumScalingStepSize,
          maximumStep: provider.maximumScalingStepSize,
          warmingUp
        })
        const lowSince = this.lowSince.get(cluster.name) ?? new Map<string, number>()
        this.lowSince.set(cluster.name, lowSince)
        if (!decision.low) lowSince.delete(name)
        else if (!lowSince.has(name)) lowSince.set(name, now)
        if (decision.desired > live.length) {
          group.desired = decision.desired
          this.unsaved.groups.add(group.name)
          for (let i = live.length; i < decision.desired; i++) this.launch(cluster.name, provider, group)
        } else if (
          decision.low &&
          now - lowSince.get(name)! >= this.timing.scaleInAfter - this.timing.scalingPeriod
        ) {
          // The scale-in alarm has seen 15 low data points: one step, never an instance with tasks.
          const step = Math.min(ManagedScaling.scaleInStep(live.length), live.length - decision.desired)
          const removable =
            step <= 0
              ? []
              : live
                  .filter((i) => i.state === "running" && i.tasks.size === 0)
                  .sort((a, b) => a.launchedAt - b.launchedAt)
                  .slice(0, step)
          for (const instance of removable) this.terminate(instance, "scale-in")
          group.desired = live.length - removable.length
          this.unsaved.groups.add(group.name)
        } else if (live.length < group.desired) {
          // Replace lost instances (a zone outage, a failed launch) up to the desired count.
          for (let i = live.length; i < group.desired; i++) this.launch(cluster.name, provider, group)
        }
      }
    }
  }
}
