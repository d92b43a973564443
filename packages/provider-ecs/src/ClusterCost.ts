/**
 * What an ECS-on-EC2 cluster cost and who it was for, from instance lifetimes and task intervals: each instance
 * is billed as EC2 bills it (per second, 60-second minimum per launch, plus its EBS root volume, core's
 * `Pricing`), and that bill is split over time among the sessions' tasks on the instance by their reserved
 * share (the larger of the CPU and memory fractions of the instance's registered resources). The unreserved
 * remainder — idle capacity the cluster kept — goes to the sessions running at that moment anywhere in the
 * cluster, in proportion to their reserved cost then; idle capacity while no session runs is attributed to
 * nobody and reported as such. Pure: no SDK, no clock.
 */
import { Pricing, PricingCatalog } from "@hangar/core"

/** One EC2 instance of the cluster, as far as it is known. */
export interface InstanceLifetime {
  readonly containerInstanceArn: string
  readonly ec2InstanceId: string
  readonly instanceType: string
  readonly launchedAt: number
  readonly terminatedAt: number | undefined
  /** Registered CPU units and MiB (what tasks' reservations are a fraction of). */
  readonly cpu: number
  readonly memory: number
  /**
   * "attributes": launch and termination instants from the `hangar.launch-time` / `hangar.termination-time`
   * attributes (exact); "registration": launch taken as registeredAt and/or termination as the last time the
   * provider saw the instance registered (an estimate, see the README).
   */
  readonly source: "attributes" | "registration"
}

/** A session's task while it ran (reservation held) on an instance. */
export interface TaskInterval {
  readonly sessionId: string
  readonly taskArn: string
  readonly containerInstanceArn: string
  readonly startedAt: number
  readonly stoppedAt: number | undefined
  readonly cpu: number
  readonly memory: number
}

/**
 * What the instance's bill has reached at `t` (milliseconds since the epoch): nothing before its launch, the
 * 60-second minimum from the launch instant on, then EC2's per-second bill of its lifetime so far, constant after
 * termination. The cost over a period (from, to] is `billedBy(to) - billedBy(from)`, so periods add up to the
 * whole bill. Prices come from `catalog` (default: the shipped us-east-1 one).
 */
export const billedBy = (
  instance: InstanceLifetime,
  t: number,
  rootVolumeGib: number,
  catalog: PricingCatalog.PricingCatalog = PricingCatalog.ec2
): number => {
  if (t < instance.launchedAt) return 0
  const end = Math.min(t, instance.terminatedAt ?? t)
  const cost = Pricing.ec2InstanceCost(
    instance.instanceType,
    Math.max(0, end - instance.launchedAt),
    rootVolumeGib,
    catalog
  )
  return cost.compute + cost.ebs
}

export interface Attribution {
  /** The cluster's bill over the period, exact micro-dollars. */
  readonly totalMicroUsd: number
  /** The part sessions' tasks reserved (float micro-dollars, rounded by callers). */
  readonly reservedMicroUsd: number
  /** Idle capacity kept while some session ran, attributed to the sessions running then. */
  readonly attributedIdleMicroUsd: number
  /** Idle capacity kept while no session ran. */
  readonly unattributedIdleMicroUsd: number
  /** Each session's reserved share plus its attributed idle, float micro-dollars. */
  readonly bySession: ReadonlyMap<string, number>
  /** Each session's running milliseconds in the period. */
  readonly runningMillisBySession: ReadonlyMap<string, number>
}

/** The share of `instance` a task reserves: the larger of its CPU and memory fractions. */
export const shareOf = (task: Pick<TaskInterval, "cpu" | "memory">, instance: InstanceLifetime): number =>
  Math.max(
    instance.cpu > 0 ? task.cpu / instance.cpu : 0,
    instance.memory > 0 ? task.memory / instance.memory : 0
  )

/** Attributes the cluster's bill over (from, to] to the sessions' tasks, sweeping the instants where it changes. */
export const attribute = (
  instances: ReadonlyArray<InstanceLifetime>,
  tasks: ReadonlyArray<TaskInterval>,
  from: number,
  to: number,
  rootVolumeGib: number,
  catalog: PricingCatalog.PricingCatalog = PricingCatalog.ec2
): Attribution => {
  let total = 0
  for (const instance of instances)
    total += billedBy(instance, to, rootVolumeGib, catalog) - billedBy(instance, from, rootVolumeGib, catalog)
  const byArn = new Map(instances.map((i) => [i.containerInstanceArn, i]))
  const instants = new Set<number>([from, to])
  const inside = (t: number | undefined) => {
    if (t !== undefined && t > from && t < to) instants.add(t)
  }
  for (const i of instances) {
    inside(i.launchedAt)
    inside(i.terminatedAt)
  }
  for (const t of tasks) {
    inside(t.startedAt)
    inside(t.stoppedAt)
  }
  const sorted = [...instants].sort((a, b) => a - b)
  const bySession = new Map<string, number>()
  const runningMillisBySession = new Map<string, number>()
  let reserved = 0
  let attributedIdle = 0
  let unattributedIdle = 0
  const add = (map: Map<string, number>, key: string, value: number) =>
    map.set(key, (map.get(key) ?? 0) + value)
  for (let k = 0; k + 1 < sorted.length; k++) {
    const a = sorted[k]!
    const b = sorted[k + 1]!
    const running = tasks.filter((t) => t.startedAt <= a && (t.stoppedAt ?? Number.POSITIVE_INFINITY) >= b)
    for (const t of running) add(runningMillisBySession, t.sessionId, b - a)
    const direct: Array<{ readonly sessionId: string; readonly cost: number }> = []
    let idle = 0
    for (const instance of instances) {
      const cost =
        billedBy(instance, b, rootVolumeGib, catalog) - billedBy(instance, a, rootVolumeGib, catalog)
      if (cost === 0) continue
      const here = running.filter((t) => t.containerInstanceArn === instance.containerInstanceArn)
      const shares = here.map((t) => shareOf(t, instance))
      const sum = shares.reduce((s, x) => s + x, 0)
      // Reservations never exceed what is registered; if the fractions' maxima do, scale them to the whole.
      const scale = sum > 1 ? 1 / sum : 1
      here.forEach((t, n) => {
        direct.push({ sessionId: t.sessionId, cost: cost * shares[n]! * scale })
      })
      idle += cost * (1 - sum * scale)
    }
    // Tasks on instances not known (never observed) reserve nothing here.
    for (const t of running) if (!byArn.has(t.containerInstanceArn)) add(bySession, t.sessionId, 0)
    const directSum = direct.reduce((s, d) => s + d.cost, 0)
    reserved += directSum
    if (directSum > 0) {
      attributedIdle += idle
      for (const d of direct) add(bySession, d.sessionId, d.cost + (idle * d.cost) / directSum)
    } else unattributedIdle += idle
  }
  return {
    totalMicroUsd: total,
    reservedMicroUsd: reserved,
    attributedIdleMicroUsd: attributedIdle,
    unattributedIdleMicroUsd: unattributedIdle,
    bySession,
    runningMillisBySession
  }
}
