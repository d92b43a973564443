/**
 * An @effect/platform HttpClient that reaches an in-process fastify server through `inject` (no socket), each
 * request tracked on the simulation clock so that virtual time waits for it. The bench runs the Fly plugin over
 * it: the plugin's requests, headers, bodies and status handling are the production ones, and so is the client
 * (provider-fly's BufferedHttpClient); only the transport under it differs. Going through `fetch` instead costs a
 * WHATWG Request, Response and body stream per request, which in the bench's profile cost more than the
 * simulator's own work.
 */

import { HttpClient } from "@effect/platform"
import type { VirtualClock } from "@hangar/core"
import type { FlySimulator } from "@hangar/fly-simulator"
import { BufferedHttpClient } from "@hangar/provider-fly"
import { Layer } from "effect"

type Server = FlySimulator.Simulator["server"]

/** The HttpClient layer over `server.inject`, each request tracked on `clock`. */
export const layer = (
  server: Server,
  clock: VirtualClock.SimulationClock
): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(
    HttpClient.HttpClient,
    BufferedHttpClient.make((request, url) => {
      const body = request.body
      return clock
        .track(
          server.inject({
            method: request.method,
            url: `${url.pathname}${url.search}`,
            headers: { ...request.headers, host: url.host },
            ...(body._tag === "Uint8Array" && body.body.length > 0 ? { payload: Buffer.from(body.body) } : {})
          })
        )
        .then((answer) => ({
          status: answer.statusCode,
          headers: answer.headers as BufferedHttpClient.Answer["headers"],
          body: answer.rawPayload
        }))
    })
  )
