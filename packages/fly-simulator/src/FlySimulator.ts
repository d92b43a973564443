/**
 * The simulator assembled: the model behind fastify routes; bearer/FlyV1 token auth (optionally scoped to apps)
 * by a hook of the `/v1` and `/_sim` route scopes, so it applies to the route a request matched, whatever its
 * spelling; a JSON parser bounded in size and depth; Fly's rate limits; seeded faults; the Fly Proxy
 * (`<app>.fly.dev` or `/_proxy/<app>`, HTTP and WebSocket, public as app traffic is); the `/_sim` control plane
 * (billing, clock, faults, state); `dataDir` persistence (a journal made durable before each answer); and an
 * in-process `fetch` that reaches the routes with no socket (each request tracked on the clock so virtual time
 * waits for it).
 */
import { randomBytes } from "node:crypto"
import { VirtualClock } from "@hangar/core"
import type { ExecBackend } from "@hangar/core/simulation"
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify"
import * as Control from "./control/Routes.js"
import { type FaultRuleInput, Faults } from "./Faults.js"
import * as Auth from "./http/Auth.js"
import * as JsonBody from "./http/JsonBody.js"
import * as Proxy from "./http/Proxy.js"
import * as Routes from "./http/Routes.js"
import * as Billing from "./model/Billing.js"
import { FlyModel, SimError } from "./model/FlyModel.js"
import type { TimingModel } from "./model/Lifecycle.js"
import * as Persistence from "./Persistence.js"
import { type Limit, limitOf, RateLimiter } from "./RateLimits.js"
import * as Workspaces from "./Workspaces.js"

export type Token = Auth.Token

/** A registered route: its method and pattern (`/v1/apps/:app/machines/:id`). */
export interface RouteEntry {
  readonly method: string
  readonly url: string
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
  /**
   * Keeps the state under DIR (a journal fsynced before each answer, folded into DIR/fly-simulator.json; see
   * Persistence.ts) and the process backend's files, so a restart, even after kill -9, loses no answered write.
   */
  readonly dataDir?: string
  /** Fault rules active from the start. */
  readonly faults?: ReadonlyArray<FaultRuleInput>
  /**
   * Seconds an exec may run before the API answers 408 `deadline_exceeded` (the command runs on); default 30, as
   * users see on Fly (reference §2.6). A request `timeout` at or below it ends the command first, as before.
   */
  readonly execDeadlineSeconds?: number
  /** How long a destroyed machine is still listed (default one hour); see FlyModel.forgetDestroyed. */
  readonly destroyedRetentionMillis?: number
  /** At most this many destroyed machines are kept (default 1,000). */
  readonly maxDestroyedMachines?: number
  /** At most this many rate-limit buckets are kept (default 10,000), the least recently used dropped first. */
  readonly maxRateLimitBuckets?: number
}

export interface Simulator {
  readonly server: FastifyInstance
  readonly model: FlyModel
  readonly clock: VirtualClock.SimulationClock
  readonly tokens: ReadonlyArray<string>
  /** Fly's rate limits, when on. */
  readonly rateLimiter: RateLimiter | undefined
  /** Every route the server answers, as registered. */
  readonly routes: ReadonlyArray<RouteEntry>
  readonly faults: Faults
  /** In-process fetch: any absolute URL, routed by path to this simulator. */
  readonly fetch: typeof fetch
  readonly listen: (options?: { readonly host?: string; readonly port?: number }) => Promise<string>
  readonly billing: () => Billing.Bill
  readonly close: () => Promise<void>
  /** Where the process exec backend keeps machine and volume directories (when it is in use). */
  readonly workspaceRoot: string | undefined
}

// ---- hooks of the Machines API scope

/** Errors as Fly shapes them: a SimError's status, a client error as 400-range `invalid_argument`. */
const answerError = (error: Error, _request: FastifyRequest, reply: FastifyReply) => {
  if (error instanceof SimError)
    return reply.code(error.status).headers(error.headers).send({ error: error.message })
  const status = (error as { statusCode?: number }).statusCode
  if (status !== undefined && status >= 400 && status < 500)
    return reply.code(status).send({ error: `invalid_argument: ${error.message}` })
  return reply.code(500).send({ error: `internal error: ${error.message}` })
}

/** The request's path as the router matched it: the route's pattern with its decoded parameters. */
export const matchedPath = (request: FastifyRequest): string => {
  const params = (request.params ?? {}) as Record<string, string | undefined>
  return (request.routeOptions.url ?? "").replace(/:([A-Za-z0-9_]+)|\*/g, (whole, name: string | undefined) =>
    String(params[name ?? "*"] ?? whole)
  )
}

/** The resource a rate limit counts against: an existing machine or volume, else an existing app, else none. */
const limitedResource = (model: FlyModel, route: string, params: { app?: string; id?: string }) => {
  if (params.id !== undefined) {
    const exists = route.startsWith("/v1/apps/:app/volumes/")
      ? model.volumes.has(params.id)
      : model.machines.has(params.id)
    return exists ? params.id : undefined
  }
  if (params.app !== undefined) return model.apps.has(params.app) ? params.app : undefined
  return ""
}

const rateLimitMessage = (limit: Limit, wait: number) =>
  `rate limit exceeded: ${limit.perSecond < 2 ? "1 request/s, burst 3" : "5 requests/s, burst 10"} per action per machine; retry after ${wait} s`

/**
 * Fly's rate limits, a bucket per (action, resource). Only resources that exist get a bucket, so requests naming
 * random ids cost no memory (they are answered 404 by the route).
 */
const rateLimit =
  (model: FlyModel, limiter: RateLimiter) => async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url
    if (route === undefined) return
    const resource = limitedResource(model, route, request.params as { app?: string; id?: string })
    if (resource === undefined) return
    const limit = limitOf(request.method, route)
    const wait = limiter.take(`${request.method} ${route} ${resource}`, limit)
    if (wait > 0)
      return reply
        .code(429)
        .header("retry-after", String(wait))
        .send({ error: rateLimitMessage(limit, wait) })
  }

/** The region a request concerns, for region-targeted faults: its machine's, or the region a create asks for. */
const regionOf = (model: FlyModel, request: FastifyRequest): string | undefined => {
  const id = (request.params as { id?: string }).id
  const machine = id === undefined ? undefined : model.machines.get(id)
  if (machine !== undefined) return machine.region
  const body = request.body
  const region =
    typeof body === "object" && body !== null && Object.hasOwn(body, "region")
      ? (body as { region?: unknown }).region
      : undefined
  return typeof region === "string" ? region : undefined
}

// Faults run after body parsing, so a rule can target the region a create asks for.
const faultsBefore =
  (model: FlyModel, clock: VirtualClock.SimulationClock, faults: Faults) =>
  async (request: FastifyRequest, reply: FastifyReply) => {
    const rule = faults.match(request.method, matchedPath(request), regionOf(model, request))
    if (rule === undefined) return
    if (rule.latencyMs !== undefined) await clock.idle(clock.sleepMillis(rule.latencyMs))
    if (rule.status !== undefined) {
      if (rule.retryAfterSeconds !== undefined)
        void reply.header("retry-after", String(rule.retryAfterSeconds))
      return reply.code(rule.status).send({ error: rule.error })
    }
  }

// Lost answers: a rule with `afterHandler` lets the request act, then replaces its successful answer.
const faultsAfter =
  (model: FlyModel, faults: Faults) =>
  async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode >= 300 || !faults.hasAfterHandlerRules) return payload
    const rule = faults.match(request.method, matchedPath(request), regionOf(model, request), "after")
    if (rule?.status === undefined) return payload
    if (rule.retryAfterSeconds !== undefined) void reply.header("retry-after", String(rule.retryAfterSeconds))
    void reply.code(rule.status).header("content-type", "application/json; charset=utf-8")
    return JSON.stringify({ error: rule.error })
  }

// ---- the simulator

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
      : { execDeadlineMillis: options.execDeadlineSeconds * 1000 }),
    ...(options.destroyedRetentionMillis === undefined
      ? {}
      : { destroyedRetentionMillis: options.destroyedRetentionMillis }),
    ...(options.maxDestroyedMachines === undefined
      ? {}
      : { maxDestroyedMachines: options.maxDestroyedMachines })
  })
  const dataDir = options.dataDir
  let journal: Persistence.Journal | undefined
  if (dataDir !== undefined) {
    const saved = Persistence.read(dataDir)
    if (saved !== undefined) {
      if (clock instanceof VirtualClock.VirtualClock && saved.clockMillis > clock.now())
        await clock.advanceTo(saved.clockMillis)
      Persistence.load(model, saved)
    }
    journal = new Persistence.Journal(
      model,
      dataDir,
      clock instanceof VirtualClock.VirtualClock,
      saved?.seq ?? 0
    )
  }
  model.onAutostop = () => journal?.flush()
  const limiter =
    options.rateLimits === false ? undefined : new RateLimiter(clock, options.maxRateLimitBuckets)
  const tokens: ReadonlyArray<Token> = options.tokens ?? [
    { token: `fly-sim-${randomBytes(12).toString("hex")}` }
  ]
  const auth = Auth.make(tokens)
  const faults = new Faults(seed)
  for (const rule of options.faults ?? []) faults.add(rule)
  const billing = () => Billing.compute(model)
  const server = Fastify({
    logger: options.logger ?? false,
    bodyLimit: JsonBody.maxBytes,
    rewriteUrl: Proxy.rewriteUrl
  })
  const routes: Array<RouteEntry> = []
  server.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url })
  })
  JsonBody.register(server)
  // What a request changed is durable before its answer leaves (see Persistence.ts).
  if (journal !== undefined) {
    const durable = journal
    server.addHook("onSend", async (_request, _reply, payload) => {
      durable.flush()
      return payload
    })
  }
  server.setErrorHandler(answerError)
  server.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split("?")[0]}` })
  )

  // The Machines API: every route in this scope is authenticated by the hook of the scope.
  void server.register(async (api) => {
    api.addHook("onRequest", auth.api)
    if (limiter !== undefined) api.addHook("onRequest", rateLimit(model, limiter))
    api.addHook("preHandler", faultsBefore(model, clock, faults))
    api.addHook("onSend", faultsAfter(model, faults))
    Routes.register(api, { model, billing })
  })
  // The Fly Proxy is app traffic: public, as on Fly, and it reaches no API handler.
  Proxy.register(server, model, clock)
  // Health is public (scripts wait on it before they have a token); the rest of the control plane needs a token.
  Control.registerHealth(server)
  void server.register(async (control) => {
    control.addHook("onRequest", auth.control)
    Control.register(control, {
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
        journal?.compact()
      }
    })
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
    routes,
    rateLimiter: limiter,
    faults,
    fetch: fetchInProcess,
    listen: async ({ host = "127.0.0.1", port = 0 } = {}) => server.listen({ host, port }),
    billing,
    workspaceRoot: workspaces?.root,
    close: async () => {
      await server.close()
      journal?.close()
    }
  }
}
