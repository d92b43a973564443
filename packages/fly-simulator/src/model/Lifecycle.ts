/**
 * Fly's machine lifecycle as a declared table (../shared/reference/fly-machines-api.md §2.2, the official
 * state diagram): which action is legal from which state, and the transient state it passes through.
 */
import type { Pricing } from "@hangar/core"

export type MachineState = Pricing.FlyMachineState

export type Action = "start" | "stop" | "suspend" | "destroy" | "update" | "restart"

/** For each action, the states it may start from. */
export const allowedFrom: Readonly<Record<Action, ReadonlyArray<MachineState>>> = {
  start: ["created", "stopped", "suspended", "failed", "suspending"],
  stop: ["created", "started", "suspended", "failed"],
  suspend: ["started"],
  destroy: ["created", "started", "stopped", "suspended", "failed"],
  update: ["created", "started", "stopped", "suspended", "failed"],
  restart: ["started"]
}

export const transient: ReadonlySet<MachineState> = new Set([
  "starting",
  "stopping",
  "suspending",
  "destroying"
])

/** What Fly answers when an action is not legal now. */
export const illegalMessage = (action: Action, state: MachineState): string =>
  action === "start"
    ? "unable to start machine from current state"
    : `unable to ${action} machine from current state: ${state}`

export interface TimingModel {
  /** Milliseconds, before seeded jitter of ±20%. */
  readonly create: number
  readonly firstImagePull: number
  readonly bootFromStopped: number
  readonly resumeFromSuspended: number
  readonly stop: number
  /** Suspend writes memory to disk: a base plus this much per GB of memory. */
  readonly suspendBase: number
  readonly suspendPerGb: number
  readonly destroy: number
}

/**
 * Defaults from the published figures gathered in the reference: sub-second resume from suspend, a couple of
 * seconds to boot a stopped machine, seconds to create, and a first image pull that dominates a cold create.
 */
export const defaultTiming: TimingModel = {
  create: 3_000,
  firstImagePull: 10_000,
  bootFromStopped: 1_500,
  resumeFromSuspended: 400,
  stop: 1_000,
  suspendBase: 800,
  suspendPerGb: 1_500,
  destroy: 500
}

/** Every transition immediate: for benchmarks that measure the API, not the machines. */
export const instantTiming: TimingModel = {
  create: 0,
  firstImagePull: 0,
  bootFromStopped: 0,
  resumeFromSuspended: 0,
  stop: 0,
  suspendBase: 0,
  suspendPerGb: 0,
  destroy: 0
}
