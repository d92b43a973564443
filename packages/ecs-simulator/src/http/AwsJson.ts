/**
 * The awsJson1_1 endpoint: `POST /` with `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`, JSON
 * bodies, `{"__type", "message"}` errors. On the matched route, in this order: authenticate (SigV4, see
 * `Authentication`), look the operation up (a `Map`: a name every object has, `__proto__` or `toString`, is an
 * unknown operation like any other), apply the seeded fault rules, parse the bounded body (`RequestBody`), call
 * the operation.
 */
import type { VirtualClock } from "@hangar/core"
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify"
import * as Faults from "../Faults.js"
import { EcsError } from "../model/EcsError.js"
import * as Authentication from "./Authentication.js"
import * as RequestBody from "./RequestBody.js"

export const targetPrefix = "AmazonEC2ContainerServiceV20141113."

export const awsError = (type: string, message: string) => ({ __type: type, message })

export type Operation = (body: unknown) => unknown

export interface Options {
  /**
   * The operations on the state of a region of an access key's account (the simulator's own when undefined);
   * undefined if there is no such region.
   */
  readonly operationsOf: (
    region: string | undefined,
    accessKey: string | undefined
  ) => Promise<ReadonlyMap<string, Operation>> | undefined
  /** The operations' names, for the error of an unknown one. */
  readonly supported: ReadonlyArray<string>
  readonly faults: Faults.Faults
  readonly clock: VirtualClock.SimulationClock
  readonly authentication: Authentication.Config
  readonly requestId: () => string
}

export const { accessKeyOf } = Authentication

/** The operation an `X-Amz-Target` header names, or undefined when it is not an ECS target. */
const operationOf = (request: FastifyRequest): string | undefined => {
  const header = request.headers["x-amz-target"]
  return typeof header === "string" && header.startsWith(targetPrefix)
    ? header.slice(targetPrefix.length)
    : undefined
}

const refuse = (reply: FastifyReply, status: number, type: string, message: string) =>
  reply.code(status).send(awsError(type, message))

export const register = (server: FastifyInstance, options: Options): void => {
  RequestBody.register(server)
  const supported = options.supported.join(", ")

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header("x-amzn-requestid", options.requestId())
    reply.header("content-type", "application/x-amz-json-1.1")
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const refusal = await Authentication.verifyEcsRequest(options.authentication, request, raw)
    if (refusal !== undefined) return refuse(reply, refusal.status, refusal.type, refusal.message)
    return undefined
  }

  server.post("/", { preHandler: authenticate }, async (request, reply) => {
    const operation = operationOf(request)
    if (operation === undefined)
      return refuse(
        reply,
        400,
        "UnknownOperationException",
        `X-Amz-Target: expected ${targetPrefix}<Operation>`
      )
    const region = Authentication.regionOf(request.headers.authorization)
    const operations = await options.operationsOf(
      region,
      Authentication.accessKeyOf(request.headers.authorization)
    )
    if (operations === undefined)
      return refuse(
        reply,
        400,
        "InvalidSignatureException",
        `Credential should be scoped to a valid region, not '${(region ?? "").slice(0, 32)}'.`
      )
    const handler = operations.get(operation)
    if (handler === undefined)
      return refuse(
        reply,
        400,
        "UnknownOperationException",
        `The ECS simulator does not implement ${operation.slice(0, 64)}; it implements ${supported}.`
      )
    const delay = options.faults.latency(operation)
    if (delay > 0) await options.clock.idle(options.clock.sleepMillis(delay))
    const fault = options.faults.request(operation)
    if (fault !== undefined) {
      const answer = Faults.response(fault)
      return refuse(reply, answer.status, answer.type, answer.message)
    }
    let body: unknown
    try {
      body = RequestBody.json(request)
    } catch (error) {
      if (error instanceof RequestBody.Invalid)
        return refuse(reply, 400, error.type, `${operation}: ${error.message}`)
      throw error
    }
    if (body === null || typeof body !== "object" || Array.isArray(body))
      return refuse(
        reply,
        400,
        "SerializationException",
        `${operation}: the request body must be a JSON object`
      )
    try {
      return reply.send(handler(body))
    } catch (error) {
      if (error instanceof EcsError) return refuse(reply, error.status, error.type, error.message)
      throw error
    }
  })
}
