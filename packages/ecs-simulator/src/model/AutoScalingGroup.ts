/**
 * Auto Scaling groups (the EC2/ASG API is not simulated: groups are made in-process or through
 * `/_sim/autoscaling-groups`) and the instance shapes ECS registers: 1024 CPU units per vCPU, memory below physical.
 */
import { Pricing } from "@hangar/core"
import * as EcsError from "./EcsError.js"

export interface AutoScalingGroup {
  readonly name: string
  readonly arn: string
  readonly instanceType: string
  min: number
  max: number
  desired: number
}

export interface GroupSpec {
  readonly name: string
  readonly instanceType: string
  readonly min: number
  readonly max: number
  readonly desired: number
}

/** Memory ECS registers for tasks: physical less what the OS and agent keep (an 8 GiB m4.large registers 7985 MiB). */
export const registeredMemory = (physicalMib: number): number => Math.floor(physicalMib * 0.975)

export const shape = (instanceType: string) => {
  const type = Pricing.ec2InstanceTypes[instanceType]
  if (type === undefined)
    throw EcsError.invalidParameter(
      `instanceType: expected one of ${Object.keys(Pricing.ec2InstanceTypes).join(", ")}, got "${instanceType}".`
    )
  return { cpu: type.vcpus * 1024, memory: registeredMemory(type.memoryMib), gpus: type.gpus }
}

/** Checks a group's fields; its instance type needs a known shape and a price in `pricing`'s catalog. */
export const validate = (spec: GroupSpec, pricing: Pricing.Ec2Pricing): void => {
  if (!/^[\w.-]{1,255}$/.test(spec.name))
    throw EcsError.invalidParameter(
      `name: expected 1-255 letters, digits, '_', '-' or '.', got "${spec.name}".`
    )
  const unpriced = Pricing.ec2Unpriced(spec.instanceType, pricing)
  if (unpriced !== undefined) throw EcsError.invalidParameter(`instanceType: ${unpriced}.`)
  for (const field of ["min", "max", "desired"] as const)
    if (!Number.isInteger(spec[field]) || spec[field] < 0 || spec[field] > 1000)
      throw EcsError.invalidParameter(`${field}: expected an integer 0-1000, got ${spec[field]}.`)
  if (!(spec.min <= spec.desired && spec.desired <= spec.max && spec.max > 0))
    throw EcsError.invalidParameter(
      `min/desired/max: expected 0 <= min <= desired <= max and max > 0, got ${spec.min}/${spec.desired}/${spec.max}.`
    )
}
