/**
 * What a provider plugin can do, SkyPilot style: features it lacks are listed with the reason, so a request that
 * needs one fails with `Unsupported` naming that reason, and routing filters the provider out.
 */
import { Option, Schema } from "effect"
import { InvalidRequest, Unsupported } from "./ComputeError.js"
import { Region } from "./Region.js"
import { SizePreset } from "./SizePreset.js"
import type { TaskSpec } from "./TaskSpec.js"

export const Feature = Schema.Literal("gpu", "suspend", "sleep", "persistentVolume", "exec", "edge")
export type Feature = typeof Feature.Type

export class Capabilities extends Schema.Class<Capabilities>("Capabilities")({
  regions: Schema.NonEmptyArray(Region),
  sizes: Schema.NonEmptyArray(SizePreset),
  /** Features this provider does not support, each with the reason a user is told. */
  unsupported: Schema.partial(
    Schema.Struct({
      gpu: Schema.String,
      suspend: Schema.String,
      sleep: Schema.String,
      persistentVolume: Schema.String,
      exec: Schema.String,
      edge: Schema.String
    })
  ),
  /** Typical seconds from a create request to a running session, cold and warm (for latency-aware routing). */
  startLatencySeconds: Schema.Struct({ cold: Schema.NonNegative, warm: Schema.NonNegative })
}) {}

export const supports = (capabilities: Capabilities, feature: Feature): boolean =>
  capabilities.unsupported[feature] === undefined

export const unsupportedReason = (capabilities: Capabilities, feature: Feature): Option.Option<string> =>
  Option.fromNullable(capabilities.unsupported[feature])

/** Each feature, with whether a task needs it, in the order `check` reports them. */
const needs: ReadonlyArray<readonly [Feature, (task: TaskSpec) => boolean]> = [
  ["gpu", (task) => task.requiresGpu],
  ["edge", (task) => task.region === "edge"],
  ["exec", (task) => task.command !== undefined]
]

/** The features a task needs. */
export const required = (task: TaskSpec): ReadonlyArray<Feature> =>
  needs.flatMap(([feature, needed]) => (needed(task) ? [feature] : []))

/**
 * Why `provider` cannot take `task`, if it cannot: `Unsupported` for a missing feature, `InvalidRequest` for a
 * region or size it does not offer.
 */
export const check = (
  provider: string,
  capabilities: Capabilities,
  task: TaskSpec,
  method = "createSession"
): Option.Option<Unsupported | InvalidRequest> => {
  // (not through `required`: routing policies check every candidate on every decision)
  for (const [feature, needed] of needs) {
    const reason = needed(task) ? capabilities.unsupported[feature] : undefined
    if (reason !== undefined) {
      return Option.some(
        new Unsupported({ module: "Capabilities", method, provider, feature, providerReason: reason })
      )
    }
  }
  if (task.region !== "edge" && !capabilities.regions.includes(task.region)) {
    return Option.some(
      new InvalidRequest({
        module: "Capabilities",
        method,
        provider,
        field: "region",
        expected: `one of ${capabilities.regions.join(", ")}`,
        actual: task.region
      })
    )
  }
  if (!capabilities.sizes.includes(task.size)) {
    return Option.some(
      new InvalidRequest({
        module: "Capabilities",
        method,
        provider,
        field: "size",
        expected: `one of ${capabilities.sizes.join(", ")}`,
        actual: task.size
      })
    )
  }
  return Option.none()
}
