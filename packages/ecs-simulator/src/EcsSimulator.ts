/**
 * The ECS simulator assembled: awsJson1_1 at `POST /` (X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>),
 * errors as `{"__type", "message"}`, an optional access-key check, seeded faults, the `/_sim` control plane, the
 * ECS Exec data channel on the same port, and a smithy request handler that runs the SDK in-process.
 */
import type { ExecBackend } from "@hangar/core"
import { VirtualClock } from "@hangar/core"
import { Schema } from "effect"
import Fastify, { type FastifyInstance } from "fastify"
import { DataChannel } from "./DataChannel.js"
import * as Operations from "./http/Operations.js"
import * as Billing from "./model/Billing.js"
import { EcsError, EcsModel, type Timing } from "./model/EcsModel.js"

export interface Options {
  readonly clock?: VirtualClock.SimulationClock
  readonly seed?: number
  readonly accessKeys?: ReadonlyArray<string>
  readonly exec?: ExecBackend.ExecBackend
  readonly timing?: Partial<Timing>
  readonly region?: string
  readonly rootVolumeGib?: number
}

export const FaultRule = Schema.Struct({
  operation: Schema.String,
  type: Schema.optionalWith(Schema.String, { default: () => "ThrottlingException" }),
  status: Schema.optionalWith(Schema.Int.pipe(Schema.between(400, 599)), { default: () => 400 }),
  message: Schema.optionalWith(Schema.String, { default: () => "Rate exceeded" }),
  times: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
export type FaultRule = typeof FaultRule.Type

/** A smithy `HttpHandler`, structurally (no extra dependency). */
export interface RequestHandler {
  readonly handle: (request: {
    readonly method: string
    readonly path: string
    readonly query?: Record<string, unknown>
    readonly headers: Record<string, string>
    readonly body?: unknown
  }) => Promise<{
    readonly response: {
      readonly statusCode: number
      readonly headers: Record<string, string>
      readonly body: Uint8Array
    }
  }>
  readonly updateHttpClientConfig: () => void
  readonly httpHandlerConfigs: () => Record<string, unknown>
  readonly destroy: () => void
}

export interface Simulator {
  readonly server: FastifyInstance
  readonly model: EcsModel
  readonly clock: VirtualClock.SimulationClock
  readonly requestHandler: RequestHandler
  readonly dataChannel: DataChannel
  readonly faults: { add: (rule: FaultRule) => void; clear: () => void; list: () => ReadonlyArray<FaultRule> }
  readonly listen: (options?: { readonly host?: string; readonly port?: number }) => Promise<string>
  readonly createAutoScalingGroup: (group: {
    name: string
    instanceType: string
    min: number
    max: number
    desired: number
  }) => { arn: string }
  readonly billing: () => Billing.Bill
  readonly close: () => Promise<void>
}

const target = "AmazonEC2ContainerServiceV20141113."

export const make = async (options: Options = {}): Promise<Simulator> => {
  const clock = options.clock ?? new VirtualClock.RealClock()
  const model = new EcsModel({
    clock,
    seed: options.seed ?? 1,
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    ...(options.exec === undefined ? {} : { exec: options.exec }),
    ...(options.rootVolumeGib === undefined ? {} : { rootVolumeGib: options.rootVolumeGib })
  })
  const dataChannel = new DataChannel(model)
  const operations = Operations.operations(model, dataChannel)
  const rules: Array<FaultRule & { hits: number }> = []
  const server = Fastify({ logger: false, bodyLimit: 1_048_576 })
  const awsError = (type: string, message: string) => ({ __type: type, message })

  server.addContentTypeParser(
    ["application/x-amz-json-1.1", "application/json"],
    { parseAs: "string" },
    (_request, body, done) => {
      const text = String(body)
      try {
        done(null, text.trim() === "" ? {} : JSON.parse(text))
      } catch {
        done(Object.assign(new Error("request body is not valid JSON"), { statusCode: 400 }), undefined)
      }
    }
  )
  server.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) =>
    reply
      .code(error.statusCode !== undefined && error.statusCode < 500 ? 400 : 500)
      .send(
        awsError(
          error.statusCode !== undefined && error.statusCode < 500
            ? "SerializationException"
            : "ServerException",
          error.message
        )
      )
  )
  server.setNotFoundHandler((request, reply) =>
    reply.code(404).send(awsError("UnknownOperationException", `no route ${request.method} ${request.url}`))
  )

  server.post("/", async (request, reply) => {
    const header = request.headers["x-amz-target"]
    const operation =
      typeof header === "string" && header.startsWith(target) ? header.slice(target.length) : undefined
    if (operation === undefined) {
      return reply
        .code(400)
        .send(awsError("UnknownOperationException", `X-Amz-Target must be ${target}<Operation>`))
    }
    const authorization = request.headers.authorization ?? ""
    const accessKey = /Credential=([^/]+)\//.exec(authorization)?.[1]
    if (
      options.accessKeys !== undefined &&
      (accessKey === undefined || !options.accessKeys.includes(accessKey))
    ) {
      return reply
        .code(400)
        .send(
          awsError("UnrecognizedClientException", "The security token included in the request is invalid.")
        )
    }
    const handler = operations[operation]
    if (handler === undefined) {
      return reply
        .code(400)
        .send(
          awsError(
            "UnknownOperationException",
            `The ECS simulator does not implement ${operation}; supported: ${Object.keys(operations).join(", ")}`
          )
        )
    }
    const rule = rules.find(
      (r) => (r.operation === operation || r.operation === "*") && (r.times === undefined || r.hits < r.times)
    )
    if (rule !== undefined) {
      rule.hits++
      return reply.code(rule.status).send(awsError(rule.type, rule.message))
    }
    try {
      return reply.header("content-type", "application/x-amz-json-1.1").send(handler(request.body))
    } catch (error) {
      if (error instanceof EcsError) return reply.code(error.status).send(awsError(error.type, error.message))
      throw error
    }
  })

  server.get("/_sim/billing", async () => Billing.compute(model))
  server.get("/_sim/clock", async () => ({ mode: clock.mode, nowMillis: clock.now() }))
  server.post("/_sim/clock/advance", async (request, reply) => {
    const millis = (request.body as { millis?: unknown } | undefined)?.millis
    if (typeof millis !== "number" || !Number.isInteger(millis) || millis <= 0) {
      return reply
        .code(400)
        .send(awsError("InvalidParameterException", "body.millis: expected a positive integer"))
    }
    if (!(clock instanceof VirtualClock.VirtualClock))
      return reply.code(400).send(awsError("InvalidParameterException", "the clock is real"))
    await clock.advanceBy(millis)
    return { nowMillis: clock.now() }
  })
  server.post("/_sim/autoscaling-groups", async (request, reply) => {
    const body = Schema.decodeUnknownEither(
      Schema.Struct({
        name: Schema.String,
        instanceType: Schema.String,
        min: Schema.Int,
        max: Schema.Int,
        desired: Schema.Int
      })
    )(request.body)
    if (body._tag === "Left")
      return reply.code(400).send(awsError("InvalidParameterException", String(body.left)))
    try {
      return reply.code(201).send({ arn: model.createAutoScalingGroup(body.right).arn })
    } catch (error) {
      if (error instanceof EcsError) return reply.code(400).send(awsError(error.type, error.message))
      throw error
    }
  })
  server.get("/_sim/state", async () => ({
    nowMillis: clock.now(),
    clusters: [...model.clusters.keys()],
    instances: [...model.instances.values()].map((i) => ({
      id: i.id,
      type: i.instanceType,
      state: i.state,
      tasks: i.tasks.size
    })),
    tasks: [...model.tasks.values()].map((t) => ({
      arn: t.arn,
      lastStatus: t.lastStatus,
      instance: t.instance
    }))
  }))

  server.server.on("upgrade", (request, socket, head) => {
    if (!dataChannel.upgrade(request, socket, head)) socket.destroy()
  })
  await server.ready()

  const requestHandler: RequestHandler = {
    handle: async (request) => {
      const body =
        typeof request.body === "string"
          ? request.body
          : request.body instanceof Uint8Array
            ? Buffer.from(request.body)
            : undefined
      const response = await clock.track(
        server.inject({
          method: request.method as "POST",
          url: request.path,
          headers: request.headers,
          ...(body === undefined ? {} : { payload: body })
        })
      )
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(response.headers)) if (v !== undefined) headers[k] = String(v)
      return {
        response: { statusCode: response.statusCode, headers, body: new Uint8Array(response.rawPayload) }
      }
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
    destroy: () => undefined
  }

  return {
    server,
    model,
    clock,
    requestHandler,
    dataChannel,
    faults: {
      add: (rule) => void rules.push({ ...rule, hits: 0 }),
      clear: () => void rules.splice(0),
      list: () => rules.map(({ hits: _hits, ...rule }) => rule)
    },
    listen: async ({ host = "127.0.0.1", port = 0 } = {}) => {
      const url = await server.listen({ host, port })
      dataChannel.baseUrl = url.replace(/^http/, "ws")
      return url
    },
    createAutoScalingGroup: (group) => ({ arn: model.createAutoScalingGroup(group).arn }),
    billing: () => Billing.compute(model),
    close: async () => {
      dataChannel.close()
      await server.close()
    }
  }
}
