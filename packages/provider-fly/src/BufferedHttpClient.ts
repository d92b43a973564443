/**
 * @effect/platform's HttpClient over a transport that answers with whole bodies: undici in production
 * (`layerUndici`), or any `send` (the bench's in-process `fastify.inject`).
 *
 * It leaves out the per-request bookkeeping of the platform's own Node client: `NodeHttpClient.layerUndici`
 * wraps every request in an AbortController, a FinalizationRegistry entry, an interruptible response wrapper and
 * a cached body effect run through `runSync`. Measured against the same request sent with `undici.request`, that
 * doubled the client's time per request on loopback (about 0.6 against 0.3 ms). Here a request is one
 * `Effect.async` around the transport: interrupting the fiber aborts the request through the signal
 * `Effect.async` gives.
 *
 * Bodies are read whole before the response is handed over (the Machines API answers with small JSON
 * documents), so a connection goes back to the pool whether or not the caller reads the body. No client span is
 * made here; FlyClient makes one per request itself.
 */
import {
  Cookies,
  Headers,
  HttpClient,
  HttpClientError,
  type HttpClientRequest,
  HttpClientResponse,
  HttpIncomingMessage,
  UrlParams
} from "@effect/platform"
import { Effect, Either, Inspectable, Layer, Option, Stream } from "effect"
import { Agent } from "undici"

/** What a transport answers: status, headers and the whole body. */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: Uint8Array
}

/** Sends one request; `signal` aborts it when the calling fiber is interrupted. */
export type Send = (
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  signal: AbortSignal
) => Promise<Answer>

const utf8 = new TextDecoder()

class BufferedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly answer: Answer
  ) {
    super()
  }
  get status() {
    return this.answer.status
  }
  get headers() {
    return Headers.fromInput(this.answer.headers as Headers.Input)
  }
  get cookies() {
    const header = this.answer.headers["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(header)
  }
  get remoteAddress() {
    return Option.none<string>()
  }
  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause
    })
  }
  private read<A>(f: (bytes: Uint8Array) => A): Effect.Effect<A, HttpClientError.ResponseError> {
    return Effect.try({ try: () => f(this.answer.body), catch: (cause) => this.decodeError(cause) })
  }
  get arrayBuffer() {
    return this.read(
      (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    )
  }
  get text() {
    return this.read((bytes) => utf8.decode(bytes))
  }
  get json() {
    return this.read((bytes): unknown => (bytes.length === 0 ? null : JSON.parse(utf8.decode(bytes))))
  }
  get urlParamsBody() {
    return this.read((bytes) => UrlParams.fromInput(new URLSearchParams(utf8.decode(bytes))))
  }
  get stream() {
    return Stream.fromEffect(this.read((bytes) => bytes))
  }
  get formData() {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: this.answer.headers as Record<string, string> }).formData(),
        catch: (cause) => this.decodeError(cause)
      })
    )
  }
  toJSON() {
    return { _id: "@effect/platform/HttpClientResponse", status: this.status }
  }
}

/** The clients `make` built (a transformed one, `HttpClient.tapRequest(client, …)` say, is a new client). */
const spanless = new WeakSet<HttpClient.HttpClient>()

/**
 * Whether `client` is one `make` built, which makes no span and sends no trace headers of its own: a caller that
 * makes its own span need not ask it not to (the platform's `withTracerDisabledWhen` and
 * `withTracerPropagation` each scope a FiberRef around every request).
 */
export const makesNoSpans = (client: HttpClient.HttpClient): boolean => spanless.has(client)

/** An HttpClient over `send`. Bodies other than bytes (streams, form data) are refused with an Encode error. */
export const make = (send: Send): HttpClient.HttpClient => {
  const client = HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (prepared) =>
      Effect.flatMap(prepared, (request) => {
        if (request.body._tag !== "Empty" && request.body._tag !== "Uint8Array") {
          return Effect.fail(
            new HttpClientError.RequestError({
              request,
              reason: "Encode",
              description: `this client sends byte bodies only, not ${request.body._tag}`
            })
          )
        }
        const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
        if (Either.isLeft(url)) {
          return Effect.fail(
            new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left })
          )
        }
        return Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>(
          (resume, signal) => {
            send(request, url.right, signal).then(
              (answer) => resume(Effect.succeed(new BufferedResponse(request, answer))),
              (cause) =>
                resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
            )
          }
        )
      }),
    Effect.succeed
  )
  spanless.add(client)
  return client
}

/** `send` over an undici dispatcher. */
export const undici =
  (agent: Agent): Send =>
  (request, url, signal) =>
    agent
      .request({
        signal,
        method: request.method as "GET",
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        headers: request.headers,
        body: request.body._tag === "Uint8Array" ? request.body.body : null
      })
      .then((response) =>
        response.body
          .bytes()
          .then((body) => ({ status: response.statusCode, headers: response.headers, body }))
      )

/**
 * The client over its own undici Agent, destroyed with the layer (requests still in flight are aborted), with
 * `through` around its transport (the provider's benchmark records requests there).
 */
export const layerUndiciThrough = (through: (send: Send) => Send): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(
    HttpClient.HttpClient,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => new Agent()),
        (agent) => Effect.promise(() => agent.destroy())
      ),
      (agent) => make(through(undici(agent)))
    )
  )

/** The client over its own undici Agent, destroyed with the layer (requests still in flight are aborted). */
export const layerUndici: Layer.Layer<HttpClient.HttpClient> = layerUndiciThrough((send) => send)
