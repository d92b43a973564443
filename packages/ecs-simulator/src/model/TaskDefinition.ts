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
    /** An EFS access point (a repository's workspace) the volume mounts as its root. */
    readonly authorizationConfig?: { readonly accessPointId?: string; readonly iam?: "ENABLED" | "DISABLED" }
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

/** What RunTask says about how a task of a definition is launched: a network configuration, volumes configured. */
export interface LaunchConfiguration {
  readonly networkConfigured: boolean
  /** The names of the volumes RunTask's volumeConfigurations configure. */
  readonly volumesConfigured: ReadonlyArray<string>
  /** Whether an EFS access point exists on the file system (a task cannot mount a deleted one). */
  readonly accessPointExists?: (accessPointId: string, fileSystemId: string) => boolean
}

/**
 * RunTask's rules for a definition's launch: awsvpc needs a network configuration, and the volumes configured at
 * launch are exactly those RunTask configures (InvalidParameterException otherwise).
 */
export const requireLaunchConfiguration = (definition: TaskDefinition, launch: LaunchConfiguration): void => {
  if (definition.networkMode === "awsvpc" && !launch.networkConfigured)
    throw EcsError.invalidParameter(
      "Network Configuration must be provided when networkMode 'awsvpc' is specified."
    )
  for (const volume of definition.volumes ?? [])
    if (volume.configuredAtLaunch === true && !launch.volumesConfigured.includes(volume.name))
      throw EcsError.invalidParameter(
        `volumeConfigurations: the task definition's volume ${volume.name} is configured at launch; RunTask must configure it.`
      )
  for (const volume of definition.volumes ?? []) {
    const efs = volume.efsVolumeConfiguration
    const accessPoint = efs?.authorizationConfig?.accessPointId
    if (efs === undefined || accessPoint === undefined) continue
    if (efs.transitEncryption !== "ENABLED")
      throw EcsError.invalidParameter(
        `volumes.${volume.name}.efsVolumeConfiguration.transitEncryption: must be ENABLED when an access point is used.`
      )
    if (launch.accessPointExists !== undefined && !launch.accessPointExists(accessPoint, efs.fileSystemId))
      throw EcsError.invalidParameter(
        `volumes.${volume.name}: the access point ${accessPoint} does not exist on ${efs.fileSystemId} (the task could not mount it).`
      )
  }
  for (const name of launch.volumesConfigured)
    if (!(definition.volumes ?? []).some((v) => v.name === name && v.configuredAtLaunch === true))
      throw EcsError.invalidParameter(
        `volumeConfigurations: ${name} is not a volume the task definition configures at launch.`
      )
}

/** ListTaskDefinitions: `familyPrefix` is a whole family name, as the API reference says; by family, then revision. */
export const listArns = (
  definitions: ReadonlyMap<string, ReadonlyArray<TaskDefinition>>,
  query: {
    readonly familyPrefix?: string | undefined
    readonly status: string
    readonly sort: "ASC" | "DESC"
  }
): Array<string> => {
  const arns = [...definitions.entries()]
    .filter(([family]) => query.familyPrefix === undefined || family === query.familyPrefix)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([, revisions]) => revisions.filter((d) => d.status === query.status).map((d) => d.arn))
  if (query.sort === "DESC") arns.reverse()
  return arns
}

/** ListTaskDefinitionFamilies: ACTIVE, the families with an ACTIVE revision; INACTIVE, those with none. */
export const listFamilies = (
  definitions: ReadonlyMap<string, ReadonlyArray<TaskDefinition>>,
  query: { readonly familyPrefix?: string | undefined; readonly status: "ACTIVE" | "INACTIVE" | "ALL" }
): Array<string> =>
  [...definitions.entries()]
    .filter(([family]) => query.familyPrefix === undefined || family.startsWith(query.familyPrefix))
    .filter(([, revisions]) => {
      const active = revisions.some((d) => d.status === "ACTIVE")
      return query.status === "ALL" || (query.status === "ACTIVE") === active
    })
    .map(([family]) => family)
    .sort()
