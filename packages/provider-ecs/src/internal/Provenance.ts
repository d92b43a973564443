/** Who this plugin is, written once: its provider id, and the provenance its errors carry. */
import type { TaskSpec } from "@hangar/core"

/** The provider's id, as sessions carry it. */
export const providerId = "ecs" as TaskSpec.ProviderId

/** Where an error of this plugin comes from: `{ module, method, provider }` of core's errors. */
export const origin = (method: string) => ({ module: "EcsProvider", method, provider: providerId }) as const
