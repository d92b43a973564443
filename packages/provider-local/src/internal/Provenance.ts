/** The provider's default id, and the errors its methods report. */
import { ComputeError } from "@hangar/core"

export const providerId = "local"

export const notFound = (provider: string, method: string, sessionId: string, destroyed: boolean) =>
  new ComputeError.SessionNotFound({
    module: "LocalProvider",
    method,
    provider,
    sessionId,
    reason: destroyed ? "Destroyed" : "Unknown"
  })

export const notRunning = (provider: string, method: string, sessionId: string, status: string) =>
  new ComputeError.InvalidRequest({
    module: "LocalProvider",
    method,
    provider,
    reason: "Conflict",
    field: "sessionId",
    expected: `a running session (start ${sessionId} first)`,
    actual: `${sessionId} is ${status}`
  })
