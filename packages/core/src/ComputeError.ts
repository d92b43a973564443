/**
 * The one error union every provider's failures are normalised into. Each error carries `module`/`method`
 * provenance, a `reason` literal, a message that says what to do, and `isRetryable`: whether calling again
 * with the same input may succeed. Callers never guess retryability from tags or status codes.
 */
import { ParseResult, Predicate, Schema } from "effect"

export const TypeId: unique symbol = Symbol.for("@hangar/core/ComputeError")
export type TypeId = typeof TypeId

const provenance = {
  module: Schema.String,
  method: Schema.String,
  provider: Schema.optional(Schema.String)
}

const where = (e: {
  readonly module: string
  readonly method: string
  readonly provider?: string | undefined
}) => `${e.provider === undefined ? "" : `[${e.provider}] `}${e.module}.${e.method}`

/** One step of a failover: which provider was tried and how it failed. */
export const FailoverAttempt = Schema.Struct({
  provider: Schema.String,
  error: Schema.String,
  message: Schema.String
})
export type FailoverAttempt = typeof FailoverAttempt.Type

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>("@hangar/core/SessionNotFound")(
  "SessionNotFound",
  { ...provenance, reason: Schema.Literal("Unknown", "Destroyed"), sessionId: Schema.String }
) {
  readonly [TypeId]: TypeId = TypeId
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${where(this)}: session "${this.sessionId}" ${this.reason === "Destroyed" ? "was destroyed" : "is not known"}. Create a new session for the task, or list sessions to find the right id.`
  }
}

export class CapacityUnavailable extends Schema.TaggedError<CapacityUnavailable>(
  "@hangar/core/CapacityUnavailable"
)("CapacityUnavailable", {
  ...provenance,
  reason: Schema.Literal("InsufficientResources", "RegionOutage", "NoFeasibleProvider", "ProvisioningFailed"),
  region: Schema.optional(Schema.String),
  detail: Schema.String,
  failoverHistory: Schema.optionalWith(Schema.Array(FailoverAttempt), { default: () => [] })
}) {
  readonly [TypeId]: TypeId = TypeId
  /** Not retried in place: the router fails over to another provider or region instead. */
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    const history =
      this.failoverHistory.length === 0
        ? ""
        : ` Tried: ${this.failoverHistory.map((a) => `${a.provider} (${a.error}: ${a.message})`).join("; ")}.`
    return `${where(this)}: no capacity${this.region === undefined ? "" : ` in ${this.region}`} (${this.reason}): ${this.detail}. Try another region or provider, or retry later.${history}`
  }
}

export class RateLimited extends Schema.TaggedError<RateLimited>("@hangar/core/RateLimited")("RateLimited", {
  ...provenance,
  reason: Schema.Literal("TooManyRequests", "Throttled"),
  retryAfterMillis: Schema.optional(Schema.NonNegative)
}) {
  readonly [TypeId]: TypeId = TypeId
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return `${where(this)}: rate limited (${this.reason}). Retry${this.retryAfterMillis === undefined ? " with backoff" : ` after ${this.retryAfterMillis} ms`}, or slow the request rate.`
  }
}

export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>(
  "@hangar/core/ProviderUnavailable"
)("ProviderUnavailable", {
  ...provenance,
  reason: Schema.Literal("ServerError", "Transport", "MalformedResponse", "CircuitOpen", "Unknown"),
  status: Schema.optional(Schema.Int),
  detail: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  get isRetryable(): boolean {
    return this.reason === "ServerError" || this.reason === "Transport"
  }
  override get message(): string {
    const advice =
      this.reason === "MalformedResponse"
        ? "The provider answered something Hangar cannot read; check the API version and report it."
        : this.reason === "CircuitOpen"
          ? "The provider failed repeatedly and is paused; another provider will be used until it recovers."
          : "Retry later; if it persists, check the provider's status page."
    return `${where(this)}: provider unavailable (${this.reason}${this.status === undefined ? "" : `, HTTP ${this.status}`}): ${this.detail}. ${advice}`
  }
}

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>("@hangar/core/InvalidRequest")(
  "InvalidRequest",
  {
    ...provenance,
    reason: Schema.optionalWith(Schema.Literal("InvalidField", "Conflict"), {
      default: () => "InvalidField" as const
    }),
    field: Schema.String,
    expected: Schema.String,
    actual: Schema.optional(Schema.String)
  }
) {
  readonly [TypeId]: TypeId = TypeId
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${where(this)}: invalid "${this.field}": expected ${this.expected}${this.actual === undefined ? "" : `, got ${this.actual}`}. Fix the request and send it again.`
  }
}

export class Unauthorized extends Schema.TaggedError<Unauthorized>("@hangar/core/Unauthorized")(
  "Unauthorized",
  {
    ...provenance,
    reason: Schema.Literal("MissingCredentials", "InvalidCredentials", "Forbidden"),
    detail: Schema.String
  }
) {
  readonly [TypeId]: TypeId = TypeId
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${where(this)}: not authorised (${this.reason}): ${this.detail}. Check the API token or credentials and their scope.`
  }
}

export class Unsupported extends Schema.TaggedError<Unsupported>("@hangar/core/Unsupported")("Unsupported", {
  ...provenance,
  reason: Schema.optionalWith(Schema.Literal("Capability"), { default: () => "Capability" as const }),
  feature: Schema.String,
  providerReason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${where(this)}: "${this.feature}" is not supported: ${this.providerReason}. Route the task to a provider that supports it.`
  }
}

export class Timeout extends Schema.TaggedError<Timeout>("@hangar/core/Timeout")("Timeout", {
  ...provenance,
  reason: Schema.Literal("Deadline", "WaitExpired"),
  timeoutMillis: Schema.NonNegative,
  lastError: Schema.optional(Schema.String)
}) {
  readonly [TypeId]: TypeId = TypeId
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return `${where(this)}: gave up after ${this.timeoutMillis} ms (${this.reason})${this.lastError === undefined ? "" : `; last error: ${this.lastError}`}. Raise the deadline or check the provider's health.`
  }
}

export const ComputeError = Schema.Union(
  SessionNotFound,
  CapacityUnavailable,
  RateLimited,
  ProviderUnavailable,
  InvalidRequest,
  Unauthorized,
  Unsupported,
  Timeout
)
export type ComputeError = typeof ComputeError.Type

export const isComputeError = (u: unknown): u is ComputeError => Predicate.hasProperty(u, TypeId)

/**
 * Normalises anything a plugin failed with into the union: compute errors pass through, a Schema parse error
 * becomes `ProviderUnavailable` (MalformedResponse), anything else `ProviderUnavailable` (Unknown).
 */
export const normalise = (
  u: unknown,
  context: { readonly module: string; readonly method: string; readonly provider?: string }
): ComputeError => {
  if (isComputeError(u)) return u
  if (ParseResult.isParseError(u)) {
    return new ProviderUnavailable({
      ...context,
      reason: "MalformedResponse",
      detail: ParseResult.TreeFormatter.formatErrorSync(u)
    })
  }
  const detail =
    u instanceof Error ? `${u.name}: ${u.message}` : Predicate.isString(u) ? u : "an unexpected failure"
  return new ProviderUnavailable({ ...context, reason: "Unknown", detail })
}

/** `InvalidRequest` naming the first offending field of a parse error (path joined with dots). */
export const fromParseError = (
  error: ParseResult.ParseError,
  context: { readonly module: string; readonly method: string; readonly provider?: string }
): InvalidRequest => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  const field = first === undefined || first.path.length === 0 ? "(body)" : first.path.map(String).join(".")
  const expected = issues
    .filter((i) => i.path.map(String).join(".") === (first?.path.map(String).join(".") ?? ""))
    .map((i) => i.message)
    .join("; ")
  return new InvalidRequest({ ...context, field, expected: expected || "a valid value" })
}
