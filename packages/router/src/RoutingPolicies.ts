/**
 * The routing policies, each a Layer providing core's `RoutingPolicy`. Every policy only ever picks a feasible
 * provider (available, not already tried, capable of the task), and lists the other feasible ones as fallbacks.
 */
import { ComputeError, RoutingPolicy, type TaskSpec } from "@hangar/core"
import { Clock, Effect, Layer } from "effect"
import { CircuitBreaker, type CircuitOptions } from "./CircuitBreaker.js"
import { explainInfeasible, feasible } from "./Feasibility.js"

const noFeasibleProvider = (policy: string, input: RoutingPolicy.RouteInput) =>
  new ComputeError.CapacityUnavailable({
    module: "RoutingPolicy",
    method: policy,
    reason: "NoFeasibleProvider",
    region: input.task.region,
    detail: `no provider can take task ${input.task.taskId}: ${explainInfeasible(input)}`
  })

/** Decides `first` if it is feasible, otherwise the first feasible candidate in `order`. */
const pick = (
  policy: string,
  input: RoutingPolicy.RouteInput,
  order: ReadonlyArray<string>,
  reason: (chosen: string, wanted: boolean) => string
) => {
  const options = feasible(input)
  const ranked = [
    ...order.flatMap((id) => options.filter((c) => c.provider === id)),
    ...options.filter((c) => !order.includes(c.provider))
  ]
  const chosen = ranked[0]
  if (chosen === undefined) return Effect.fail(noFeasibleProvider(policy, input))
  return Effect.succeed(
    decision(
      policy,
      chosen.provider,
      ranked.slice(1).map((c) => c.provider),
      reason(chosen.provider, chosen.provider === order[0])
    )
  )
}

/**
 * Decisions are immutable and these policies make few distinct ones (a provider, its fallbacks, a reason), so each
 * is built and validated once; the cache is emptied when it reaches `cachedDecisions`.
 */
const decisions = new Map<string, RoutingPolicy.RouteDecision>()
const cachedDecisions = 1024

const decision = (
  policy: string,
  provider: TaskSpec.ProviderId,
  fallbacks: ReadonlyArray<TaskSpec.ProviderId>,
  reason: string
): RoutingPolicy.RouteDecision => {
  const key = `${policy}\u0000${provider}\u0000${fallbacks.join("\u0000")}\u0000\u0000${reason}`
  const known = decisions.get(key)
  if (known !== undefined) return known
  const made = new RoutingPolicy.RouteDecision({ provider, fallbacks, policy, reason })
  if (decisions.size >= cachedDecisions) decisions.clear()
  decisions.set(key, made)
  return made
}

const make = (service: RoutingPolicy.Service) => Layer.succeed(RoutingPolicy.RoutingPolicy, service)

/** Seed phase 1: the task's preferred provider, else a configured default. */
export const preferred = (options: { readonly defaultProvider: string }) =>
  make({
    name: "preferred",
    observe: () => Effect.void,
    decide: (input) => {
      const wanted = input.task.preferredProvider ?? options.defaultProvider
      const source =
        input.task.preferredProvider === undefined ? "the default provider" : "the task's preferred provider"
      return pick("preferred", input, [wanted, options.defaultProvider], (chosen, honoured) =>
        honoured ? `${chosen} is ${source}` : `${wanted} (${source}) cannot take the task; ${chosen} can`
      )
    }
  })

export interface RulesOptions {
  /** Below this expected duration a task is short (default 300 s). */
  readonly shortTaskSeconds?: number
  /** Where short and edge-region tasks go (the seed's Fly). */
  readonly quickStart: string
  /** Where GPU and long-running tasks go (the seed's ECS). */
  readonly steady: string
}

/**
 * Seed phase 2, the seed's `selectProvider` in its order: under `shortTaskSeconds` → `quickStart`; GPU →
 * `steady`; region `edge` → `quickStart`; otherwise `steady`. A rule's pick that cannot take the task (a short
 * GPU task where `quickStart` has no GPUs) falls through to the next feasible provider.
 */
export const rules = (options: RulesOptions) => {
  const { shortTaskSeconds = 300, quickStart, steady } = options
  const rule = (task: TaskSpec.TaskSpec): readonly [string, string] => {
    if (task.expectedDurationSeconds !== undefined && task.expectedDurationSeconds < shortTaskSeconds) {
      return [
        quickStart,
        `expected ${task.expectedDurationSeconds}s < ${shortTaskSeconds}s: short tasks go to ${quickStart}`
      ]
    }
    if (task.requiresGpu) return [steady, `needs a GPU: ${steady}`]
    if (task.region === "edge") return [quickStart, `edge region: ${quickStart} runs near users`]
    return [steady, `long-running by default: ${steady}`]
  }
  return make({
    name: "rules",
    observe: () => Effect.void,
    decide: (input) => {
      const [wanted, why] = rule(input.task)
      return pick("rules", input, [wanted], (chosen, honoured) =>
        honoured ? why : `${why}, but ${wanted} cannot take it; ${chosen} can`
      )
    }
  })
}

export interface PrimaryOverflowOptions {
  readonly primary: string
  readonly overflow: string
  /** Default: open after 3 failures, for 60 s. */
  readonly circuit?: CircuitOptions
}

/**
 * Seed phase 3: the primary (the seed's Fly) first; the overflow (its ECS) when the primary's circuit is open, it
 * is marked down (region outage), or it cannot take the task. Capacity errors, rate limits beyond the retry
 * budget and outages reported through `observe` trip the breaker; after `openMillis` one probe goes to the
 * primary.
 */
export const primaryOverflow = (options: PrimaryOverflowOptions) =>
  Layer.sync(RoutingPolicy.RoutingPolicy, () => {
    const { primary, overflow, circuit = { failureThreshold: 3, openMillis: 60_000 } } = options
    const breaker = new CircuitBreaker(circuit)
    return {
      name: "primary-overflow",
      observe: (outcome) => Effect.sync(() => breaker.record(outcome.provider, outcome.ok, outcome.atMillis)),
      decide: (input) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const gated = {
            ...input,
            candidates: input.candidates.map((c) =>
              c.provider === primary
                ? { ...c, available: c.available && breaker.isAvailable(primary, now) }
                : c
            )
          }
          const decision = yield* pick("primary-overflow", gated, [primary, overflow], (chosen, honoured) =>
            honoured
              ? `${primary} first (circuit ${breaker.state(primary, now)})`
              : `${primary} unavailable (circuit ${breaker.state(primary, now)}); overflow to ${chosen}`
          )
          if (decision.provider === primary) breaker.allow(primary, now)
          return decision
        })
    }
  })

export interface CostAwareOptions {
  /** Providers whose expected start latency exceeds this are used only if none meets it. */
  readonly startLatencyTargetSeconds: number
}

/**
 * SkyPilot-style: argmin of expected cost over feasible providers that meet the start-latency target (all
 * feasible ones if none does), each priced by the cost model its plugin declares; the decision carries every
 * estimate.
 */
export const costAware = (options: Partial<CostAwareOptions> = {}) => {
  const { startLatencyTargetSeconds } = { startLatencyTargetSeconds: 30, ...options }
  return make({
    name: "cost-aware",
    observe: () => Effect.void,
    decide: (input) => {
      const options = feasible(input)
      const estimates = input.candidates.map((candidate) => {
        const e = candidate.costModel.estimate(input.task)
        return {
          provider: candidate.provider,
          costMicroUsd: e.costMicroUsd,
          startLatencySeconds: e.startLatencySeconds,
          feasible: options.includes(candidate),
          note: e.note
        }
      })
      const usable = estimates.filter((e) => e.feasible)
      const fast = usable.filter((e) => e.startLatencySeconds <= startLatencyTargetSeconds)
      const pool = fast.length > 0 ? fast : usable
      const ranked = [...pool].sort(
        (a, b) => a.costMicroUsd - b.costMicroUsd || a.startLatencySeconds - b.startLatencySeconds
      )
      const best = ranked[0]
      if (best === undefined) return Effect.fail(noFeasibleProvider("cost-aware", input))
      const rest = usable.filter((e) => e !== best).sort((a, b) => a.costMicroUsd - b.costMicroUsd)
      return Effect.succeed(
        new RoutingPolicy.RouteDecision(
          {
            provider: best.provider,
            fallbacks: rest.map((e) => e.provider),
            policy: "cost-aware",
            reason:
              fast.length > 0
                ? `cheapest within the ${startLatencyTargetSeconds}s start target: ${best.costMicroUsd} µ$ (${best.note})`
                : `no provider meets the ${startLatencyTargetSeconds}s start target; cheapest: ${best.costMicroUsd} µ$`,
            estimates: estimates.map((e) => ({
              ...e,
              costMicroUsd: Number.isFinite(e.costMicroUsd) ? e.costMicroUsd : -1,
              startLatencySeconds: Number.isFinite(e.startLatencySeconds) ? e.startLatencySeconds : -1
            }))
          },
          // Built here from the candidates' own cost models, field by field: well-formed by construction, and a
          // decision per task is too many to validate again.
          true
        )
      )
    }
  })
}
