/**
 * Fly and ECS-on-EC2 described for the oracle and the analytic policy evaluator, priced with core's `Pricing`
 * (the formulas the simulators bill with) and the timing defaults of `CostModel`.
 */
import { Money, Pricing } from "@hangar/core"
import * as CostModel from "./CostModel.js"
import type { Platform, TraceTask } from "./Oracle.js"

const perSecond = (rate: Money.Rate): number => Money.microUsdPerSecond(rate)

export const fly = (model: CostModel.FlyModel = CostModel.defaultFly): Platform => {
  const rootfs = perSecond(Pricing.flyRootfsRate(Pricing.defaultFlyRootfsGb))
  return {
    id: "fly",
    feasible: (task) => !task.requiresGpu,
    runMicroUsdPerSecond: (task) => perSecond(CostModel.flyRunningRate(task.size, task.region)),
    unitMicroUsdPerSecond: (task) => perSecond(CostModel.flyRunningRate(task.size, task.region)),
    sleepStates: [
      {
        name: "suspend",
        microUsdPerSecond: () => rootfs,
        wakeSeconds: model.resumeSeconds,
        wakeBilledSeconds: model.resumeSeconds
      },
      {
        name: "stop",
        microUsdPerSecond: () => rootfs,
        wakeSeconds: model.bootSeconds,
        wakeBilledSeconds: model.bootSeconds
      }
    ],
    createBilledSeconds: model.createSeconds,
    createSeconds: model.createSeconds
  }
}

export const ecs = (model: CostModel.EcsModel = CostModel.defaultEcs): Platform => {
  const instanceFor = (task: TraceTask) => (task.requiresGpu ? model.gpuInstanceType : model.instanceType)
  const instanceRate = (task: TraceTask) => perSecond(Pricing.ec2InstanceRate(instanceFor(task)))
  const launchBilled = Math.max(Pricing.ec2MinimumSeconds, model.scaleOutSeconds)
  return {
    id: "ecs",
    feasible: () => true,
    runMicroUsdPerSecond: instanceRate,
    unitMicroUsdPerSecond: (task) => instanceRate(task) * CostModel.ecsShare(task.size, instanceFor(task)),
    sleepStates: [
      {
        name: "terminate",
        microUsdPerSecond: () => 0,
        wakeSeconds: model.scaleOutSeconds,
        wakeBilledSeconds: launchBilled
      }
    ],
    createBilledSeconds: launchBilled,
    createSeconds: model.scaleOutSeconds
  }
}
