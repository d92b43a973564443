/**
 * Expected cost and start latency of running a task on each provider, from the same pricing formulas the
 * simulators bill with (`Pricing` in @hangar/core). Used by the cost-aware policy, the idle policies'
 * break-even, and the oracle.
 */
import { Money, Pricing, type SizePreset, type TaskSpec } from "@hangar/core"

export interface Estimate {
  readonly costMicroUsd: number
  readonly startLatencySeconds: number
  readonly note: string
}

export interface FlyModel {
  readonly kind: "fly"
  /** Seconds a stopped machine takes to boot, a suspended one to resume, a new one to be created. */
  readonly bootSeconds: number
  readonly resumeSeconds: number
  readonly createSeconds: number
  /** Whether the idle policy suspends (resume) or stops (boot) machines. */
  readonly sleepsBy: "suspend" | "stop"
}

export interface EcsModel {
  readonly kind: "ecs"
  readonly instanceType: string
  readonly gpuInstanceType: string
  /** Seconds to place a task on warm capacity, and to launch a new instance first. */
  readonly warmStartSeconds: number
  readonly scaleOutSeconds: number
  /** Whether the cluster keeps spare capacity for a task of this size right now. */
  readonly hasSpareCapacity: (task: TaskSpec.TaskSpec) => boolean
}

export type ProviderModel = FlyModel | EcsModel

export const defaultFly: FlyModel = {
  kind: "fly",
  bootSeconds: 2,
  resumeSeconds: 0.5,
  createSeconds: 8,
  sleepsBy: "suspend"
}

export const defaultEcs: EcsModel = {
  kind: "ecs",
  instanceType: "t3.large",
  gpuInstanceType: "g4dn.xlarge",
  warmStartSeconds: 10,
  scaleOutSeconds: 150,
  hasSpareCapacity: () => true
}

const expectedSeconds = (task: TaskSpec.TaskSpec): number => task.expectedDurationSeconds ?? 300

export const flyRunningRate = (size: SizePreset.SizePreset, region: string): Money.Rate =>
  Pricing.flyGuestRate(Pricing.flyGuestBySize[size], region === "edge" ? "iad" : region)

/** The fraction of an instance a task reserves: the larger of its CPU and memory shares. */
export const ecsShare = (size: SizePreset.SizePreset, instanceType: string): number => {
  const task = Pricing.ecsTaskBySize[size]
  const instance = Pricing.ec2InstanceTypes[instanceType]
  if (instance === undefined) throw new Error(`unknown instance type "${instanceType}"`)
  return Math.max(task.cpu / (instance.vcpus * 1024), task.memoryMib / instance.memoryMib)
}

const secondsMillis = (s: number) => Math.round(s * 1000)

export const estimate = (model: ProviderModel, task: TaskSpec.TaskSpec): Estimate => {
  const duration = expectedSeconds(task)
  if (model.kind === "fly") {
    const rate = flyRunningRate(task.size, task.region)
    const wake = model.sleepsBy === "suspend" ? model.resumeSeconds : model.bootSeconds
    return {
      costMicroUsd: Money.cost(rate, secondsMillis(duration + wake)),
      startLatencySeconds: wake,
      note: `per-second ${Money.microUsdPerSecond(rate).toFixed(3)} µ$/s × (${duration}s + ${wake}s wake)`
    }
  }
  const instanceType = task.requiresGpu ? model.gpuInstanceType : model.instanceType
  const rate = Pricing.ec2InstanceRate(instanceType)
  if (model.hasSpareCapacity(task)) {
    const share = ecsShare(task.size, instanceType)
    return {
      costMicroUsd: Math.round(Money.cost(rate, secondsMillis(duration)) * share),
      startLatencySeconds: model.warmStartSeconds,
      note: `${(share * 100).toFixed(1)}% of a warm ${instanceType} for ${duration}s`
    }
  }
  const lifetime = Math.max(Pricing.ec2MinimumSeconds, duration + model.scaleOutSeconds)
  return {
    costMicroUsd: Money.costSeconds(rate, Math.ceil(lifetime)),
    startLatencySeconds: model.scaleOutSeconds + model.warmStartSeconds,
    note: `a new ${instanceType} for ${Math.ceil(lifetime)}s (60 s minimum, launch included)`
  }
}

/** The prices an idle policy weighs for a session of `task`: keep it warm, let it sleep, wake it again. */
export const idlePrices = (
  model: ProviderModel,
  task: TaskSpec.TaskSpec
): {
  readonly running: number
  readonly sleeping: number
  readonly wakeCost: number
  readonly wakeSeconds: number
} => {
  if (model.kind === "fly") {
    const running = Money.microUsdPerSecond(flyRunningRate(task.size, task.region))
    const wakeSeconds = model.sleepsBy === "suspend" ? model.resumeSeconds : model.bootSeconds
    return {
      running,
      sleeping: Money.microUsdPerSecond(Pricing.flyRootfsRate(Pricing.defaultFlyRootfsGb)),
      wakeCost: running * wakeSeconds,
      wakeSeconds
    }
  }
  const instanceType = task.requiresGpu ? model.gpuInstanceType : model.instanceType
  const running =
    Money.microUsdPerSecond(Pricing.ec2InstanceRate(instanceType)) * ecsShare(task.size, instanceType)
  return {
    running,
    sleeping: 0,
    wakeCost: running * model.warmStartSeconds,
    wakeSeconds: model.warmStartSeconds
  }
}
