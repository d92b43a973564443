/**
 * Managed scaling as ECS does it (../shared/reference/ecs-ec2.md §4.1): every minute the capacity provider
 * publishes CapacityProviderReservation = M / N × 100 (M: instances needed for the running tasks plus a binpack
 * of the waiting ones, N: instances in the group) and target tracking moves the group's desired count toward
 * M × 100 / targetCapacity. Scale-out is immediate (at least two instances from zero, bounded by the step sizes
 * and the group's max, and blocked while a new instance is warming up); scale-in waits for 15 consecutive low
 * data points and removes only instances with no tasks.
 */
import { type Demand, perInstance } from "./Placement.js"

export interface Observation {
  /** Instances in the group (pending ones included). */
  readonly instances: number
  /** Instances running at least one task. */
  readonly busy: number
  /** Resource demands of the tasks waiting in PROVISIONING. */
  readonly waiting: ReadonlyArray<Demand>
  /** An instance shape of the group. */
  readonly shape: Demand
  readonly targetCapacity: number
  readonly min: number
  readonly max: number
  readonly minimumStep: number
  readonly maximumStep: number
  /** Some instance launched less than instanceWarmup ago. */
  readonly warmingUp: boolean
}

/** Instances needed for the waiting tasks, binpacked per group of identical demands. */
export const instancesForWaiting = (shape: Demand, waiting: ReadonlyArray<Demand>): number => {
  if (waiting.length === 0) return 0
  const groups = new Map<string, { demand: Demand; count: number }>()
  for (const d of waiting) {
    const key = `${d.cpu}/${d.memory}/${d.gpus}`
    const group = groups.get(key)
    if (group === undefined) groups.set(key, { demand: d, count: 1 })
    else group.count++
  }
  let needed = 0
  for (const { demand, count } of groups.values()) {
    const fit = perInstance(shape, demand)
    // A task larger than the instance type is excluded from the calculation (it stays waiting).
    if (fit > 0) needed += Math.ceil(count / fit)
  }
  return needed
}

export interface Decision {
  /** CapacityProviderReservation, percent. */
  readonly reservation: number
  /** The group's new desired count. */
  readonly desired: number
  readonly low: boolean
}

export const decide = (o: Observation): Decision => {
  const needed = o.busy + instancesForWaiting(o.shape, o.waiting)
  const reservation = o.instances === 0 ? (needed > 0 ? 200 : 100) : (needed / o.instances) * 100
  const wanted = Math.ceil((needed * 100) / o.targetCapacity)
  if (reservation > o.targetCapacity && wanted > o.instances) {
    if (o.warmingUp && o.instances > 0) return { reservation, desired: o.instances, low: false }
    const fromZero = o.instances === 0 ? Math.max(wanted, 2) : wanted
    const step = Math.min(o.maximumStep, Math.max(o.minimumStep, fromZero - o.instances))
    return { reservation, desired: Math.min(o.max, Math.max(o.min, o.instances + step)), low: false }
  }
  const low = reservation < o.targetCapacity && wanted < o.instances
  return { reservation, desired: Math.max(o.min, Math.min(o.max, low ? wanted : o.instances)), low }
}

/** How many instances one scale-in step may remove (since 2022-09: up to 50% of capacity, at least one). */
export const scaleInStep = (instances: number): number => Math.max(1, Math.floor(instances / 2))
