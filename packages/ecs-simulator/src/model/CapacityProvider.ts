/** An ASG capacity provider with managed scaling toward `targetCapacity` (../shared/reference/ecs-ec2.md §4.1). */
import type { Tag } from "./Tags.js"

export interface CapacityProvider {
  readonly name: string
  readonly arn: string
  /** The Auto Scaling group's name. */
  readonly asg: string
  readonly targetCapacity: number
  readonly managedScaling: boolean
  readonly managedTerminationProtection: boolean
  readonly minimumScalingStepSize: number
  readonly maximumScalingStepSize: number
  tags: Array<Tag>
}

export interface ScalingOptions {
  readonly targetCapacity?: number
  readonly managedScaling?: boolean
  readonly managedTerminationProtection?: boolean
  readonly minimumScalingStepSize?: number
  readonly maximumScalingStepSize?: number
}
