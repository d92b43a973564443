/** An EC2 instance of an Auto Scaling group and the ECS container instance registered on it. */
import type { ContainerInstanceStatus, InstanceState } from "./Lifecycle.js"

export interface Instance {
  readonly id: string
  readonly arn: string
  readonly cluster: string
  readonly capacityProvider: string
  readonly instanceType: string
  readonly availabilityZone: string
  /** Registered resources. */
  readonly cpu: number
  readonly memory: number
  readonly gpus: number
  state: InstanceState
  status: ContainerInstanceStatus
  readonly launchedAt: number
  /** When managed scaling stops counting it as warming up (instances present at setup are warm at once). */
  readonly warmAt: number
  registeredAt: number | undefined
  terminatedAt: number | undefined
  /** ARNs of the tasks placed here and not yet STOPPED. */
  readonly tasks: Set<string>
  /** Reserved by those tasks. */
  reservedCpu: number
  reservedMemory: number
  reservedGpus: number
  /** Images this instance has pulled (a second task of the same image starts without a pull). */
  readonly images: Set<string>
  emptySince: number | undefined
}

export const remaining = (i: Instance) => ({
  cpu: i.cpu - i.reservedCpu,
  memory: i.memory - i.reservedMemory,
  gpus: i.gpus - i.reservedGpus
})

/** What a container instance holds when it is created: no tasks, nothing reserved, no images pulled. */
export const unreserved = () => ({
  tasks: new Set<string>(),
  reservedCpu: 0,
  reservedMemory: 0,
  reservedGpus: 0,
  images: new Set<string>(),
  emptySince: undefined
})
