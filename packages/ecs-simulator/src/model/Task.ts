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
  readonly running: Running
  /** Bumped on every status change, so a stale timer does nothing. */
  generation: number
}

/**
 * A task's run, aborted when the task stops. Its AbortController is made when something first asks for the
 * signal: most tasks never have a listener, and aborting a controller dispatches an event.
 */
export class Running {
  private controller: AbortController | undefined = undefined
  private abortedWith: { readonly reason: unknown } | undefined = undefined

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.abortedWith !== undefined) this.controller.abort(this.abortedWith.reason)
    }
    return this.controller.signal
  }

  abort(reason?: unknown): void {
    if (this.abortedWith !== undefined) return
    this.abortedWith = { reason }
    this.controller?.abort(reason)
  }
}
