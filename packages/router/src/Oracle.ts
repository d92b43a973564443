/**
 * Offline bounds and an analytic evaluator for a whole trace (../shared/reference/routing-and-cost.md §7):
 *
 * - Oracle-0, the fluid lower bound: every task runs at the cheapest unit price any feasible platform offers,
 *   perfectly packed, never idle, with instant capacity. No schedule can cost less.
 * - Oracle-1, the clairvoyant per-repository dynamic program: each repository's tasks go to machine slots
 *   (earliest-free), and for each slot a DP over (platform, machine state) picks, per idle gap, the cheaper of
 *   keeping warm and sleeping with a pre-wake just in time, and whether to switch platform.
 * - `evaluateIdlePolicy`: what an online idle policy costs on the same slots and prices, with its cold starts
 *   and wasted warm seconds, so every online policy is comparable with both bounds.
 *
 * Money here is in micro-dollars as floating point: these are estimates over a model, not bills.
 */
import {
  Capabilities,
  type ComputeProvider,
  type CostModel,
  type IdlePolicy,
  type SizePreset
} from "@hangar/core"
import { Effect } from "effect"
import { groups } from "./Optimum.js"

export interface TraceTask {
  readonly taskId: string
  readonly repository: string
  readonly region: string
  readonly arrivalMillis: number
  readonly durationMillis: number
  readonly size: SizePreset.SizePreset
  readonly requiresGpu: boolean
}

/** A way to put a machine to sleep: its price while asleep and what a wake costs in running seconds. */
export type SleepState = CostModel.SleepState<TraceTask>

/**
 * A platform as the oracle sees it: what it can run, and a dedicated machine's prices per second (busy or
 * warm-idle, and the task's perfectly packed share), sleep states, and creation (billed seconds and duration).
 */
export interface Platform extends CostModel.Dedicated<TraceTask> {
  readonly id: string
  readonly feasible: (task: TraceTask) => boolean
}

/**
 * A composed provider as the oracle sees it: its id, what it can run (GPU and sizes, from its capabilities), and
 * the dedicated-machine prices its plugin declares in its cost model.
 */
export const platformOf = (
  provider: Pick<ComputeProvider.ComputeProvider, "id" | "capabilities" | "costModel">
): Platform => {
  const { capabilities, costModel } = provider
  const gpu = Capabilities.supports(capabilities, "gpu")
  return {
    id: provider.id,
    feasible: (task) => (gpu || !task.requiresGpu) && capabilities.sizes.includes(task.size),
    ...costModel.dedicated
  }
}

export interface Slot {
  readonly repository: string
  readonly tasks: ReadonlyArray<TraceTask>
}

/** Earliest-free assignment of each repository's tasks to machine slots (optimal for interval scheduling). */
export const slots = (trace: ReadonlyArray<TraceTask>): ReadonlyArray<Slot> => {
  const result: Array<Slot> = []
  for (const [key, tasks] of groups(trace)) {
    const open: Array<{ freeAt: number; tasks: Array<TraceTask> }> = []
    for (const task of tasks) {
      const free = open.filter((s) => s.freeAt <= task.arrivalMillis).sort((a, b) => a.freeAt - b.freeAt)[0]
      const slot = free ?? { freeAt: 0, tasks: [] }
      if (free === undefined) open.push(slot)
      slot.tasks.push(task)
      slot.freeAt = task.arrivalMillis + task.durationMillis
    }
    for (const s of open) result.push({ repository: key, tasks: s.tasks })
  }
  return result
}

/** The per-gap optimum on one platform: keep warm, or sleep in the best state and pre-wake just in time. */
export const optimalGapCost = (platform: Platform, task: TraceTask, gapMillis: number): number => {
  const g = gapMillis / 1000
  const run = platform.runMicroUsdPerSecond(task)
  let best = run * g
  for (const state of platform.sleepStates) {
    if (state.wakeSeconds > g) continue
    best = Math.min(best, state.microUsdPerSecond(task) * g + run * state.wakeBilledSeconds)
  }
  return best
}

export interface OracleResult {
  readonly costMicroUsd: number
  readonly platformByTask: ReadonlyMap<string, string>
}

/** Oracle-1: the clairvoyant per-slot DP over platforms and sleep states. */
export const oracle1 = (
  trace: ReadonlyArray<TraceTask>,
  platforms: ReadonlyArray<Platform>
): OracleResult => {
  let total = 0
  const platformByTask = new Map<string, string>()
  for (const slot of slots(trace)) {
    // cost[p] = cheapest way to have served the tasks so far with the last one on platform p
    let cost = platforms.map(() => Number.POSITIVE_INFINITY)
    const choice: Array<Array<number>> = []
    slot.tasks.forEach((task, i) => {
      const busy = (p: Platform) => p.runMicroUsdPerSecond(task) * (task.durationMillis / 1000)
      const create = (p: Platform) => p.runMicroUsdPerSecond(task) * p.createBilledSeconds
      const next = platforms.map(() => Number.POSITIVE_INFINITY)
      const from = platforms.map(() => -1)
      platforms.forEach((q, qi) => {
        if (!q.feasible(task)) return
        if (i === 0) {
          next[qi] = create(q) + busy(q)
          return
        }
        const previous = slot.tasks[i - 1]!
        const gap = task.arrivalMillis - (previous.arrivalMillis + previous.durationMillis)
        platforms.forEach((_p, pi) => {
          const before = cost[pi]!
          if (!Number.isFinite(before)) return
          const step = pi === qi ? optimalGapCost(q, task, gap) + busy(q) : create(q) + busy(q)
          if (before + step < next[qi]!) {
            next[qi] = before + step
            from[qi] = pi
          }
        })
      })
      choice.push(from)
      cost = next
    })
    const best = Math.min(...cost)
    if (!Number.isFinite(best)) throw new Error(`no platform can run every task of ${slot.repository}`)
    total += best
    let at = cost.indexOf(best)
    for (let i = slot.tasks.length - 1; i >= 0; i--) {
      platformByTask.set(slot.tasks[i]!.taskId, platforms[at]!.id)
      at = choice[i]![at] ?? at
    }
  }
  return { costMicroUsd: total, platformByTask }
}

/** Oracle-0: the fluid lower bound. */
export const oracle0 = (trace: ReadonlyArray<TraceTask>, platforms: ReadonlyArray<Platform>): number => {
  let total = 0
  for (const task of trace) {
    const prices = platforms.filter((p) => p.feasible(task)).map((p) => p.unitMicroUsdPerSecond(task))
    if (prices.length === 0) throw new Error(`no platform can run task ${task.taskId}`)
    total += Math.min(...prices) * (task.durationMillis / 1000)
  }
  return total
}

export interface PolicyEvaluation {
  readonly costMicroUsd: number
  readonly coldStarts: number
  readonly warmStarts: number
  /** Start latency of each task after the first on its slot, in seconds (0 when warm). */
  readonly startLatencies: ReadonlyArray<number>
  /** Seconds machines spent warm and idle before a sleep that came anyway, or before the trace ended. */
  readonly wastedWarmSeconds: number
  /** Per gap: what the policy paid and what the per-gap optimum would have. */
  readonly gaps: ReadonlyArray<{ readonly paid: number; readonly optimal: number }>
}

/**
 * One idle gap of `g` ms under a decision to sleep `after` ms into it (then pre-warm, if the decision says so):
 * what it cost, the start latency the next task saw, and the seconds spent warm before a sleep that came anyway.
 */
const gapOutcome = (
  g: number,
  after: number,
  decision: IdlePolicy.IdleDecision,
  run: number,
  sleepState: SleepState,
  task: TraceTask
): { readonly paid: number; readonly latency: number; readonly wastedSeconds: number } => {
  const asleep = sleepState.microUsdPerSecond(task)
  const wake = run * sleepState.wakeBilledSeconds
  if (g <= after) return { paid: run * (g / 1000), latency: 0, wastedSeconds: 0 }
  if (decision.prewarmAfterMillis === undefined) {
    return {
      paid: run * (after / 1000) + asleep * ((g - after) / 1000) + wake,
      latency: sleepState.wakeSeconds,
      wastedSeconds: after / 1000
    }
  }
  const prewarm = Math.max(after, decision.prewarmAfterMillis)
  const keep = decision.prewarmKeepAliveMillis ?? 0
  if (g <= prewarm) {
    return {
      paid: run * (after / 1000) + asleep * ((g - after) / 1000) + wake,
      latency: sleepState.wakeSeconds,
      wastedSeconds: 0
    }
  }
  if (g <= prewarm + keep) {
    return {
      paid: run * (after / 1000) + asleep * ((prewarm - after) / 1000) + wake + run * ((g - prewarm) / 1000),
      latency: Math.max(0, sleepState.wakeSeconds - (g - prewarm) / 1000),
      wastedSeconds: 0
    }
  }
  return {
    paid:
      run * (after / 1000) +
      asleep * ((prewarm - after) / 1000) +
      wake +
      run * (keep / 1000) +
      asleep * ((g - prewarm - keep) / 1000) +
      wake,
    latency: sleepState.wakeSeconds,
    wastedSeconds: keep / 1000
  }
}

/**
 * Runs an online idle policy over the trace on one platform (the one every task goes to), with the same slots
 * and prices as Oracle-1. Sleep uses the policy's action: suspend → the platform's `suspend` state, stop → its
 * `stop` state (falling back to the first state it has).
 */
export const evaluateIdlePolicy = (
  trace: ReadonlyArray<TraceTask>,
  platform: Platform,
  policy: IdlePolicy.Service,
  options: { readonly providerId?: string; readonly platformAutostopMillis?: number } = {}
): PolicyEvaluation => {
  let cost = 0
  let coldStarts = 0
  let warmStarts = 0
  let wasted = 0
  const latencies: Array<number> = []
  const gaps: Array<{ paid: number; optimal: number }> = []
  const provider = options.providerId ?? platform.id
  for (const slot of slots(trace)) {
    slot.tasks.forEach((task, i) => {
      const run = platform.runMicroUsdPerSecond(task)
      cost += run * (task.durationMillis / 1000)
      if (i === 0) {
        cost += run * platform.createBilledSeconds
        return
      }
      const previous = slot.tasks[i - 1]!
      const idleSince = previous.arrivalMillis + previous.durationMillis
      const g = task.arrivalMillis - idleSince
      const state = platform.sleepStates[0]
      if (state === undefined) throw new Error(`platform ${platform.id} cannot sleep`)
      const input: IdlePolicy.IdleInput = {
        repository: task.repository as IdlePolicy.IdleInput["repository"],
        provider: provider as IdlePolicy.IdleInput["provider"],
        sessionId: slot.repository,
        idleSinceMillis: idleSince,
        runningMicroUsdPerSecond: run,
        sleepingMicroUsdPerSecond: state.microUsdPerSecond(task),
        wakeCostMicroUsd: run * state.wakeBilledSeconds,
        wakeSeconds: state.wakeSeconds,
        canSuspend: platform.sleepStates.some((s) => s.name === "suspend")
      }
      const decision = Effect.runSync(policy.onIdle(input))
      const sleepState =
        platform.sleepStates.find((s) => s.name === decision.action) ??
        platform.sleepStates.find((s) => s.name === "stop") ??
        state
      const after =
        decision.action === "keep"
          ? Number.POSITIVE_INFINITY
          : decision.action === "platform"
            ? (options.platformAutostopMillis ?? 5 * 60_000)
            : decision.afterMillis
      const { paid, latency, wastedSeconds } = gapOutcome(g, after, decision, run, sleepState, task)
      wasted += wastedSeconds
      if (latency > 0) coldStarts++
      else warmStarts++
      latencies.push(latency)
      cost += paid
      gaps.push({ paid, optimal: optimalGapCost(platform, task, g) })
      Effect.runSync(
        policy.onArrival({
          repository: task.repository as IdlePolicy.Arrival["repository"],
          provider: provider as IdlePolicy.Arrival["provider"],
          idleGapMillis: g,
          atMillis: task.arrivalMillis
        })
      )
    })
  }
  return {
    costMicroUsd: cost,
    coldStarts,
    warmStarts,
    startLatencies: latencies,
    wastedWarmSeconds: wasted,
    gaps
  }
}
