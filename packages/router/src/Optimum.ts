/**
 * The exact offline optimum of the oracle's cost model (`Platform`, `TraceTask` of Oracle.ts), per repository and
 * region over every platform, and its wait-aware variant.
 *
 * The model. A schedule runs each repository@region's tasks on machines. A machine lives on one platform, serves
 * tasks that do not overlap in time, in arrival order, and each task feasible on that platform. It costs:
 * - creation, for its first task t: `run(t) × createBilledSeconds`;
 * - each task t it serves: `run(t) × duration(t)`;
 * - each idle gap g before a task t' it serves next (priced at t', as Oracle-1 prices gaps): the cheapest of
 *   keeping warm, `run(t') × g`, and each sleep state σ, `sleep_σ(t') × g + run(t') × wakeBilledSeconds_σ`.
 * Destroying a machine costs nothing: "destroy and re-create later" is a machine ending and a new one starting,
 * on the same or another platform. So a schedule is a partition of each group's tasks into chains of
 * non-overlapping tasks with a platform per chain, and the optimum is the cheapest such partition. Oracle-1's
 * schedule (earliest-free slots, never re-creating on the same platform) is one of them, so this is ≤ Oracle-1;
 * every task still costs at least its fluid price, so Oracle-0 ≤ this.
 *
 * Two timing models:
 * - clairvoyant (default, like Oracle-1): wakes and creations happen just in time, so no task waits; a sleep
 *   state σ is usable only in gaps of at least `wakeSeconds_σ`.
 * - wait-aware (`waitMicroUsdPerSecond` = λ): machines wake and are created when the task arrives, as an online
 *   policy must (no pre-wake), and every second a task waits costs λ: a sleep adds `λ × wakeSeconds_σ`, a
 *   creation `λ × createSeconds`. This is the offline optimum of the ski-rental objective (reference
 *   routing-and-cost.md §1.2), the like-for-like bound for a "cost + wait" column. (Busy intervals stay at
 *   [arrival, arrival + duration]; a policy that pre-warms on a prediction can beat it.)
 *
 * The algorithm: a dynamic program over each group's arrivals. The state after an arrival is the set of machines
 * that may serve a later task: per platform, the end times of their last tasks (the ones still running and the
 * idle ones). At an arrival the task goes on a new machine on any feasible platform, or follows any idle machine
 * on its platform; machines not chosen stay, and any machine may be dropped (destroyed) at no cost. The
 * clairvoyant optimum is exact because the DP keeps every state except those provably no better:
 * - an idle machine whose gap to every remaining task already makes following it cost at least a new machine
 *   (beyond the platform's horizon) is dropped: creating is never worse from then on;
 * - state B is dropped when a state A costs no more than B even after granting B the most its machines could
 *   save over A's. Matched by rank per platform (latest with latest), a machine of B that ends δ later than A's
 *   saves at most δ × the slope of the gap cost (the gap cost is concave and
 *   never falls as the gap grows: every option is linear in the gap, and a sleep state becomes usable only at a
 *   gap where keeping warm is cheaper, as wakeBilledSeconds ≥ wakeSeconds, which `optimum` checks); a machine A
 *   lacks (or has but still busy) saves at most what a new machine would cost over its busy time there.
 * The wait-aware optimum adds one restriction: at most K machines per platform at once (running and idle), K
 * the group's peak concurrency. Without it a spare machine, cheap to keep asleep and worth a creation's wait,
 * multiplies the states; with it the DP is exact over such schedules, and the property test (Optimum.test.ts)
 * finds it equal to the unrestricted exhaustive search on 600 small traces. That the restriction never binds is
 * not proved.
 * Complexity: O(n · S · (M + P) + n · S² · M) for n tasks in a group, S states kept per arrival, M machines per
 * state and P platforms; S ≤ (P + 1)^W for W tasks ending within the horizon. Measured S (`largestFrontier`)
 * on the seed scenarios (560 to 4,819 tasks over 30 days): 1 clairvoyant, at most 24 wait-aware; on an
 * Azure-shaped trace (9,586 tasks, peak concurrency 6 in a repository): 2 clairvoyant, up to about 150
 * wait-aware. A group whose frontier exceeds `maxStates` (default 100,000) is refused with `TooManyStates`
 * rather than solved inexactly.
 */
import type { Platform, TraceTask } from "./Oracle.js"

export interface OptimumOptions {
  /** λ in micro-dollars per second of wait; set, the optimum is wait-aware (no pre-wake). */
  readonly waitMicroUsdPerSecond?: number
  /** The largest number of DP states per arrival the solver keeps before refusing the group. */
  readonly maxStates?: number
}

export interface OptimumResult {
  /** Money plus λ × wait (the objective); equal to `moneyMicroUsd` when not wait-aware. */
  readonly costMicroUsd: number
  readonly moneyMicroUsd: number
  /** Seconds tasks waited for a wake or a creation (0 when clairvoyant). */
  readonly waitSeconds: number
  /** Machines created (a re-creation after a destroy counts again). */
  readonly machinesCreated: number
  readonly platformByTask: ReadonlyMap<string, string>
  /** The largest DP frontier over all groups (the S of the complexity). */
  readonly largestFrontier: number
}

// ---------------------------------------------------------------------------------------------------------------
// The cost of one step
// ---------------------------------------------------------------------------------------------------------------

/** What one choice adds: money, and seconds a task waits. */
interface Step {
  readonly money: number
  readonly wait: number
}

interface Prices {
  readonly lambda: number
  readonly reactive: boolean
}

const objective = (step: Step, prices: Prices) => step.money + prices.lambda * step.wait

/** A new machine on `platform` for `task`. */
export const creationStep = (platform: Platform, task: TraceTask, prices: Prices): Step => ({
  money: platform.runMicroUsdPerSecond(task) * platform.createBilledSeconds,
  wait: prices.reactive ? platform.createSeconds : 0
})

/** The cheapest way through an idle gap of `gapMillis` before `task` on a machine of `platform`. */
export const gapStep = (platform: Platform, task: TraceTask, gapMillis: number, prices: Prices): Step => {
  const g = gapMillis / 1000
  const run = platform.runMicroUsdPerSecond(task)
  let best: Step = { money: run * g, wait: 0 }
  for (const state of platform.sleepStates) {
    if (!prices.reactive && state.wakeSeconds > g) continue
    const step = {
      money: state.microUsdPerSecond(task) * g + run * state.wakeBilledSeconds,
      wait: prices.reactive ? state.wakeSeconds : 0
    }
    if (objective(step, prices) < objective(best, prices)) best = step
  }
  return best
}

/**
 * The gap (ms) from which following a machine of `platform` costs `task` at least a new machine: the largest
 * crossing point over keeping warm and every sleep state (infinite when one of them stays cheaper forever).
 */
const horizonMillis = (platform: Platform, task: TraceTask, prices: Prices): number => {
  const create = objective(creationStep(platform, task, prices), prices)
  const run = platform.runMicroUsdPerSecond(task)
  let horizon = run > 0 ? create / run : Number.POSITIVE_INFINITY
  for (const state of platform.sleepStates) {
    const fixed = run * state.wakeBilledSeconds + (prices.reactive ? prices.lambda * state.wakeSeconds : 0)
    const rate = state.microUsdPerSecond(task)
    if (fixed >= create) continue
    horizon = Math.max(horizon, rate > 0 ? (create - fixed) / rate : Number.POSITIVE_INFINITY)
  }
  return horizon * 1000
}

// ---------------------------------------------------------------------------------------------------------------
// The dynamic program over one group's arrivals
// ---------------------------------------------------------------------------------------------------------------

interface Machine {
  readonly platform: number
  readonly endMillis: number
}

/** How a state was reached, for the schedule: the task's platform and whether it needed a new machine. */
interface Trail {
  readonly previous: Trail | undefined
  readonly platform: number
  readonly created: boolean
}

interface State {
  /** Sorted by platform, then end time descending. */
  readonly machines: ReadonlyArray<Machine>
  readonly value: number
  readonly money: number
  readonly wait: number
  readonly trail: Trail | undefined
}

const byPlatformThenLatest = (a: Machine, b: Machine) => a.platform - b.platform || b.endMillis - a.endMillis

const keyOf = (machines: ReadonlyArray<Machine>) =>
  machines.map((m) => `${m.platform}:${m.endMillis}`).join(",")

/** What the DP needs of a group's prices to bound the value of a machine: per platform, at a given idle gap. */
interface Bounds {
  /** Beyond this gap (ms), following an idle machine costs any task at least a new machine. */
  readonly horizonMillis: ReadonlyArray<number>
  /** The most a task pays per second of extra gap, beyond a gap of `g` ms (the gap cost is concave). */
  readonly slope: (platform: number, gapMillis: number) => number
  /** The most an extra machine, idle for `gapMillis` (0 if running), can save one task (see `spareValues`). */
  readonly spareValue: (platform: number, gapMillis: number) => number
}

/**
 * At most how much more than state `a` state `b` can save from here on, through its machines. Per platform, b's
 * machines are matched by rank to a's (latest with latest). A pair costs nothing when a's machine is idle and
 * ended no earlier; when a's ended δ earlier, a follow-up pays at most δ × the slope of the gap cost (at b's
 * gap now, or 0 if b's machine still runs: the gap cost is concave); a machine a lacks, or one of a's that is
 * still running past b's, is worth at most a spare (`spareValue`).
 */
const advantage = (
  a: ReadonlyArray<Machine>,
  b: ReadonlyArray<Machine>,
  atMillis: number,
  bounds: Bounds
): number => {
  let total = 0
  let i = 0
  let previous = -1
  for (const m of b) {
    if (m.platform !== previous) {
      while (i < a.length && a[i]!.platform < m.platform) i++
      previous = m.platform
    }
    const match = a[i]
    const spare = () => bounds.spareValue(m.platform, Math.max(0, atMillis - m.endMillis))
    if (match === undefined || match.platform !== m.platform) {
      total += spare()
      continue
    }
    i++
    if (match.endMillis < m.endMillis)
      total +=
        (bounds.slope(m.platform, Math.max(0, atMillis - m.endMillis)) * (m.endMillis - match.endMillis)) /
        1000
    else if (match.endMillis > atMillis && match.endMillis > m.endMillis) total += spare()
  }
  return total
}

/**
 * The states worth keeping at `atMillis`: idle machines past their platform's horizon dropped, then every state
 * that a cheaper one beats even after granting it its machines' advantage.
 */
const prune = (states: ReadonlyArray<State>, atMillis: number, bounds: Bounds): Array<State> => {
  const distinct = new Map<string, State>()
  for (const state of states) {
    const machines = state.machines.filter(
      (m) => m.endMillis > atMillis || atMillis - m.endMillis < bounds.horizonMillis[m.platform]!
    )
    const key = keyOf(machines)
    const seen = distinct.get(key)
    if (seen === undefined || state.value < seen.value) distinct.set(key, { ...state, machines })
  }
  const kept: Array<State> = []
  for (const state of [...distinct.values()].sort((a, b) => a.value - b.value)) {
    if (
      kept.some(
        (other) => other.value + advantage(other.machines, state.machines, atMillis, bounds) <= state.value
      )
    )
      continue
    kept.push(state)
  }
  return kept
}

/** Every way to serve `task` from `state`: a new machine on a feasible platform, or after an idle one of it. */
const successors = (
  state: State,
  task: TraceTask,
  platforms: ReadonlyArray<Platform>,
  prices: Prices,
  machinesPerPlatform: number
): Array<State> => {
  const out: Array<State> = []
  const endMillis = task.arrivalMillis + task.durationMillis
  const push = (machines: Array<Machine>, platform: number, step: Step, busy: number, created: boolean) => {
    machines.sort(byPlatformThenLatest)
    out.push({
      machines,
      value: state.value + objective(step, prices) + busy,
      money: state.money + step.money + busy,
      wait: state.wait + step.wait,
      trail: { previous: state.trail, platform, created }
    })
  }
  const add = (platform: number, step: Step, without: number, created: boolean) => {
    const busy = platforms[platform]!.runMicroUsdPerSecond(task) * (task.durationMillis / 1000)
    const machines = state.machines.filter((_, i) => i !== without)
    machines.push({ platform, endMillis })
    const onPlatform = machines.filter((m) => m.platform === platform)
    if (onPlatform.length <= machinesPerPlatform) return push(machines, platform, step, busy, created)
    // over the cap: one idle machine of the platform goes, each in turn
    for (const spare of onPlatform)
      if (spare.endMillis <= task.arrivalMillis)
        push(
          machines.filter((m) => m !== spare),
          platform,
          step,
          busy,
          created
        )
  }
  platforms.forEach((platform, p) => {
    if (!platform.feasible(task)) return
    add(p, creationStep(platform, task, prices), -1, true)
    state.machines.forEach((m, i) => {
      if (m.platform !== p || m.endMillis > task.arrivalMillis) return
      add(p, gapStep(platform, task, task.arrivalMillis - m.endMillis, prices), i, false)
    })
  })
  return out
}

/** The slope of the gap cost of `task` on `platform` at a gap of `gapMillis` (of the cheapest option there). */
const gapSlope = (platform: Platform, task: TraceTask, gapMillis: number, prices: Prices): number => {
  const g = gapMillis / 1000
  const run = platform.runMicroUsdPerSecond(task)
  let best = run * g
  let slope = run
  for (const state of platform.sleepStates) {
    if (!prices.reactive && state.wakeSeconds > g) continue
    const rate = state.microUsdPerSecond(task)
    const value =
      rate * g + run * state.wakeBilledSeconds + (prices.reactive ? prices.lambda * state.wakeSeconds : 0)
    if (value < best || (value === best && rate > slope)) {
      best = value
      slope = rate
    }
  }
  return slope
}

/**
 * The most a spare machine of platform `p` can save one task, per class of price: the cheapest new machine on any
 * platform, less the task's busy time on `p` (the gap to follow the spare is subtracted at the spare's own gap).
 */
const spareValues = (
  tasks: ReadonlyArray<TraceTask>,
  platforms: ReadonlyArray<Platform>,
  p: number,
  prices: Prices
): Map<string, { readonly task: TraceTask; readonly most: number }> => {
  const busy = (platform: Platform, task: TraceTask) =>
    platform.runMicroUsdPerSecond(task) * (task.durationMillis / 1000)
  const byClass = new Map<string, { task: TraceTask; most: number }>()
  for (const task of tasks) {
    if (!platforms[p]!.feasible(task)) continue
    const fresh = Math.min(
      ...platforms
        .filter((q) => q.feasible(task))
        .map((q) => objective(creationStep(q, task, prices), prices) + busy(q, task))
    )
    const key = priceClass(task)
    const saving = fresh - busy(platforms[p]!, task)
    const seen = byClass.get(key)
    if (seen === undefined || saving > seen.most) byClass.set(key, { task, most: saving })
  }
  return byClass
}

const priceClass = (task: TraceTask) => `${task.size}/${task.requiresGpu}`

const boundsOf = (
  tasks: ReadonlyArray<TraceTask>,
  platforms: ReadonlyArray<Platform>,
  prices: Prices
): Bounds => {
  // tasks priced alike (same size and GPU need in one region) stand for each other
  const classes = [...new Map(tasks.map((t) => [priceClass(t), t] as const)).values()]
  const feasible = platforms.map((platform) => classes.filter((task) => platform.feasible(task)))
  const spares = platforms.map((_, p) => spareValues(tasks, platforms, p, prices))
  return {
    horizonMillis: platforms.map((platform, p) =>
      feasible[p]!.reduce((h, task) => Math.max(h, horizonMillis(platform, task, prices)), 0)
    ),
    slope: (p, gapMillis) =>
      feasible[p]!.reduce((m, task) => Math.max(m, gapSlope(platforms[p]!, task, gapMillis, prices)), 0),
    spareValue: (p, gapMillis) => {
      let most = 0
      for (const { task, most: saving } of spares[p]!.values())
        most = Math.max(most, saving - objective(gapStep(platforms[p]!, task, gapMillis, prices), prices))
      return most
    }
  }
}

/** The most tasks of the group running at one instant. */
export const peakConcurrency = (tasks: ReadonlyArray<TraceTask>): number => {
  const events = tasks.flatMap((t) => [
    [t.arrivalMillis, 1] as const,
    [t.arrivalMillis + t.durationMillis, -1] as const
  ])
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let running = 0
  let peak = 0
  for (const [, change] of events) {
    running += change
    peak = Math.max(peak, running)
  }
  return peak
}

/** A group the DP refuses: its frontier outgrew `maxStates`. */
export class TooManyStates extends Error {
  constructor(
    readonly group: string,
    readonly maxStates: number,
    readonly taskId: string
  ) {
    super(`the exact optimum of ${group} needs more than ${maxStates} states at ${taskId}; raise maxStates`)
  }
}

interface GroupResult {
  readonly best: State
  readonly largestFrontier: number
}

const solveGroup = (
  name: string,
  tasks: ReadonlyArray<TraceTask>,
  platforms: ReadonlyArray<Platform>,
  prices: Prices,
  maxStates: number
): GroupResult => {
  const bounds = boundsOf(tasks, platforms, prices)
  const machinesPerPlatform = prices.reactive ? peakConcurrency(tasks) : Number.POSITIVE_INFINITY
  let frontier: Array<State> = [{ machines: [], value: 0, money: 0, wait: 0, trail: undefined }]
  let largestFrontier = 1
  for (const task of tasks) {
    const states = prune(frontier, task.arrivalMillis, bounds)
    largestFrontier = Math.max(largestFrontier, states.length)
    if (states.length > maxStates) throw new TooManyStates(name, maxStates, task.taskId)
    frontier = states.flatMap((state) => successors(state, task, platforms, prices, machinesPerPlatform))
    if (frontier.length === 0) throw new Error(`no platform can run task ${task.taskId} of ${name}`)
  }
  const best = frontier.reduce((a, b) => (b.value < a.value ? b : a))
  return { best, largestFrontier }
}

// ---------------------------------------------------------------------------------------------------------------
// The whole trace
// ---------------------------------------------------------------------------------------------------------------

/** Each repository@region's tasks in arrival order (ties by task id), as Oracle-1 groups them. */
export const groups = (trace: ReadonlyArray<TraceTask>): ReadonlyMap<string, ReadonlyArray<TraceTask>> => {
  const byGroup = new Map<string, Array<TraceTask>>()
  for (const task of [...trace].sort(
    (a, b) => a.arrivalMillis - b.arrivalMillis || a.taskId.localeCompare(b.taskId)
  )) {
    const key = `${task.repository}@${task.region}`
    const list = byGroup.get(key) ?? []
    list.push(task)
    byGroup.set(key, list)
  }
  return byGroup
}

const checkPlatforms = (platforms: ReadonlyArray<Platform>) => {
  for (const platform of platforms)
    for (const state of platform.sleepStates)
      if (state.wakeBilledSeconds < state.wakeSeconds)
        throw new Error(
          `platform ${platform.id}, sleep state ${state.name}: wakeBilledSeconds (${state.wakeBilledSeconds}) must be at least wakeSeconds (${state.wakeSeconds}) for the exact optimum`
        )
}

/** The exact offline optimum of the trace on `platforms` (wait-aware when `waitMicroUsdPerSecond` is set). */
export const optimum = (
  trace: ReadonlyArray<TraceTask>,
  platforms: ReadonlyArray<Platform>,
  options: OptimumOptions = {}
): OptimumResult => {
  checkPlatforms(platforms)
  const lambda = options.waitMicroUsdPerSecond
  if (lambda !== undefined && !(lambda >= 0))
    throw new Error(`waitMicroUsdPerSecond: expected a number ≥ 0, got ${lambda}`)
  const prices: Prices = { lambda: lambda ?? 0, reactive: lambda !== undefined }
  let cost = 0
  let money = 0
  let wait = 0
  let machinesCreated = 0
  let largestFrontier = 0
  const platformByTask = new Map<string, string>()
  for (const [name, tasks] of groups(trace)) {
    const result = solveGroup(name, tasks, platforms, prices, options.maxStates ?? 100_000)
    cost += result.best.value
    money += result.best.money
    wait += result.best.wait
    largestFrontier = Math.max(largestFrontier, result.largestFrontier)
    let trail = result.best.trail
    for (let i = tasks.length - 1; i >= 0 && trail !== undefined; i--, trail = trail.previous) {
      platformByTask.set(tasks[i]!.taskId, platforms[trail.platform]!.id)
      if (trail.created) machinesCreated++
    }
  }
  return {
    costMicroUsd: cost,
    moneyMicroUsd: money,
    waitSeconds: wait,
    machinesCreated,
    platformByTask,
    largestFrontier
  }
}
