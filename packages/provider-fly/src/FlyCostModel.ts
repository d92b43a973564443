/**
 * What a task costs on Fly Machines, declared next to the plugin's capabilities: per-second guest prices by
 * size and region (core's `Pricing`, the formulas the simulator bills with), the root filesystem while a machine
 * sleeps, and how long a machine takes to resume, boot or be created.
 */
import { CostModel, Money, Pricing, type SizePreset } from "@hangar/core"

export interface Timing {
  /** Seconds a stopped machine takes to boot, a suspended one to resume, a new one to be created. */
  readonly bootSeconds: number
  readonly resumeSeconds: number
  readonly createSeconds: number
  /** The region whose prices an `edge` task pays (where the plugin sends edge tasks). */
  readonly edgeRegion: string
}

export const defaultTiming: Timing = {
  bootSeconds: 2,
  resumeSeconds: 0.5,
  createSeconds: 8,
  edgeRegion: "iad"
}

/** A machine of `size` running in `region`, per second. */
export const runningRate = (size: SizePreset.SizePreset, region: string, edgeRegion = "iad"): Money.Rate =>
  Pricing.flyGuestRate(Pricing.flyGuestBySize[size], region === "edge" ? edgeRegion : region)

const perSecond = (rate: Money.Rate): number => Money.microUsdPerSecond(rate)

export const make = (options: Partial<Timing> = {}): CostModel.CostModel => {
  const timing = { ...defaultTiming, ...options }
  // Policies ask on every decision, for a handful of sizes and regions: worked out once each.
  const rates = new Map<SizePreset.SizePreset, Map<string, number>>()
  const running = (task: CostModel.Workload) => {
    let bySize = rates.get(task.size)
    if (bySize === undefined) {
      bySize = new Map()
      rates.set(task.size, bySize)
    }
    let known = bySize.get(task.region)
    if (known === undefined) {
      known = perSecond(runningRate(task.size, task.region, timing.edgeRegion))
      bySize.set(task.region, known)
    }
    return known
  }
  const rootfs = perSecond(Pricing.flyRootfsRate(Pricing.defaultFlyRootfsGb))
  const asleep = (seconds: number): CostModel.Dormant => ({
    microUsdPerSecond: rootfs,
    wakeSeconds: seconds,
    wakeBilledSeconds: seconds
  })
  return {
    estimate: (task) => {
      const duration = CostModel.expectedSeconds(task)
      const rate = runningRate(task.size, task.region, timing.edgeRegion)
      const wake = timing.resumeSeconds
      return {
        costMicroUsd: Money.cost(rate, Math.round((duration + wake) * 1000)),
        startLatencySeconds: wake,
        note: `per-second ${Money.microUsdPerSecond(rate).toFixed(3)} µ$/s × (${duration}s + ${wake}s wake)`
      }
    },
    machineStates: (task) => ({
      running: running(task),
      suspended: asleep(timing.resumeSeconds),
      stopped: asleep(timing.bootSeconds),
      destroyed: {
        microUsdPerSecond: 0,
        wakeSeconds: timing.createSeconds,
        wakeBilledSeconds: timing.createSeconds
      }
    }),
    dedicated: {
      runMicroUsdPerSecond: running,
      unitMicroUsdPerSecond: running,
      sleepStates: [
        { name: "suspend", microUsdPerSecond: () => rootfs, ...wake(timing.resumeSeconds) },
        { name: "stop", microUsdPerSecond: () => rootfs, ...wake(timing.bootSeconds) }
      ],
      createBilledSeconds: timing.createSeconds,
      createSeconds: timing.createSeconds
    }
  }
}

const wake = (seconds: number) => ({ wakeSeconds: seconds, wakeBilledSeconds: seconds })
