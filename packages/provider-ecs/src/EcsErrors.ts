/** Maps AWS SDK exceptions to core's error union (throttling → RateLimited, ClusterNotFound → InvalidRequest …). */
import { ComputeError } from "@hangar/core"
import { origin } from "./internal/Provenance.js"

interface SdkError {
  readonly name?: string
  readonly message?: string
  readonly $fault?: "client" | "server"
  readonly $metadata?: { readonly httpStatusCode?: number }
}

export const fromSdk =
  (method: string, cluster: string) =>
  (u: unknown): ComputeError.ComputeError => {
    const e = (u ?? {}) as SdkError
    const name = e.name ?? "Error"
    const message = e.message ?? String(u)
    const context = origin(method)
    if (
      name === "ThrottlingException" ||
      name === "TooManyRequestsException" ||
      name === "LimitExceededException"
    ) {
      return new ComputeError.RateLimited({ ...context, reason: "Throttled" })
    }
    if (name === "ClusterNotFoundException") {
      return new ComputeError.InvalidRequest({
        ...context,
        field: "cluster",
        expected: "an existing ECS cluster",
        actual: cluster
      })
    }
    if (
      name === "AccessDeniedException" ||
      name === "UnrecognizedClientException" ||
      name === "InvalidSignatureException"
    ) {
      return new ComputeError.Unauthorized({
        ...context,
        reason: name === "AccessDeniedException" ? "Forbidden" : "InvalidCredentials",
        detail: message
      })
    }
    if (name === "TargetNotConnectedException") {
      return new ComputeError.ProviderUnavailable({ ...context, reason: "ServerError", detail: message })
    }
    if (e.$fault === "server" || (e.$metadata?.httpStatusCode ?? 0) >= 500 || name === "ServerException") {
      return new ComputeError.ProviderUnavailable({
        ...context,
        reason: "ServerError",
        status: e.$metadata?.httpStatusCode ?? 500,
        detail: message
      })
    }
    if (name === "InvalidParameterException" || name === "ClientException") {
      const field = /^[A-Za-z]+: ([A-Za-z.]+):/.exec(message)?.[1] ?? method
      return new ComputeError.InvalidRequest({ ...context, field, expected: message })
    }
    // No HTTP response at all (a reset connection, a refused one, a timeout): the SDK adds `$metadata` without a
    // status to these, and a retry with the same clientToken is safe.
    if (e.$fault === undefined && e.$metadata?.httpStatusCode === undefined) {
      return new ComputeError.ProviderUnavailable({ ...context, reason: "Transport", detail: message })
    }
    return new ComputeError.ProviderUnavailable({
      ...context,
      reason: "Unknown",
      detail: `${name}: ${message}`
    })
  }
