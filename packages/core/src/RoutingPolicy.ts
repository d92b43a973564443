/**
 * Where a task runs. The tag lives here; the policies (preferred, rules, primary-overflow, cost-aware, oracle)
 * live in @hangar/router and are chosen by providing a Layer.
 */
import { Context, type Effect, Schema } from "effect"
import { Capabilities } from "./Capabilities.js"
import type { CapacityUnavailable, Unsupported } from "./ComputeError.js"
import type { CostModel } from "./CostModel.js"
import { ProviderId, TaskSpec } from "./TaskSpec.js"

/** A plugin's cost model, as a candidate carries it (functions: checked for shape, not encoded). */
const CostModelSchema = Schema.declare(
  (u: unknown): u is CostModel =>
    typeof u === "object" &&
    u !== null &&
    typeof (u as CostModel).estimate === "function" &&
    typeof (u as CostModel).machineStates === "function" &&
    typeof (u as CostModel).dedicated === "object",
  { identifier: "CostModel" }
)

/** What a policy knows about one composed provider when it decides. */
export const Candidate = Schema.Struct({
  provider: ProviderId,
  capabilities: Capabilities,
  /** What the provider declares a task and its idle states cost (the cost-aware policy ranks by it). */
  costModel: CostModelSchema,
  /** False while the provider is marked down (open circuit, region outage). */
  available: Schema.Boolean
})
export type Candidate = typeof Candidate.Type

export const RouteInput = Schema.Struct({
  task: TaskSpec,
  candidates: Schema.Array(Candidate),
  /** Providers already tried for this task, in order (failover). */
  excluded: Schema.optionalWith(Schema.Array(ProviderId), { default: () => [] })
})
export type RouteInput = typeof RouteInput.Type

/** A policy's estimate for one provider, carried on the decision so the choice can be audited. */
export const Estimate = Schema.Struct({
  provider: ProviderId,
  costMicroUsd: Schema.Number,
  startLatencySeconds: Schema.Number,
  feasible: Schema.Boolean,
  note: Schema.optional(Schema.String)
})
export type Estimate = typeof Estimate.Type

export class RouteDecision extends Schema.Class<RouteDecision>("RouteDecision")({
  provider: ProviderId,
  /** Where to go next if `provider` fails with a retryable or capacity error, best first. */
  fallbacks: Schema.Array(ProviderId),
  policy: Schema.String,
  reason: Schema.String,
  estimates: Schema.optionalWith(Schema.Array(Estimate), { default: () => [] })
}) {}

/** What happened on a provider, fed back so stateful policies (circuit breakers) can learn. */
export const Outcome = Schema.Struct({
  provider: ProviderId,
  ok: Schema.Boolean,
  error: Schema.optional(Schema.String),
  atMillis: Schema.Number
})
export type Outcome = typeof Outcome.Type

export interface Service {
  readonly name: string
  readonly decide: (input: RouteInput) => Effect.Effect<RouteDecision, Unsupported | CapacityUnavailable>
  readonly observe: (outcome: Outcome) => Effect.Effect<void>
}

export class RoutingPolicy extends Context.Tag("@hangar/core/RoutingPolicy")<RoutingPolicy, Service>() {}
