/**
 * Declared lifecycles: the ECS task states (../shared/reference/ecs-ec2.md §2.2) and the EC2 instance / container
 * instance states, as transition tables. The model moves only along these edges; anything else is a bug and
 * throws `IllegalTransition`.
 */
export type TaskStatus =
  | "PROVISIONING"
  | "PENDING"
  | "ACTIVATING"
  | "RUNNING"
  | "DEACTIVATING"
  | "STOPPING"
  | "DEPROVISIONING"
  | "STOPPED"

/** For each task status, the statuses it may move to. */
export const taskTransitions: Readonly<Record<TaskStatus, ReadonlyArray<TaskStatus>>> = {
  // Never placed: stops when stopped by the user or when no capacity came in time.
  PROVISIONING: ["PENDING", "STOPPED"],
  // Placed, containers not created yet: stopping releases the reservation at once.
  PENDING: ["ACTIVATING", "STOPPED"],
  ACTIVATING: ["RUNNING", "DEACTIVATING"],
  RUNNING: ["DEACTIVATING"],
  DEACTIVATING: ["STOPPING"],
  STOPPING: ["DEPROVISIONING"],
  DEPROVISIONING: ["STOPPED"],
  STOPPED: []
}

/** The statuses in lifecycle order. */
export const taskStatuses: ReadonlyArray<TaskStatus> = [
  "PROVISIONING",
  "PENDING",
  "ACTIVATING",
  "RUNNING",
  "DEACTIVATING",
  "STOPPING",
  "DEPROVISIONING",
  "STOPPED"
]

/** EC2 instance state (billing runs from `pending` to `terminated`). */
export type InstanceState = "pending" | "running" | "terminated"

export const instanceTransitions: Readonly<Record<InstanceState, ReadonlyArray<InstanceState>>> = {
  pending: ["running", "terminated"],
  running: ["terminated"],
  terminated: []
}

/** ECS container instance status. */
export type ContainerInstanceStatus = "REGISTERING" | "ACTIVE" | "DRAINING" | "INACTIVE"

export const containerInstanceTransitions: Readonly<
  Record<ContainerInstanceStatus, ReadonlyArray<ContainerInstanceStatus>>
> = {
  REGISTERING: ["ACTIVE", "INACTIVE"],
  ACTIVE: ["DRAINING", "INACTIVE"],
  DRAINING: ["ACTIVE", "INACTIVE"],
  INACTIVE: []
}

export class IllegalTransition extends Error {
  override readonly name = "IllegalTransition"
}

export const check = <S extends string>(
  table: Readonly<Record<S, ReadonlyArray<S>>>,
  kind: string,
  from: S,
  to: S
): void => {
  if (!table[from].includes(to)) throw new IllegalTransition(`illegal ${kind} transition ${from} → ${to}`)
}

/** Simulated durations in milliseconds (each drawn with seeded jitter where it says so). */
export interface TimingModel {
  /** RunInstances to a registered container instance (EC2 boot + ECS agent): tens of seconds to minutes. */
  readonly instanceLaunch: number
  /** Jitter spread of the launch time (0.6 → 40%–160% of `instanceLaunch`). */
  readonly instanceLaunchSpread: number
  /** Managed scaling does not take a second scale-out step while an instance is this young (instanceWarmupPeriod). */
  readonly instanceWarmup: number
  /** Placement to RUNNING on a warm instance whose image cache already holds the image. */
  readonly taskStart: number
  /** Extra time for the first pull of an image on an instance. */
  readonly imagePull: number
  /** StopTask (SIGTERM, container exit) to STOPPED. */
  readonly taskStop: number
  /** How often managed scaling publishes CapacityProviderReservation and evaluates its alarms (ECS: 1 min). */
  readonly scalingPeriod: number
  /** Low-reservation time before scale-in (CloudWatch: 15 data points of 1 minute). */
  readonly scaleInAfter: number
  /** Between two scale-in steps (the target tracking policy's scale-in cooldown, 300 s by default). */
  readonly scaleInCooldown: number
  /** How long a PROVISIONING task waits for capacity before it stops (AWS: 10–30 min). */
  readonly provisioningTimeout: number
  /** Stopped tasks and INACTIVE container instances stay describable this long (AWS: at least 1 hour). */
  readonly retention: number
}

export const defaultTiming: TimingModel = {
  instanceLaunch: 75_000,
  instanceLaunchSpread: 0.6,
  instanceWarmup: 300_000,
  taskStart: 4_000,
  imagePull: 12_000,
  taskStop: 2_000,
  scalingPeriod: 60_000,
  scaleInAfter: 15 * 60_000,
  scaleInCooldown: 5 * 60_000,
  provisioningTimeout: 20 * 60_000,
  retention: 2 * 3_600_000
}
