/**
 * The awsJson1_1 endpoint: `POST /` with `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`, JSON
 * bodies, `{"__type", "message"}` errors. Checks the SigV4 access key id against the configured keys (if any),
 * applies the seeded fault rules, then calls the operation.
 */
import type { VirtualClock } from "@hangar/core"
import type { FastifyInstance } from "fastify"
import * as Faults from "../Faults.js"
import { EcsError } from "../model/EcsError.js"

export const targetPrefix = "AmazonEC2ContainerServiceV20141113."

export const awsError = (type: string, message: string) => ({ __type: type, message })

export interface Options {
  readonly operations: Readonly<Record<string, (body: unknown) => unknown>>
  readonly faults: Faults.Faults
  readonly clock: VirtualClock.SimulationClock
  readonly accessKeys: ReadonlyArray<string> | undefined
  /** Called after an operation that changed configuration succeeded (persistence). */
  readonly changed: (operation: string) => void
  readonly requestId: () => string
}

/** The SigV4 access key id in an Authorization header (`Credential=AKID/date/region/ecs/aws4_request`). */
export const accessKeyOf = (authorization: string | undefined): string | undefined =>
  /Credential=([^/,\s]+)\//.exec(authorization ?? "")?.[1]

export const register = (server: FastifyInstance, options: Options): void => {
  server.addContentTypeParser(
    ["application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"],
    { parseAs: "string" },
    (_request, body, done) => {
      const text = String(body)
      try {
        done(null, text.trim() === "" ? {} : JSON.parse(text))
      } catch {
        done(Object.assign(new Error("the request body is not valid JSON"), { statusCode: 400 }), undefined)
      }
    }
  )
  const supported = Object.keys(options.operations).join(", ")

  server.post("/", async (request, reply) => {
    reply.header("x-amzn-requestid", options.requestId())
    reply.header("content-type", "application/x-amz-json-1.1")
    const header = request.headers["x-amz-target"]
    const operation =
      typeof header === "string" && header.startsWith(targetPrefix)
        ? header.slice(targetPrefix.length)
        : undefined
    if (operation === undefined)
      return reply
        .code(400)
        .send(awsError("UnknownOperationException", `X-Amz-Target: expected ${targetPrefix}<Operation>`))
    if (options.accessKeys !== undefined) {
      const key = accessKeyOf(request.headers.authorization)
      if (key === undefined || !options.accessKeys.includes(key))
        return reply
          .code(400)
          .send(
            awsError(
              "UnrecognizedClientException",
              "The security token included in the request is invalid: the access key id is not one this simulator accepts."
            )
          )
    }
    const handler = options.operations[operation]
    if (handler === undefined)
      return reply
        .code(400)
        .send(
          awsError(
            "UnknownOperationException",
            `The ECS simulator does not implement ${operation.slice(0, 64)}; it implements ${supported}.`
          )
        )
    const delay = options.faults.latency(operation)
    if (delay > 0) await options.clock.idle(options.clock.sleepMillis(delay))
    const fault = options.faults.request(operation)
    if (fault !== undefined) {
      const answer = Faults.response(fault)
      return reply.code(answer.status).send(awsError(answer.type, answer.message))
    }
    if (request.body === null || typeof request.body !== "object" || Array.isArray(request.body))
      return reply
        .code(400)
        .send(awsError("SerializationException", `${operation}: the request body must be a JSON object`))
    try {
      const result = handler(request.body)
      options.changed(operation)
      return reply.send(result)
    } catch (error) {
      if (error instanceof EcsError) return reply.code(error.status).send(awsError(error.type, error.message))
      throw error
    }
  })
}
