/**
 * What a task costs on ECS on EC2, declared next to the plugin's capabilities: a task's share of a warm
 * instance (the larger of its CPU and memory shares) at the EC2 price (core's `Pricing`, the formulas the
 * simulator bills with), or a new instance for at least EC2's per-launch minimum when the cluster has no spare
 * capacity; an idle task stops and frees its share. For the offline optimum, a dedicated instance per slot.
 */
import { CostModel, Money, Pricing, type SizePreset, type TaskSpec } from "@hangar/core"

export interface Options {
  readonly instanceType: string
  readonly gpuInstanceType: string
  /** Seconds to place a task on warm capacity, and to launch a new instance first. */
  readonly warmStartSeconds: number
  readonly scaleOutSeconds: number
  /** Whether the cluster keeps spare capacity for a task of this size right now. */
  readonly hasSpareCapacity: (task: TaskSpec.TaskSpec) => boolean
}

export const defaults: Options = {
  instanceType: "t3.large",
  gpuInstanceType: "g4dn.xlarge",
  warmStartSeconds: 10,
  scaleOutSeconds: 150,
  hasSpareCapacity: () => true
}

/** The fraction of an instance a task reserves: the larger of its CPU and memory shares. */
export const share = (size: SizePreset.SizePreset, instanceType: string): number => {
  const task = Pricing.ecsTaskBySize[size]
  const instance = Pricing.ec2InstanceTypes[instanceType]
  if (instance === undefined) throw new Error(`unknown instance type "${instanceType}"`)
  return Math.max(task.cpu / (instance.vcpus * 1024), task.memoryMib / instance.memoryMib)
}

export const make = (options: Partial<Options> = {}): CostModel.CostModel => {
  const settings = { ...defaults, ...options }
  const instanceFor = (task: CostModel.Workload) =>
    task.requiresGpu ? settings.gpuInstanceType : settings.instanceType
  // Policies ask on every decision, for one or two instance types: worked out once each.
  const rates = new Map<string, number>()
  const instanceRate = (task: CostModel.Workload) => {
    const instanceType = instanceFor(task)
    let known = rates.get(instanceType)
    if (known === undefined) {
      known = Money.microUsdPerSecond(Pricing.ec2InstanceRate(instanceType))
      rates.set(instanceType, known)
    }
    return known
  }
  const taskShare = (task: CostModel.Workload) => instanceRate(task) * share(task.size, instanceFor(task))
  const launchBilled = Math.max(Pricing.ec2MinimumSeconds, settings.scaleOutSeconds)

  const estimate = (task: TaskSpec.TaskSpec): CostModel.Estimate => {
    const duration = CostModel.expectedSeconds(task)
    const instanceType = instanceFor(task)
    const rate = Pricing.ec2InstanceRate(instanceType)
    if (settings.hasSpareCapacity(task)) {
      const fraction = share(task.size, instanceType)
      return {
        costMicroUsd: Math.round(Money.cost(rate, Math.round(duration * 1000)) * fraction),
        startLatencySeconds: settings.warmStartSeconds,
        note: `${(fraction * 100).toFixed(1)}% of a warm ${instanceType} for ${duration}s`
      }
    }
    const lifetime = Math.ceil(Math.max(Pricing.ec2MinimumSeconds, duration + settings.scaleOutSeconds))
    return {
      costMicroUsd: Money.costSeconds(rate, lifetime),
      startLatencySeconds: settings.scaleOutSeconds + settings.warmStartSeconds,
      note: `a new ${instanceType} for ${lifetime}s (60 s minimum, launch included)`
    }
  }

  return {
    estimate,
    machineStates: (task) => ({
      running: taskShare(task),
      stopped: {
        microUsdPerSecond: 0,
        wakeSeconds: settings.warmStartSeconds,
        wakeBilledSeconds: settings.warmStartSeconds
      }
    }),
    dedicated: {
      runMicroUsdPerSecond: instanceRate,
      unitMicroUsdPerSecond: taskShare,
      sleepStates: [
        {
          name: "terminate",
          microUsdPerSecond: () => 0,
          wakeSeconds: settings.scaleOutSeconds,
          wakeBilledSeconds: launchBilled
        }
      ],
      createBilledSeconds: launchBilled,
      createSeconds: settings.scaleOutSeconds
    }
  }
}
