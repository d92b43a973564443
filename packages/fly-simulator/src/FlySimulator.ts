/**
 * The simulator assembled: the model behind fastify routes, bearer/FlyV1 token auth (optionally scoped to
 * apps), the `/_sim` control plane (billing, clock, faults, state), seeded faults, and an in-process `fetch`
 * that reaches the routes with no socket (each request tracked on the clock so virtual time waits for it).
 */
import { randomBytes } from "node:crypto"
import { type ExecBackend, VirtualClock } from "@hangar/core"
import { Schema } from "effect"
import Fastify, { type FastifyInstance } from "fastify"
import { FaultRule, Faults } from "./Faults.js"
import * as Routes from "./http/Routes.js"
import { decode } from "./http/Validation.js"
import * as Billing from "./model/Billing.js"
import { FlyModel, SimError } from "./model/FlyModel.js"
import type { TimingModel } from "./model/Lifecycle.js"

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
}

const AdvanceBody = Schema.Struct({ millis: Schema.Int.pipe(Schema.positive()) })

export const make = async (options: Options = {}): Promise<Simulator> => {
  const clock = options.clock ?? new VirtualClock.RealClock()
  const seed = options.seed ?? 1
  const model = new FlyModel({
    clock,
    seed,
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    ...(options.exec === undefined ? {} : { exec: options.exec }),
    ...(options.regions === undefined ? {} : { regions: options.regions })
  })
  const tokens: ReadonlyArray<Token> = options.tokens ?? [
    { token: `fly-sim-${randomBytes(12).toString("hex")}` }
  ]
  const faults = new Faults(seed)
  const billing = () => Billing.compute(model)
  const server = Fastify({ logger: options.logger ?? false, bodyLimit: 1_048_576 })

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
    if (error instanceof SimError) return reply.code(error.status).send({ error: error.message })
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
    if (path.startsWith("/_sim")) return
    const header = request.headers.authorization ?? ""
    const match = /^(?:Bearer|FlyV1) (.+)$/.exec(header)
    const token = match === null ? undefined : tokens.find((t) => t.token === match[1])
    if (token === undefined)
      return reply.code(401).send({ error: "unauthorized: send Authorization: Bearer <token>" })
    const app = /^\/v1\/apps\/([^/]+)/.exec(path)?.[1]
    if (app !== undefined && token.apps !== undefined && !token.apps.includes(app)) {
      return reply.code(403).send({ error: `forbidden: this token is not scoped to app ${app}` })
    }
  })

  // Faults run after body parsing, so a rule can target the region a create asks for.
  server.addHook("preHandler", async (request, reply) => {
    const path = request.url.split("?")[0] ?? ""
    if (path.startsWith("/_sim")) return
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

  Routes.register(server, { model, billing })

  server.get("/_sim/billing", async () => billing())
  server.get("/_sim/clock", async () => ({
    mode: clock.mode,
    nowMillis: clock.now(),
    now: new Date(clock.now()).toISOString()
  }))
  server.post("/_sim/clock/advance", async (request) => {
    const { millis } = decode(AdvanceBody, request.body, "body")
    if (!(clock instanceof VirtualClock.VirtualClock))
      throw new SimError(400, "the clock is real; start with --clock virtual to advance it")
    await clock.advanceBy(millis)
    return { nowMillis: clock.now() }
  })
  server.get("/_sim/faults", async () => faults.list())
  server.post("/_sim/faults", async (request, reply) => {
    faults.add(decode(FaultRule, request.body, "body"))
    return reply.code(201).send(faults.list())
  })
  server.delete("/_sim/faults", async () => {
    faults.clear()
    return { ok: true }
  })
  server.get("/_sim/state", async () => ({
    nowMillis: clock.now(),
    apps: [...model.apps.keys()],
    machines: [...model.machines.values()].map((m) => Routes.machineJson(m, true)),
    volumes: [...model.volumes.values()].map((v) => ({
      id: v.id,
      app: v.app,
      state: v.state,
      size_gb: v.sizeGb
    }))
  }))

  await server.ready()

  const fetchInProcess: typeof fetch = async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer())
    const response = await clock.track(
      server.inject({
        method: request.method as "GET",
        url: `${url.pathname}${url.search}`,
        headers: Object.fromEntries(request.headers.entries()),
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
    close: () => server.close()
  }
}
