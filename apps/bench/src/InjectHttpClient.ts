/**
 * An @effect/platform HttpClient that reaches an in-process fastify server through `inject` (no socket), each
 * request tracked on the simulation clock so that virtual time waits for it. The bench runs the Fly plugin over
 * it: the plugin's requests, headers, bodies and status handling are the production ones; only the transport
 * differs. Going through `fetch` instead costs a WHATWG Request, Response and body stream per request, which in
 * the bench's profile cost more than the simulator's own work.
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
import type { VirtualClock } from "@hangar/core"
import type { FlySimulator } from "@hangar/fly-simulator"
import { Effect, Inspectable, Layer, Option, Stream } from "effect"

type Server = FlySimulator.Simulator["server"]
type Injected = Awaited<ReturnType<Server["inject"]>>

class InjectedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly source: Injected
  ) {
    super()
  }
  get status() {
    return this.source.statusCode
  }
  get headers() {
    return Headers.fromInput(this.source.headers as Record<string, string | ReadonlyArray<string>>)
  }
  get cookies() {
    return Cookies.fromSetCookie(this.source.headers["set-cookie"] ?? [])
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
  get text() {
    return Effect.succeed(this.source.payload)
  }
  get json() {
    return Effect.try({
      try: (): unknown => (this.source.payload === "" ? null : JSON.parse(this.source.payload)),
      catch: (cause) => this.decodeError(cause)
    })
  }
  get arrayBuffer() {
    const bytes = this.source.rawPayload
    return Effect.succeed(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    )
  }
  get stream() {
    return Stream.succeed(new Uint8Array(this.source.rawPayload))
  }
  get urlParamsBody() {
    return Effect.succeed(UrlParams.fromInput(new URLSearchParams(this.source.payload)))
  }
  get formData() {
    return Effect.tryPromise({
      try: () =>
        new Response(this.source.rawPayload, {
          headers: this.source.headers as Record<string, string>
        }).formData(),
      catch: (cause) => this.decodeError(cause)
    })
  }
  toJSON() {
    return { _id: "@effect/platform/HttpClientResponse", status: this.status }
  }
}

/** The HttpClient layer over `server.inject`, each request tracked on `clock`. */
export const layer = (
  server: Server,
  clock: VirtualClock.SimulationClock
): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request, url) => {
      const body = request.body
      if (body._tag !== "Empty" && body._tag !== "Uint8Array") {
        return Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Encode",
            description: `the in-process client sends JSON bodies only, not ${body._tag}`
          })
        )
      }
      return Effect.tryPromise({
        try: () =>
          clock.track(
            server.inject({
              method: request.method,
              url: `${url.pathname}${url.search}`,
              headers: { ...request.headers, host: url.host },
              ...(body._tag === "Uint8Array" && body.body.length > 0
                ? { payload: Buffer.from(body.body) }
                : {})
            })
          ),
        catch: (cause) => new HttpClientError.RequestError({ request, reason: "Transport", cause })
      }).pipe(Effect.map((source) => new InjectedResponse(request, source)))
    })
  )
