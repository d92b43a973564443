/**
 * What the cluster cost and who it was for: every task this provider started is remembered as last seen, every
 * instance it has seen (listed, or under one of its tasks) with its lifetime, and `ClusterCost.attribute` splits
 * the instances' bill over the tasks' intervals. `clusterCost` and a session's `usage` both read it.
 */
import {
  type ContainerInstance,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  type Task
} from "@aws-sdk/client-ecs"
import { ComputeError, type ComputeProvider, Money, Pricing, Usage } from "@hangar/core"
import { Clock, Effect } from "effect"
import * as ClusterCost from "../ClusterCost.js"
import type { ClusterCostReport, Period } from "../EcsProvider.js"
import type { EcsEnvironment, InstanceRecord } from "./EcsEnvironment.js"
import * as Pagination from "./Pagination.js"
import { origin } from "./Provenance.js"

// ---------------------------------------------------------------------------------------------------------------
// Observation
// ---------------------------------------------------------------------------------------------------------------

/** Records a task as just seen (if this provider started it) and notes its instance if not known yet. */
export const remember = (env: EcsEnvironment, task: Task): void => {
  const { state } = env
  const sessionId = task.taskArn === undefined ? undefined : state.sessionOfTask.get(task.taskArn)
  if (sessionId !== undefined) state.taskRecords.set(task.taskArn!, { sessionId, task })
  if (task.containerInstanceArn !== undefined && !state.instanceRecords.has(task.containerInstanceArn))
    state.unseenInstances.add(task.containerInstanceArn)
}

/** An instance's lifetime from DescribeContainerInstances (undefined without a type or an ARN). */
const lifetimeOf = (
  env: EcsEnvironment,
  described: ContainerInstance,
  observedAt: number
): InstanceRecord | undefined => {
  const attribute = (name: string) => described.attributes?.find((a) => a.name === name)?.value
  const resource = (name: string) => described.registeredResources?.find((r) => r.name === name)?.integerValue
  const instanceType = attribute("ecs.instance-type")
  const arn = described.containerInstanceArn
  if (instanceType === undefined || arn === undefined) return undefined
  const shape = Pricing.ec2InstanceTypes[instanceType]
  const launch = attribute("hangar.launch-time")
  const termination = attribute("hangar.termination-time")
  const inactive = described.status === "INACTIVE"
  const previous = env.state.instanceRecords.get(arn)
  const launchedAt =
    launch !== undefined
      ? Number(launch)
      : (described.registeredAt?.getTime() ?? previous?.launchedAt ?? observedAt)
  // Without the termination attribute, a deregistered instance is taken to have gone when it was last
  // seen registered (an estimate: the ECS API keeps no deregistration time).
  const terminatedAt =
    termination !== undefined
      ? Number(termination)
      : inactive
        ? (previous?.terminatedAt ?? env.state.lastSeenRegistered.get(arn) ?? observedAt)
        : undefined
  return {
    containerInstanceArn: arn,
    ec2InstanceId: described.ec2InstanceId ?? arn,
    instanceType,
    launchedAt,
    terminatedAt,
    cpu: resource("CPU") ?? (shape === undefined ? 0 : shape.vcpus * 1024),
    memory: resource("MEMORY") ?? shape?.memoryMib ?? 0,
    source: launch !== undefined && (termination !== undefined || !inactive) ? "attributes" : "registration",
    final: inactive
  }
}

/** Lists the cluster's registered instances and describes them with every known one not yet final. */
const observeInstances = (env: EcsEnvironment) =>
  Effect.gen(function* () {
    const { state, cluster } = env
    const listed = yield* Pagination.paginate((nextToken) =>
      Effect.map(
        env.send("ListContainerInstances", () =>
          env.client.send(new ListContainerInstancesCommand({ cluster, ...(nextToken ? { nextToken } : {}) }))
        ),
        (page) => ({ items: page.containerInstanceArns, nextToken: page.nextToken })
      )
    )
    const wanted = new Set([...listed, ...state.unseenInstances])
    for (const [arn, record] of state.instanceRecords) if (!record.final) wanted.add(arn)
    const now = yield* Clock.currentTimeMillis
    yield* Pagination.describeInChunks([...wanted], (chunk) =>
      env
        .send("DescribeContainerInstances", () =>
          env.client.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: chunk }))
        )
        .pipe(
          Effect.map((described) => {
            for (const instance of described.containerInstances ?? []) observed(env, instance, now)
            for (const failure of described.failures ?? [])
              if (failure.arn !== undefined) gone(env, failure.arn, now)
            return []
          })
        )
    )
  })

/** Records an instance DescribeContainerInstances answered with. */
const observed = (env: EcsEnvironment, instance: ContainerInstance, now: number) => {
  const { state } = env
  const record = lifetimeOf(env, instance, now)
  if (record === undefined) return
  state.instanceRecords.set(record.containerInstanceArn, record)
  if (!record.final) state.lastSeenRegistered.set(record.containerInstanceArn, now)
  if (instance.containerInstanceArn !== undefined) state.unseenInstances.delete(instance.containerInstanceArn)
}

/** An instance DescribeContainerInstances no longer knows. */
const gone = (env: EcsEnvironment, arn: string, now: number) => {
  const { state } = env
  state.unseenInstances.delete(arn)
  const record = state.instanceRecords.get(arn)
  // Gone past the retention window before it was seen deregistered: last seen is all there is.
  if (record !== undefined && !record.final)
    state.instanceRecords.set(arn, {
      ...record,
      terminatedAt: record.terminatedAt ?? state.lastSeenRegistered.get(arn) ?? now,
      source: "registration",
      final: true
    })
}

/** Describes this provider's tasks that have not stopped yet (stopped ones are kept as last seen). */
const observeTasks = (env: EcsEnvironment) => {
  const { state } = env
  const open = [...state.sessionOfTask.keys()].filter(
    (arn) => state.taskRecords.get(arn)?.task.lastStatus !== "STOPPED"
  )
  return Pagination.describeInChunks(open, (chunk) =>
    env
      .send("DescribeTasks", () =>
        env.client.send(new DescribeTasksCommand({ cluster: env.cluster, tasks: chunk }))
      )
      .pipe(
        Effect.map((described) => {
          for (const task of described.tasks ?? []) remember(env, task)
          return []
        })
      )
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Attribution
// ---------------------------------------------------------------------------------------------------------------

/** The intervals the sessions' tasks ran, as last seen; a task seen STOPPED without a stop time ends `now`. */
const intervals = (env: EcsEnvironment, now: number): Array<ClusterCost.TaskInterval> =>
  [...env.state.taskRecords.values()].flatMap(({ sessionId, task }) =>
    task.startedAt === undefined || task.taskArn === undefined || task.containerInstanceArn === undefined
      ? []
      : [
          {
            sessionId,
            taskArn: task.taskArn,
            containerInstanceArn: task.containerInstanceArn,
            startedAt: task.startedAt.getTime(),
            stoppedAt: task.stoppedAt?.getTime() ?? (task.lastStatus === "STOPPED" ? now : undefined),
            cpu: Number(task.cpu ?? 0),
            memory: Number(task.memory ?? 0)
          }
        ]
  )

const unpriced = (env: EcsEnvironment, instances: ReadonlyArray<ClusterCost.InstanceLifetime>) => {
  for (const i of instances) {
    const why = Pricing.ec2Unpriced(i.instanceType, env.pricing)
    if (why !== undefined) return { instanceType: i.instanceType, why }
  }
  return undefined
}

/** Observes tasks and instances, then attributes the cluster's bill over (from, to]. */
const attribution = (env: EcsEnvironment, from: number, to: number) =>
  Effect.gen(function* () {
    yield* observeTasks(env)
    yield* observeInstances(env)
    const instances = [...env.state.instanceRecords.values()]
    const missing = unpriced(env, instances)
    if (missing !== undefined) {
      return yield* new ComputeError.InvalidRequest({
        ...origin("clusterCost"),
        field: "instanceType",
        expected: `an instance type with a shape and a price in the ${env.pricing.catalogRegion} EC2 pricing catalog (${missing.why})`,
        actual: missing.instanceType
      })
    }
    return {
      instances,
      result: ClusterCost.attribute(
        instances,
        intervals(env, to),
        from,
        to,
        env.rootVolumeGib,
        env.pricing.catalog
      )
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------------------------

const millisOf = (t: number | Date | undefined, fallback: number) =>
  t === undefined ? fallback : typeof t === "number" ? t : t.getTime()

/** What the whole cluster cost in `period`, from its instances' lifetimes and the EC2 pricing catalog. */
export const clusterCost = (
  env: EcsEnvironment,
  operation: ComputeProvider.Operation,
  period: Period = {}
): Effect.Effect<ClusterCostReport, ComputeError.ComputeError> =>
  operation("clusterCost", () =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const from = millisOf(period.from, 0)
      const to = millisOf(period.to, now)
      const { instances, result } = yield* attribution(env, from, to)
      const billedBy = (i: ClusterCost.InstanceLifetime, t: number) =>
        ClusterCost.billedBy(i, t, env.rootVolumeGib, env.pricing.catalog)
      return {
        cluster: env.cluster,
        fromMillis: from,
        toMillis: to,
        totalMicroUsd: Money.microUsd(result.totalMicroUsd),
        reservedMicroUsd: Money.microUsd(Math.round(result.reservedMicroUsd)),
        attributedIdleMicroUsd: Money.microUsd(Math.round(result.attributedIdleMicroUsd)),
        unattributedIdleMicroUsd: Money.microUsd(Math.round(result.unattributedIdleMicroUsd)),
        instances: instances
          .map((i) => ({
            ec2InstanceId: i.ec2InstanceId,
            instanceType: i.instanceType,
            launchedAt: i.launchedAt,
            terminatedAt: i.terminatedAt,
            source: i.source,
            costMicroUsd: Money.microUsd(billedBy(i, to) - billedBy(i, from))
          }))
          .filter((i) => i.costMicroUsd > 0),
        pricing: Pricing.ec2PricingReport(
          env.pricing,
          instances.map((i) => i.instanceType)
        )
      }
    })
  )

/** A session's running and stopped seconds since it was created, and its attributed cost. */
export const usage = (env: EcsEnvironment, sessionId: string, createdAt: number) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const { result } = yield* attribution(env, 0, now)
    const running = (result.runningMillisBySession.get(sessionId) ?? 0) / 1000
    return new Usage.Usage({
      sessionId,
      seconds: {
        ...Usage.zeroSeconds,
        running,
        stopped: Math.max(0, (now - createdAt) / 1000 - running)
      },
      costMicroUsd: Money.microUsd(Math.round(result.bySession.get(sessionId) ?? 0))
    })
  })
