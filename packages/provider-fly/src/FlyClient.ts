/**
 * A typed Machines API client on @effect/platform's HttpClient. Every response is decoded with Schema and every
 * failure mapped into core's error union (401 → Unauthorized, 404 → SessionNotFound, capacity texts on 409/412
 * → CapacityUnavailable, 429 → RateLimited with retry-after, 408 → Timeout, 5xx → ProviderUnavailable).
 * The token is `Redacted` end to end; platform logs redact the authorization header.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { ComputeError, ComputeProvider } from "@hangar/core"
import { Clock, Context, Effect, Either, Layer, type ParseResult, Redacted, Schedule, Schema } from "effect"
import * as BufferedHttpClient from "./BufferedHttpClient.js"
import * as FlySchemas from "./FlySchemas.js"

export interface ClientOptions {
  /** Default https://api.machines.dev (flyctl's FLY_FLAPS_BASE_URL). */
  readonly baseUrl: string
  readonly token: Redacted.Redacted<string>
  /** Request-level retries (core's schedule): any request Fly refused with 429, and GETs on 5xx or transport errors. */
  readonly retry?: Partial<ComputeProvider.RetryPolicy>
}

/**
 * Whether one request is sent again at once: a 429 was not carried out, and a GET changes nothing. Other
 * failures of mutations go back to the operation, which reads the state again before it acts.
 */
const retriedAlone = (method: Method, error: ComputeError.ComputeError): boolean =>
  (error._tag === "RateLimited" && error.reason === "TooManyRequests") ||
  (method === "GET" && error._tag === "ProviderUnavailable" && error.isRetryable)

type Method = "GET" | "POST" | "PUT" | "DELETE"

const provider = "fly"

const errorText = (response: HttpClientResponse.HttpClientResponse) =>
  response.json.pipe(
    Effect.flatMap(Schema.decodeUnknown(FlySchemas.ErrorBody)),
    Effect.map((body) => body.error),
    Effect.orElseSucceed(() => `HTTP ${response.status}`)
  )

/** Maps a non-2xx answer to the core error a caller can act on. */
export const toError = (
  method: string,
  path: string,
  status: number,
  text: string,
  retryAfter: string | undefined
): ComputeError.ComputeError => {
  const context = { module: "FlyClient", method, provider }
  if (status === 401 || status === 403) {
    return new ComputeError.Unauthorized({
      ...context,
      reason: status === 401 ? "InvalidCredentials" : "Forbidden",
      detail: text
    })
  }
  if (status === 404) {
    return new ComputeError.SessionNotFound({ ...context, reason: "Unknown", sessionId: path })
  }
  if (status === 429) {
    const seconds = Number(retryAfter)
    return new ComputeError.RateLimited({
      ...context,
      reason: "TooManyRequests",
      ...(Number.isFinite(seconds) ? { retryAfterMillis: seconds * 1000 } : {})
    })
  }
  if (status === 408)
    return new ComputeError.Timeout({
      ...context,
      reason: "WaitExpired",
      timeoutMillis: 60_000,
      lastError: text
    })
  if ((status === 409 || status === 412) && /insufficient|capacity|no capacity/i.test(text)) {
    return new ComputeError.CapacityUnavailable({ ...context, reason: "InsufficientResources", detail: text })
  }
  if (status === 409 && /lease/i.test(text)) {
    return new ComputeError.RateLimited({ ...context, reason: "Throttled", retryAfterMillis: 1_000 })
  }
  if (status >= 500)
    return new ComputeError.ProviderUnavailable({ ...context, reason: "ServerError", status, detail: text })
  const field = /(body|query|path)\.[a-z_.]+/.exec(text)?.[0] ?? path
  return new ComputeError.InvalidRequest({
    ...context,
    reason: status === 409 || status === 412 ? "Conflict" : "InvalidField",
    field,
    expected: text
  })
}

export interface Service {
  readonly request: <A, I>(
    method: Method,
    path: string,
    schema: Schema.Schema<A, I>,
    options?: { readonly body?: unknown; readonly nonce?: string; readonly methodName?: string }
  ) => Effect.Effect<A, ComputeError.ComputeError>
}

export class FlyClient extends Context.Tag("@hangar/provider-fly/FlyClient")<FlyClient, Service>() {}

export const make = (options: ClientOptions): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const base = options.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "")
    const scheme = Redacted.value(options.token).startsWith("FlyV1 ") ? "" : "Bearer "
    const prefix = `${base}/v1`
    const baseHeaders = {
      authorization: `${scheme}${Redacted.value(options.token)}`,
      accept: "application/json"
    }
    const given = yield* HttpClient.HttpClient
    // One span per request is FlyClient's own (below). The platform's clients make a second one, which records
    // every header as an attribute, and send trace headers Fly does not read: they are asked not to. The default
    // transport does neither, and asking costs two FiberRef scopes per request (about 45 of the 150 Effect operations
    // a request took), so it is not asked.
    const client = BufferedHttpClient.makesNoSpans(given)
      ? given
      : given.pipe(
          HttpClient.withTracerDisabledWhen(() => true),
          HttpClient.withTracerPropagation(false)
        )
    const policy: ComputeProvider.RetryPolicy = { ...ComputeProvider.defaultRetryPolicy, ...options.retry }
    const request: Service["request"] = (method, path, schema, requestOptions = {}) => {
      const once = send(method, path, schema, requestOptions)
      return once.pipe(
        Effect.catchIf(
          (error) => policy.maxRetries > 0 && retriedAlone(method, error),
          (error) =>
            Effect.flatMap(Clock.currentTimeMillis, (startedAt) =>
              Effect.retry(
                Effect.zipRight(Effect.sleep(firstDelay(error, policy)), once),
                ComputeProvider.retrySchedule(
                  { ...policy, maxRetries: policy.maxRetries - 1 },
                  startedAt
                ).pipe(Schedule.whileInput((e: ComputeError.ComputeError) => retriedAlone(method, e)))
              )
            )
        )
      )
    }
    const send: Service["request"] = (method, path, schema, requestOptions = {}) => {
      const name = () => requestOptions.methodName ?? `${method} ${path.replace(/\/[0-9a-f]{14}/g, "/{id}")}`
      // The full URL and headers are given at once (one request object, not one per header).
      let req = HttpClientRequest.make(method)(`${prefix}${path}`, {
        headers:
          requestOptions.nonce === undefined
            ? baseHeaders
            : { ...baseHeaders, "fly-machine-lease-nonce": requestOptions.nonce }
      })
      if (requestOptions.body !== undefined) req = HttpClientRequest.bodyUnsafeJson(req, requestOptions.body)
      const decode = decoderOf(schema)
      const normalised = (e: unknown) =>
        ComputeError.normalise(e, { module: "FlyClient", method: name(), provider })
      const decoded = (u: unknown) => Either.mapLeft(decode(u), normalised)
      const exchange = client.execute(req).pipe(
        Effect.matchEffect({
          onFailure: (e) =>
            Effect.fail(
              new ComputeError.ProviderUnavailable({
                module: "FlyClient",
                method: name(),
                provider,
                reason: "Transport",
                detail: e.message.replaceAll(Redacted.value(options.token), "<redacted>")
              })
            ),
          onSuccess: (response) => {
            if (response.status >= 200 && response.status < 300) {
              // Decoded at once (the schemas are synchronous): an Either is an Effect, with no fiber work to run.
              if (response.status === 202 || response.status === 204) return Effect.orDie(decoded(undefined))
              return Effect.flatMap(Effect.mapError(response.json, normalised), decoded)
            }
            return Effect.flatMap(errorText(response), (text) =>
              Effect.fail(toError(name(), path, response.status, text, response.headers["retry-after"]))
            )
          }
        })
      )
      // A leaf span: nothing under it makes spans (the platform's clients are asked not to, above), so it is not
      // installed as the parent of the exchange. `withSpan` would do that with a FiberRef scope per request.
      return Effect.useSpan(
        `FlyClient.${method}`,
        { attributes: { path }, captureStackTrace: false },
        () => exchange
      )
    }
    return { request }
  })

/** Decoders built once per response schema (the client decodes every answer). */
const decoders = new WeakMap<object, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>()
const decoderOf = <A, I>(
  schema: Schema.Schema<A, I>
): ((u: unknown) => Either.Either<A, ParseResult.ParseError>) => {
  let decode = decoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(schema)
    decoders.set(schema, decode)
  }
  return decode as (u: unknown) => Either.Either<A, ParseResult.ParseError>
}

/** The wait before the first request-level retry: the retry-after Fly sent, else the policy's base delay. */
const firstDelay = (error: ComputeError.ComputeError, policy: ComputeProvider.RetryPolicy) =>
  error._tag === "RateLimited" && error.retryAfterMillis !== undefined
    ? error.retryAfterMillis
    : policy.baseDelay

export const layer = (options: ClientOptions): Layer.Layer<FlyClient, never, HttpClient.HttpClient> =>
  Layer.effect(FlyClient, make(options))
