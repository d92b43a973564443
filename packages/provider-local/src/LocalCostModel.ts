/**
 * What a session costs on this machine: the box's price per hour (zero by default: a machine already paid for)
 * while a session runs, nothing while it is suspended or stopped (the CPU is free for others), a start of a
 * process and a resume by SIGCONT in well under a second.
 */
import { CostModel } from "@hangar/core"

export interface Options {
  /** What an hour of the box costs while a session runs, in dollars (default 0). */
  readonly dollarsPerHour: number
  /** Seconds to start a session's process, and to resume a suspended one. */
  readonly startSeconds: number
  readonly resumeSeconds: number
}

export const defaults: Options = { dollarsPerHour: 0, startSeconds: 0.05, resumeSeconds: 0.01 }

/** The box's price per running second, in micro-dollars. */
export const microUsdPerSecond = (dollarsPerHour: number): number => (dollarsPerHour * 1e6) / 3600

export const make = (options: Partial<Options> = {}): CostModel.CostModel => {
  const settings = { ...defaults, ...options }
  return CostModel.flat({
    runningMicroUsdPerSecond: microUsdPerSecond(settings.dollarsPerHour),
    sleepingMicroUsdPerSecond: 0,
    startSeconds: settings.startSeconds,
    wakeSeconds: settings.resumeSeconds,
    sleepsBy: "suspend"
  })
}
