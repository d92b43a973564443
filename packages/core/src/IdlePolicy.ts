/**
 * When an idle sleep-capable machine should stop or suspend (the ski-rental decision). The tag lives here;
 * fixed timeout, break-even, randomized, histogram, learning-augmented and `platform` live in @hangar/router.
 */
import { Context, type Effect, Schema } from "effect"
import { ProviderId, Repository } from "./TaskSpec.js"

export const IdleInput = Schema.Struct({
  repository: Repository,
  provider: ProviderId,
  sessionId: Schema.String,
  /** When the last task on the machine finished, ms since the epoch on the simulation clock. */
  idleSinceMillis: Schema.Number,
  /** Running price and sleeping price per second, and what a wake costs, in micro-dollars (for break-even). */
  runningMicroUsdPerSecond: Schema.NonNegative,
  sleepingMicroUsdPerSecond: Schema.NonNegative,
  wakeCostMicroUsd: Schema.NonNegative,
  /** How long a wake from sleep keeps a task waiting, in seconds (weighed by policies that value waiting). */
  wakeSeconds: Schema.NonNegative,
  /** Whether the provider can suspend (memory kept) rather than only stop. */
  canSuspend: Schema.Boolean
})
export type IdleInput = typeof IdleInput.Type

export const IdleAction = Schema.Literal("stop", "suspend", "keep", "platform")
export type IdleAction = typeof IdleAction.Type

export class IdleDecision extends Schema.Class<IdleDecision>("IdleDecision")({
  /** `platform` leaves the machine to the provider's own autostop; `keep` keeps it warm until the next task. */
  action: IdleAction,
  /** Sleep after this much idle time (ignored for `keep` and `platform`). */
  afterMillis: Schema.NonNegative,
  /** Wake the machine again this long after it went to sleep, ahead of a predicted arrival. */
  prewarmAfterMillis: Schema.optional(Schema.NonNegative),
  /** After a pre-warm with no arrival, sleep again after this long. */
  prewarmKeepAliveMillis: Schema.optional(Schema.NonNegative),
  policy: Schema.String,
  reason: Schema.String
}) {}

/** A task arrived for a repository after an idle gap (feeds learning policies). */
export const Arrival = Schema.Struct({
  repository: Repository,
  provider: ProviderId,
  idleGapMillis: Schema.NonNegative,
  atMillis: Schema.Number
})
export type Arrival = typeof Arrival.Type

export interface Service {
  readonly name: string
  readonly onIdle: (input: IdleInput) => Effect.Effect<IdleDecision>
  readonly onArrival: (arrival: Arrival) => Effect.Effect<void>
}

export class IdlePolicy extends Context.Tag("@hangar/core/IdlePolicy")<IdlePolicy, Service>() {}
