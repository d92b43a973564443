/**
 * What a provider's compute costs, declared by each plugin next to its `Capabilities`: the expected cost and
 * start latency of a task (the cost-aware routing policy), the price of each state an idle machine can be put
 * in with its wake latency (the idle policies' break-even), and a dedicated machine's prices for the offline
 * optimum. The router, its policies and the oracle read it from the registry, never from a provider's id.
 *
 * Money here is micro-dollars as floating point: these are estimates over a model, not bills.
 */
import type { SizePreset } from "./SizePreset.js"
import type { TaskSpec } from "./TaskSpec.js"

/** A task as a cost model prices it: a `TaskSpec`, or a task of a trace (the oracle's). */
export interface Workload {
  readonly size: SizePreset
  readonly region: string
  readonly requiresGpu: boolean
}

/** What a task is expected to cost and how long it waits to start, with a line that says how. */
export interface Estimate {
  readonly costMicroUsd: number
  readonly startLatencySeconds: number
  readonly note: string
}

/** A state an idle machine can be put in: its price while in it, and what it takes to run again. */
export interface Dormant {
  readonly microUsdPerSecond: number
  /** Seconds until a task can run again (resume, boot, or launch). */
  readonly wakeSeconds: number
  /** Seconds billed at the running price per wake (boot time, or a per-launch minimum). */
  readonly wakeBilledSeconds: number
}

/**
 * The states an idle policy chooses between for one session's compute: running (warm) at `running`, and each
 * state the provider offers (a provider without one leaves it out).
 */
export interface MachineStates {
  readonly running: number
  readonly suspended?: Dormant
  readonly stopped?: Dormant
  readonly destroyed?: Dormant
}

/** A way to put a dedicated machine to sleep, as the offline optimum weighs it. */
export interface SleepState<Task extends Workload = Workload> {
  readonly name: "suspend" | "stop" | "terminate"
  readonly microUsdPerSecond: (task: Task) => number
  readonly wakeSeconds: number
  /** Running seconds billed per wake (boot time, or a per-launch minimum). */
  readonly wakeBilledSeconds: number
}

/** A dedicated machine per repository slot, for the offline optimum (the router's `Oracle.Platform`). */
export interface Dedicated<Task extends Workload = Workload> {
  /** Price per second of a dedicated machine for this task, busy or warm-idle. */
  readonly runMicroUsdPerSecond: (task: Task) => number
  /** Price per second of the resources the task alone needs, perfectly packed (the fluid lower bound). */
  readonly unitMicroUsdPerSecond: (task: Task) => number
  readonly sleepStates: ReadonlyArray<SleepState<Task>>
  /** Running seconds billed to create a machine, and how long creation takes. */
  readonly createBilledSeconds: number
  readonly createSeconds: number
}

export interface CostModel {
  /** Expected cost and start latency of `task` (for its `expectedDurationSeconds`) on this provider now. */
  readonly estimate: (task: TaskSpec) => Estimate
  /** The prices of the states an idle session's compute can be in. */
  readonly machineStates: (task: Workload) => MachineStates
  /** The provider as the offline optimum sees it. */
  readonly dedicated: Dedicated
}

/** The duration a cost model assumes for a task that does not say (five minutes). */
export const defaultExpectedSeconds = 300

export const expectedSeconds = (task: TaskSpec): number =>
  task.expectedDurationSeconds ?? defaultExpectedSeconds

/** What an idle policy weighs for one session: keep it warm, let it sleep in `state`, wake it again. */
export interface IdlePrices {
  readonly running: number
  readonly sleeping: number
  readonly wakeCostMicroUsd: number
  readonly wakeSeconds: number
  /** The state a sleep puts the compute in. */
  readonly state: "suspended" | "stopped" | "destroyed"
}

/**
 * The sleep an idle policy weighs: suspended where the provider can suspend and prices it, else stopped, else
 * destroyed; none when the provider declares no sleeping state (it then only ever keeps machines warm).
 */
export const idlePrices = (states: MachineStates, canSuspend: boolean): IdlePrices | undefined => {
  const choice: ReadonlyArray<["suspended" | "stopped" | "destroyed", Dormant | undefined]> = [
    ["suspended", canSuspend ? states.suspended : undefined],
    ["stopped", states.stopped],
    ["destroyed", states.destroyed]
  ]
  for (const [state, dormant] of choice) {
    if (dormant === undefined) continue
    return {
      running: states.running,
      sleeping: dormant.microUsdPerSecond,
      wakeCostMicroUsd: states.running * dormant.wakeBilledSeconds,
      wakeSeconds: dormant.wakeSeconds,
      state
    }
  }
  return undefined
}

/**
 * A provider billed at one running price per second, a sleeping price, a fixed start latency: a dedicated
 * machine is the task's share (the fake provider's and a single build server's shape).
 */
export const flat = (prices: {
  readonly runningMicroUsdPerSecond: number
  readonly sleepingMicroUsdPerSecond: number
  readonly startSeconds: number
  readonly wakeSeconds: number
  /** Whether sleeping suspends (memory kept) or stops. */
  readonly sleepsBy: "suspend" | "stop"
}): CostModel => {
  const running = prices.runningMicroUsdPerSecond
  const dormant: Dormant = {
    microUsdPerSecond: prices.sleepingMicroUsdPerSecond,
    wakeSeconds: prices.wakeSeconds,
    wakeBilledSeconds: prices.wakeSeconds
  }
  return {
    estimate: (task) => {
      const seconds = expectedSeconds(task)
      return {
        costMicroUsd: running * (seconds + prices.startSeconds),
        startLatencySeconds: prices.startSeconds,
        note: `${running} µ$/s × (${seconds}s + ${prices.startSeconds}s start)`
      }
    },
    machineStates: () =>
      prices.sleepsBy === "suspend"
        ? { running, suspended: dormant, stopped: dormant }
        : { running, stopped: dormant },
    dedicated: {
      runMicroUsdPerSecond: () => running,
      unitMicroUsdPerSecond: () => running,
      sleepStates: [
        {
          name: prices.sleepsBy,
          microUsdPerSecond: () => prices.sleepingMicroUsdPerSecond,
          wakeSeconds: prices.wakeSeconds,
          wakeBilledSeconds: prices.wakeSeconds
        }
      ],
      createBilledSeconds: prices.startSeconds,
      createSeconds: prices.startSeconds
    }
  }
}
