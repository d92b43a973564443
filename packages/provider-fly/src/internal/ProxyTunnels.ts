/** A session's Fly Proxy WebSocket: `wss://<app>.fly.dev/<path>` on Fly, the simulator's proxy locally. */
import { ComputeError } from "@hangar/core"
import { Effect } from "effect"
import { WebSocket } from "undici"
import type { Tunnel } from "../FlyProvider.js"
import { defaults, type FlyEnvironment, parseSessionId } from "./FlyEnvironment.js"
import { origin } from "./Provenance.js"

/** On Fly an app answers at `wss://<app>.fly.dev`; elsewhere (fly-sim) at `<base>/_proxy/<app>` over ws. */
export const defaultProxyUrl =
  (baseUrl: string) =>
  (app: string): string =>
    baseUrl.replace(/\/+$/, "") === defaults.baseUrl
      ? `wss://${app}.fly.dev`
      : `${baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "").replace(/^http/, "ws")}/_proxy/${app}`

/** Opens a WebSocket to the Fly Proxy, asking it to route to `machineId` (`fly-force-instance-id`). */
const openWebSocket = (endpoint: string, machineId: string) =>
  Effect.async<WebSocket, ComputeError.ComputeError>((resume) => {
    const fail = (detail: string) =>
      resume(
        Effect.fail(
          new ComputeError.ProviderUnavailable({
            ...origin("tunnel.connect"),
            reason: "Transport",
            detail: `${endpoint}: ${detail}`
          })
        )
      )
    let ws: WebSocket
    try {
      ws = new WebSocket(endpoint, { headers: { "fly-force-instance-id": machineId } })
    } catch (e) {
      fail(String(e))
      return
    }
    const onOpen = () => {
      ws.removeEventListener("error", onError)
      ws.removeEventListener("close", onClose)
      resume(Effect.succeed(ws))
    }
    const onError = () => fail("the WebSocket could not be opened")
    const onClose = (event: { code: number; reason: string }) =>
      fail(`closed before it opened (${event.code} ${event.reason})`)
    ws.addEventListener("open", onOpen, { once: true })
    ws.addEventListener("error", onError, { once: true })
    ws.addEventListener("close", onClose, { once: true })
    return Effect.sync(() => ws.close())
  })

/** The session's endpoint and a scoped `connect` (the Fly Proxy wakes a sleeping machine). */
export const tunnel = (
  env: FlyEnvironment,
  sessionId: string,
  path = "/"
): Effect.Effect<Tunnel, ComputeError.ComputeError> =>
  Effect.map(parseSessionId(sessionId), ({ app, machine }) => {
    const base = (env.settings.proxyUrl ?? defaultProxyUrl(env.settings.baseUrl))(app).replace(/\/+$/, "")
    const endpoint = `${base}/${path.replace(/^\/+/, "")}`
    const connect = Effect.acquireRelease(openWebSocket(endpoint, machine), (ws) =>
      Effect.sync(() => ws.close())
    )
    return { endpoint, connect }
  })
