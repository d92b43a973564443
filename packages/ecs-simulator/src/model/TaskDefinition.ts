/** Task definitions: container definitions and what one task reserves on an instance (CPU units, MiB, GPUs). */
import * as EcsError from "./EcsError.js"

export interface ContainerDefinition {
  readonly name: string
  readonly image: string
  readonly cpu?: number
  readonly memory?: number
  readonly memoryReservation?: number
  readonly essential?: boolean
  readonly command?: ReadonlyArray<string>
  readonly environment?: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly resourceRequirements?: ReadonlyArray<{ readonly type: string; readonly value: string }>
  readonly mountPoints?: ReadonlyArray<{ readonly sourceVolume: string; readonly containerPath: string }>
}

/** A task definition volume: bind (host), EFS, or configured when a task is run (ECS-managed EBS). */
export interface Volume {
  readonly name: string
  readonly configuredAtLaunch?: boolean
  readonly efsVolumeConfiguration?: {
    readonly fileSystemId: string
    readonly rootDirectory?: string
    readonly transitEncryption?: "ENABLED" | "DISABLED"
  }
}

/** What a task definition says besides its containers and size. */
export interface Settings {
  readonly networkMode?: "bridge" | "host" | "awsvpc" | "none"
  readonly volumes?: ReadonlyArray<Volume>
  readonly taskRoleArn?: string
}

export interface TaskDefinition extends Settings {
  readonly family: string
  readonly revision: number
  readonly arn: string
  readonly containerDefinitions: ReadonlyArray<ContainerDefinition>
  /** Reserved CPU units (task level, else the sum of the containers'). */
  readonly cpu: number
  /** Reserved MiB: task level, else per container memoryReservation (soft) or memory (hard). */
  readonly memory: number
  readonly gpus: number
  status: "ACTIVE" | "INACTIVE"
  readonly registeredAt: number
}

/** What a task of these containers reserves; throws a ClientException when EC2 could not place it. */
export const demand = (
  containers: ReadonlyArray<ContainerDefinition>,
  cpu: number | undefined,
  memory: number | undefined
): { readonly cpu: number; readonly memory: number; readonly gpus: number } => {
  if (containers.length === 0)
    throw EcsError.client("containerDefinitions: at least one container definition is required.")
  const names = new Set<string>()
  for (const c of containers) {
    if (names.has(c.name))
      throw EcsError.client(`containerDefinitions: the container name ${c.name} is used twice.`)
    names.add(c.name)
  }
  const taskCpu = cpu ?? containers.reduce((sum, c) => sum + (c.cpu ?? 0), 0)
  const taskMemory = memory ?? containers.reduce((sum, c) => sum + (c.memoryReservation ?? c.memory ?? 0), 0)
  if (taskMemory <= 0)
    throw EcsError.client(
      "Invalid setting for container: at least one of 'memory' or 'memoryReservation' must be specified (task level or on every container)."
    )
  let gpus = 0
  for (const c of containers)
    for (const r of c.resourceRequirements ?? []) {
      if (r.type !== "GPU") continue
      const n = Number(r.value)
      if (!Number.isInteger(n) || n < 1)
        throw EcsError.client(
          `containerDefinitions.resourceRequirements: GPU value must be a positive integer, got "${r.value}".`
        )
      gpus += n
    }
  return { cpu: taskCpu, memory: taskMemory, gpus }
}
