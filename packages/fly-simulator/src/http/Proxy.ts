/**
 * Fly Proxy emulation: each app answers on the simulator by `Host: <app>.fly.dev` or under the path prefix
 * `/_proxy/<app>/`. A request goes to a started machine, or wakes a stopped or suspended one when autostart is on
 * and waits for it (see FlyModel.route); it counts as activity for the autostop loop. The machine's service is
 * simulated: HTTP answers name the machine, and a WebSocket echoes what it is sent (open sockets count as load).
 */
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import type { VirtualClock } from "@hangar/core"
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify"
import { WebSocketServer } from "ws"
import { type FlyModel, type Machine, SimError } from "../model/FlyModel.js"

export const prefix = "/_proxy"

/** The app a `Host` header names (`<app>.fly.dev`, any port), if any. */
export const appFromHost = (host: string | undefined): string | undefined =>
  host === undefined ? undefined : /^([a-z0-9][a-z0-9-]*)\.fly\.dev(?::\d+)?$/i.exec(host)?.[1]?.toLowerCase()

/** Rewrites a request for `<app>.fly.dev` to the path-prefix form (fastify's `rewriteUrl`). */
export const rewriteUrl = (request: IncomingMessage): string => {
  const url = request.url ?? "/"
  const app = appFromHost(request.headers.host)
  return app === undefined ? url : `${prefix}/${app}${url}`
}

/** Routes a request to `app` and resolves with the machine (its in-flight count taken), waiting for a wake. */
export const routeTo = (
  model: FlyModel,
  clock: VirtualClock.SimulationClock,
  app: string
): Promise<Machine> =>
  clock.idle(
    new Promise<Machine>((resolve, reject) =>
      model.route(app, (result) => (result instanceof SimError ? reject(result) : resolve(result)))
    )
  )

export const register = (
  server: FastifyInstance,
  model: FlyModel,
  clock: VirtualClock.SimulationClock
): void => {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = request.params as { app?: string; "*"?: string }
    const app = params.app ?? ""
    const m = await routeTo(model, clock, app)
    try {
      return reply.header("fly-request-id", `${m.id}-${clock.now()}`).send({
        app,
        machine_id: m.id,
        region: m.region,
        instance_id: m.instanceId,
        method: request.method,
        path: `/${params["*"] ?? ""}`
      })
    } finally {
      model.release(m)
    }
  }
  server.all(`${prefix}/:app`, handler)
  server.all(`${prefix}/:app/*`, handler)

  const sockets = new WebSocketServer({ noServer: true })
  server.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = request.url ?? "/"
    const app = appFromHost(request.headers.host) ?? new RegExp(`^${prefix}/([^/?]+)`).exec(path)?.[1]
    const refuse = (status: number, message: string) => {
      socket.end(
        `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Service Unavailable"}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ error: message })}`
      )
    }
    if (app === undefined) return refuse(404, "WebSockets are proxied only to <app>.fly.dev or /_proxy/<app>")
    routeTo(model, clock, app).then(
      (m) =>
        sockets.handleUpgrade(request, socket, head, (ws) => {
          ws.on("message", (data, binary) => ws.send(data, { binary }))
          ws.on("close", () => model.release(m))
          m.signal.addEventListener("abort", () => ws.close(1001, "machine stopped"), { once: true })
          ws.send(JSON.stringify({ machine_id: m.id, region: m.region }))
        }),
      (error: SimError) => refuse(error.status, error.message)
    )
  })
  server.addHook("onClose", async () => {
    for (const client of sockets.clients) client.terminate()
    sockets.close()
  })
}
