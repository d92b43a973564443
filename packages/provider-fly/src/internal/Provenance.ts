/** Who this plugin is, written once: its provider id, and the provenance its errors carry. */
import { ComputeError, type TaskSpec } from "@hangar/core"

/** The provider's id, as sessions carry it. */
export const providerId = "fly" as TaskSpec.ProviderId

/** Where an error of this plugin comes from: `{ module, method, provider }` of core's errors. */
export const origin = (method: string) => ({ module: "FlyProvider", method, provider: providerId }) as const

/** The call (or one wait inside it) ran out of time. */
export const timeoutError = (method: string, millis: number, lastError?: string): ComputeError.Timeout =>
  new ComputeError.Timeout({
    ...origin(method),
    reason: "Deadline",
    timeoutMillis: millis,
    ...(lastError === undefined ? {} : { lastError })
  })
