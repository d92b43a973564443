/** The provider's HttpClient over undici, against a loopback server. */
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Cookies, HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import * as BufferedHttpClient from "../src/BufferedHttpClient.js"

/** A loopback server for one test: `/echo` answers with what it got, `/hang` never answers. */
const withServer = <A, E>(
  use: (base: string, closed: Deferred.Deferred<string>) => Effect.Effect<A, E, HttpClient.HttpClient>
) =>
  Effect.gen(function* () {
    const closed = yield* Deferred.make<string>()
    const server: Server = createServer((request: IncomingMessage, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        if (request.url === "/hang") {
          response.on("close", () => Deferred.unsafeDone(closed, Effect.succeed("aborted by the client")))
          return
        }
        response.writeHead(201, { "content-type": "application/json", "set-cookie": "session=abc; Path=/" })
        response.end(
          JSON.stringify({
            method: request.method,
            url: request.url,
            token: request.headers.authorization,
            body: Buffer.concat(chunks).toString("utf8")
          })
        )
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return yield* use(base, closed)
  }).pipe(Effect.scoped, Effect.provide(BufferedHttpClient.layerUndici))

describe("BufferedHttpClient over undici", () => {
  it.live("sends method, path, query, headers and body; the answer's status, headers, cookies and body", () =>
    withServer((base) =>
      Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        const response = yield* client.execute(
          HttpClientRequest.post(`${base}/things`, { urlParams: { a: "1" } }).pipe(
            HttpClientRequest.setHeader("authorization", "Bearer t"),
            HttpClientRequest.bodyUnsafeJson({ x: 1 })
          )
        )
        assert.strictEqual(response.status, 201)
        assert.strictEqual(response.headers["content-type"], "application/json")
        assert.strictEqual(Cookies.toRecord(response.cookies).session, "abc")
        const json = yield* response.json
        assert.deepStrictEqual(json, {
          method: "POST",
          url: "/things?a=1",
          token: "Bearer t",
          body: '{"x":1}'
        })
        // The body is buffered: it reads again, as text and as a stream.
        assert.strictEqual(JSON.parse(yield* response.text).url, "/things?a=1")
        const streamed = yield* Stream.runCollect(response.stream)
        assert.strictEqual(JSON.parse(new TextDecoder().decode([...streamed][0])).method, "POST")
      })
    )
  )

  it.live("interrupting the fiber aborts the request on the wire", () =>
    withServer((base, closed) =>
      Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        const fiber = yield* Effect.fork(client.get(`${base}/hang`))
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* Deferred.await(closed), "aborted by the client")
      })
    )
  )

  it.live("a streamed body is refused with an Encode error; a refused connection is a Transport error", () =>
    withServer((base) =>
      Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        const streamed = yield* Effect.flip(
          client.execute(
            HttpClientRequest.post(`${base}/echo`).pipe(
              HttpClientRequest.setBody(HttpBody.stream(Stream.make(new Uint8Array([1]))))
            )
          )
        )
        assert.strictEqual(streamed._tag, "RequestError")
        assert.strictEqual(streamed.reason, "Encode")
        const refused = yield* Effect.flip(client.get("http://127.0.0.1:1/nothing"))
        assert.strictEqual(refused.reason, "Transport")
      })
    )
  )
})
