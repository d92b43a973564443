/** A task: its definition, placement, lifecycle status and why it stopped. */
import type { TaskStatus } from "./Lifecycle.js"
import type { Tag } from "./Tags.js"
import type { TaskDefinition } from "./TaskDefinition.js"

export type StopCode =
  | "EssentialContainerExited"
  | "InfrastructureHealth"
  | "ServiceSchedulerInitiated"
  | "SpotInterruption"
  | "TaskFailedToStart"
  | "TerminationNotice"
  | "UserInitiated"

export interface Task {
  readonly arn: string
  readonly cluster: string
  readonly definition: TaskDefinition
  readonly capacityProvider: string | undefined
  readonly launchType: "EC2"
  instance: string | undefined
  lastStatus: TaskStatus
  desiredStatus: "RUNNING" | "STOPPED"
  readonly createdAt: number
  pullStartedAt: number | undefined
  startedAt: number | undefined
  stoppingAt: number | undefined
  stoppedAt: number | undefined
  stopCode: StopCode | undefined
  stoppedReason: string | undefined
  readonly startedBy: string | undefined
  readonly group: string | undefined
  readonly environment: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly command: ReadonlyArray<string> | undefined
  readonly enableExecuteCommand: boolean
  tags: Array<Tag>
  exitCode: number | undefined
  /** Aborted when the task stops: exec sessions and the essential command end with it. */
  readonly running: AbortController
  /** Bumped on every status change, so a stale timer does nothing. */
  generation: number
}
