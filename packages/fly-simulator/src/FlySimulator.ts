/**
 * The simulator assembled: the model behind fastify routes, bearer/FlyV1 token auth (optionally scoped to
 * apps), Fly's rate limits, seeded faults, the Fly Proxy (`<app>.fly.dev` or `/_proxy/<app>`, HTTP and
 * WebSocket), the `/_sim` control plane (billing, clock, faults, state), `dataDir` persistence, and an
 * in-process `fetch` that reaches the routes with no socket (each request tracked on the clock so virtual time
 * waits for it).
 */
import { randomBytes } from "node:crypto"
import { type ExecBackend, VirtualClock } from "@hangar/core"
import Fastify, { type FastifyInstance } from "fastify"
import * as Control from "./control/Routes.js"
import { type FaultRuleInput, Faults } from "./Faults.js"
import * as Proxy from "./http/Proxy.js"
import * as Routes from "./http/Routes.js"
import * as Billing from "./model/Billing.js"
import { FlyModel, SimError } from "./model/FlyModel.js"
import type { TimingModel } from "./model/Lifecycle.js"
import * as Persistence from "./Persistence.js"
import { limitOf, RateLimiter } from "./RateLimits.js"
import * as Workspaces from "./Workspaces.js"

export interface Token {
  readonly token: string
  /** Apps this token may touch; all apps when absent. */
  readonly apps?: ReadonlyArray<string>
}

export interface Options {
  readonly clock?: VirtualClock.SimulationClock
  readonly seed?: number
  readonly tokens?: ReadonlyArray<Token>
  readonly exec?: ExecBackend.ExecBackend
  readonly timing?: Partial<TimingModel>
  readonly regions?: ReadonlyArray<string>
  readonly logger?: boolean
  /** Fly's documented rate limits (429 with retry-after); on unless false. */
  readonly rateLimits?: boolean
  /** Milliseconds between the proxy's autostop passes (default 5 minutes). */
  readonly autostopPeriodMillis?: number
  /** Keeps the state in DIR/fly-simulator.json (and process-backend files under DIR), so a restart loses nothing. */
  readonly dataDir?: string
  /** Fault rules active from the start. */
  readonly faults?: ReadonlyArray<FaultRuleInput>
  /**
   * Seconds an exec may run before the API answers 408 `deadline_exceeded` (the command runs on); default 30, as
   * users see on Fly (reference §2.6). A request `timeout` at or below it ends the command first, as before.
   */
  readonly execDeadlineSeconds?: number
}

export interface Simulator {
  readonly server: FastifyInstance
  readonly model: FlyModel
  readonly clock: VirtualClock.SimulationClock
  readonly tokens: ReadonlyArray<string>
  readonly faults: Faults
  /** In-process fetch: any absolute URL, routed by path to this simulator. */
  readonly fetch: typeof fetch
  readonly listen: (options?: { readonly host?: string; readonly port?: number }) => Promise<string>
  readonly billing: () => Billing.Bill
  readonly close: () => Promise<void>
  /** Where the process exec backend keeps machine and volume directories (when it is in use). */
  readonly workspaceRoot: string | undefined
}

export const make = async (options: Options = {}): Promise<Simulator> => {
  const clock = options.clock ?? new VirtualClock.RealClock()
  let seed = options.seed ?? 1
  const workspaces =
    options.exec?.kind === "process"
      ? Workspaces.make(...(options.dataDir === undefined ? [] : [options.dataDir]))
      : undefined
  const model = new FlyModel({
    clock,
    seed,
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    ...(options.exec === undefined ? {} : { exec: options.exec }),
    ...(workspaces === undefined ? {} : { workspaces }),
    ...(options.regions === undefined ? {} : { regions: options.regions }),
    ...(options.autostopPeriodMillis === undefined
      ? {}
      : { autostopPeriodMillis: options.autostopPeriodMillis }),
    ...(options.execDeadlineSeconds === undefined
      ? {}
      : { execDeadlineMillis: options.execDeadlineSeconds * 1000 })
  })
  const dataDir = options.dataDir
  if (dataDir !== undefined) {
    const saved = Persistence.read(dataDir)
    if (saved !== undefined) {
      if (clock instanceof VirtualClock.VirtualClock && saved.clockMillis > clock.now())
        await clock.advanceTo(saved.clockMillis)
      Persistence.load(model, saved)
    }
  }
  const persist = () => {
    if (dataDir !== undefined) Persistence.save(model, dataDir)
  }
  model.onAutostop = persist
  const limiter = options.rateLimits === false ? undefined : new RateLimiter(clock)
  const tokens: ReadonlyArray<Token> = options.tokens ?? [
    { token: `fly-sim-${randomBytes(12).toString("hex")}` }
  ]
  const faults = new Faults(seed)
  for (const rule of options.faults ?? []) faults.add(rule)
  const billing = () => Billing.compute(model)
  const server = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 1_048_576,
    rewriteUrl: Proxy.rewriteUrl
  })

  // Fly accepts bodiless POSTs (start, suspend) even with a JSON content type.
  server.removeContentTypeParser("application/json")
  server.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = String(body)
    if (text.trim() === "") return done(null, undefined)
    try {
      done(null, JSON.parse(text))
    } catch (e) {
      done(
        Object.assign(new Error(`body is not valid JSON: ${(e as Error).message}`), { statusCode: 400 }),
        undefined
      )
    }
  })

  server.setErrorHandler((error: Error, _request, reply) => {
    if (error instanceof SimError)
      return reply.code(error.status).headers(error.headers).send({ error: error.message })
    const status = (error as { statusCode?: number }).statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: `invalid_argument: ${error.message}` })
    }
    return reply.code(500).send({ error: `internal error: ${error.message}` })
  })
  server.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split("?")[0]}` })
  )

  server.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?")[0] ?? ""
    if (!path.startsWith("/v1")) return
    const header = request.headers.authorization ?? ""
    const match = /^(?:Bearer|FlyV1) (.+)$/.exec(header)
    const token = match === null ? undefined : tokens.find((t) => t.token === match[1])
    if (token === undefined)
      return reply.code(401).send({ error: "unauthorized: send Authorization: Bearer <token>" })
    const app = /^\/v1\/apps\/([^/]+)/.exec(path)?.[1]
    if (app !== undefined && token.apps !== undefined && !token.apps.includes(app)) {
      // Fly answers a token without access to the resource with 401 Unauthorized, as flyctl sees for deploy
      // tokens used outside their scope (superfly/flyctl PR #2365); no 403 is documented for this.
      return reply.code(401).send({ error: `unauthorized: this token is not scoped to app ${app}` })
    }
    if (limiter === undefined) return
    const route = request.routeOptions.url
    if (route === undefined) return
    const params = request.params as { app?: string; id?: string }
    const limit = limitOf(request.method, route)
    const wait = limiter.take(`${request.method} ${route} ${params.id ?? params.app ?? ""}`, limit)
    if (wait > 0) {
      return reply
        .code(429)
        .header("retry-after", String(wait))
        .send({
          error: `rate limit exceeded: ${limit.perSecond < 2 ? "1 request/s, burst 3" : "5 requests/s, burst 10"} per action per machine; retry after ${wait} s`
        })
    }
  })
  server.addHook("onResponse", async (request) => {
    if (dataDir !== undefined && request.method !== "GET" && !request.url.startsWith(Proxy.prefix)) persist()
  })

  // Faults run after body parsing, so a rule can target the region a create asks for.
  server.addHook("preHandler", async (request, reply) => {
    const path = request.url.split("?")[0] ?? ""
    if (!path.startsWith("/v1")) return
    const machineId = /\/machines\/([0-9a-f]{14})/.exec(path)?.[1]
    const region =
      machineId === undefined
        ? (request.body as { region?: string } | undefined)?.region
        : model.machines.get(machineId)?.region
    const rule = faults.match(request.method, path, region)
    if (rule === undefined) return
    if (rule.latencyMs !== undefined) await clock.idle(clock.sleepMillis(rule.latencyMs))
    if (rule.status !== undefined) {
      if (rule.retryAfterSeconds !== undefined)
        void reply.header("retry-after", String(rule.retryAfterSeconds))
      return reply.code(rule.status).send({ error: rule.error })
    }
  })

  // Lost answers: a rule with `afterHandler` lets the request act, then replaces its successful answer.
  server.addHook("onSend", async (request, reply, payload) => {
    if (reply.statusCode >= 300 || !faults.hasAfterHandlerRules) return payload
    const path = request.url.split("?")[0] ?? ""
    if (!path.startsWith("/v1")) return payload
    const machineId = /\/machines\/([0-9a-f]{14})/.exec(path)?.[1]
    const region =
      machineId === undefined
        ? (request.body as { region?: string } | undefined)?.region
        : model.machines.get(machineId)?.region
    const rule = faults.match(request.method, path, region, "after")
    if (rule?.status === undefined) return payload
    if (rule.retryAfterSeconds !== undefined) void reply.header("retry-after", String(rule.retryAfterSeconds))
    void reply.code(rule.status).header("content-type", "application/json; charset=utf-8")
    return JSON.stringify({ error: rule.error })
  })

  Routes.register(server, { model, billing })
  Proxy.register(server, model, clock)

  Control.register(server, {
    model,
    clock,
    faults,
    billing,
    seed: () => seed,
    dataDir,
    reset: (next) => {
      seed = next ?? seed
      model.reset(seed)
      faults.clear()
      persist()
    }
  })

  await server.ready()

  const fetchInProcess: typeof fetch = async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer())
    const response = await clock.track(
      server.inject({
        method: request.method as "GET",
        url: `${url.pathname}${url.search}`,
        headers: { host: url.host, ...Object.fromEntries(request.headers.entries()) },
        ...(body === undefined || body.length === 0 ? {} : { payload: body })
      })
    )
    return new Response(
      response.statusCode === 204 || response.statusCode === 202 ? null : response.rawPayload,
      {
        status: response.statusCode,
        headers: Object.entries(response.headers).flatMap(([k, v]) =>
          v === undefined
            ? []
            : Array.isArray(v)
              ? v.map((x) => [k, x] as [string, string])
              : [[k, String(v)] as [string, string]]
        )
      }
    )
  }

  return {
    server,
    model,
    clock,
    tokens: tokens.map((t) => t.token),
    faults,
    fetch: fetchInProcess,
    listen: async ({ host = "127.0.0.1", port = 0 } = {}) => server.listen({ host, port }),
    billing,
    workspaceRoot: workspaces?.root,
    close: async () => {
      await server.close()
      persist()
    }
  }
}
