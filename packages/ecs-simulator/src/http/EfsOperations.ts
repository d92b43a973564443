/**
 * The EFS access-point operations the repositories' workspaces need, on EFS's restJson1 wire: CreateAccessPoint
 * (`POST /2015-02-01/access-points`), DescribeAccessPoints (`GET /2015-02-01/access-points?FileSystemId=`) and
 * DeleteAccessPoint (`DELETE /2015-02-01/access-points/{AccessPointId}`). Errors carry `x-amzn-ErrorType` and a
 * `{ ErrorCode, Message }` body, as EFS answers. On the matched route: authenticate (SigV4, as every ECS request),
 * parse and validate the bounded body, then call the model of the request's region.
 */
import { ParseResult, Schema } from "effect"
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify"
import type { EcsModel } from "../model/EcsModel.js"
import { type AccessPoint, EfsError } from "../model/Workspaces.js"
import * as Authentication from "./Authentication.js"
import * as RequestBody from "./RequestBody.js"

export interface Options {
  /** The model of the request's region and account, or undefined for an unknown region. */
  readonly modelOf: (
    region: string | undefined,
    accessKey: string | undefined
  ) => Promise<EcsModel> | undefined
  readonly authentication: Authentication.Config
  readonly requestId: () => string
}

const base = "/2015-02-01/access-points"

const Tag = Schema.Struct({
  Key: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  Value: Schema.String.pipe(Schema.maxLength(256))
})

const CreateAccessPointInput = Schema.Struct({
  ClientToken: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  FileSystemId: Schema.String.pipe(Schema.maxLength(128)),
  RootDirectory: Schema.optional(
    Schema.Struct({
      Path: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))),
      CreationInfo: Schema.optional(
        Schema.Struct({
          OwnerUid: Schema.Int.pipe(Schema.between(0, 4294967295)),
          OwnerGid: Schema.Int.pipe(Schema.between(0, 4294967295)),
          Permissions: Schema.String.pipe(Schema.pattern(/^[0-7]{3,4}$/))
        })
      )
    })
  ),
  PosixUser: Schema.optional(
    Schema.Struct({
      Uid: Schema.Int.pipe(Schema.between(0, 4294967295)),
      Gid: Schema.Int.pipe(Schema.between(0, 4294967295)),
      SecondaryGids: Schema.optional(Schema.Array(Schema.Int).pipe(Schema.maxItems(16)))
    })
  ),
  Tags: Schema.optional(Schema.Array(Tag).pipe(Schema.maxItems(50)))
})

const decodeCreate = Schema.decodeUnknownEither(CreateAccessPointInput, { errors: "all" })

/** An access point as EFS describes it. */
const describeAccessPoint = (ap: AccessPoint, owner: string) => ({
  AccessPointId: ap.id,
  AccessPointArn: ap.arn,
  ClientToken: ap.clientToken,
  FileSystemId: ap.fileSystemId,
  RootDirectory: { Path: ap.rootDirectory },
  Tags: ap.tags.map((t) => ({ Key: t.key, Value: t.value })),
  OwnerId: owner,
  LifeCycleState: "available"
})

const refuse = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).header("x-amzn-errortype", code).send({ ErrorCode: code, Message: message })

/** The request's region's model after authentication, or undefined once a refusal has been sent. */
const modelFor = async (options: Options, request: FastifyRequest, reply: FastifyReply) => {
  reply.header("x-amzn-requestid", options.requestId())
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
  const refusal = await Authentication.verifyEcsRequest(options.authentication, request, raw)
  if (refusal !== undefined) {
    refuse(reply, refusal.status, refusal.type, refusal.message)
    return undefined
  }
  const region = Authentication.regionOf(request.headers.authorization)
  const model = await options.modelOf(region, Authentication.accessKeyOf(request.headers.authorization))
  if (model === undefined) refuse(reply, 400, "BadRequest", `Credential should be scoped to a valid region.`)
  return model
}

/** Runs a model call, answering an EfsError with its status and code. */
const answer = (reply: FastifyReply, call: () => unknown) => {
  try {
    return reply.send(call())
  } catch (error) {
    if (error instanceof EfsError) return refuse(reply, error.status, error.code, error.message)
    throw error
  }
}

const create = (options: Options) => async (request: FastifyRequest, reply: FastifyReply) => {
  const model = await modelFor(options, request, reply)
  if (model === undefined) return reply
  let body: unknown
  try {
    body = RequestBody.json(request)
  } catch (error) {
    if (error instanceof RequestBody.Invalid) return refuse(reply, 400, "BadRequest", error.message)
    throw error
  }
  const input = decodeCreate(body)
  if (input._tag === "Left") {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(input.left)
    return refuse(
      reply,
      400,
      "BadRequest",
      issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")
    )
  }
  const i = input.right
  return answer(reply, () =>
    describeAccessPoint(
      model.workspaces.create(
        {
          fileSystemId: i.FileSystemId,
          clientToken: i.ClientToken,
          rootDirectory: i.RootDirectory?.Path ?? "/",
          tags: (i.Tags ?? []).map((t) => ({ key: t.Key, value: t.Value }))
        },
        model.clock.now()
      ),
      model.account
    )
  )
}

const Query = Schema.Struct({
  FileSystemId: Schema.String.pipe(Schema.maxLength(128)),
  MaxResults: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))),
  NextToken: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()))
})

const describe = (options: Options) => async (request: FastifyRequest, reply: FastifyReply) => {
  const model = await modelFor(options, request, reply)
  if (model === undefined) return reply
  const query = Schema.decodeUnknownEither(Query)(request.query)
  if (query._tag === "Left")
    return refuse(
      reply,
      400,
      "BadRequest",
      "FileSystemId: expected one file system id (and MaxResults 1-1000)"
    )
  const { FileSystemId, MaxResults = 100, NextToken = 0 } = query.right
  return answer(reply, () => {
    const all = model.workspaces.describe(FileSystemId)
    const page = all.slice(NextToken, NextToken + MaxResults)
    return {
      AccessPoints: page.map((ap) => describeAccessPoint(ap, model.account)),
      ...(NextToken + MaxResults < all.length ? { NextToken: String(NextToken + MaxResults) } : {})
    }
  })
}

const remove = (options: Options) => async (request: FastifyRequest, reply: FastifyReply) => {
  const model = await modelFor(options, request, reply)
  if (model === undefined) return reply
  const id = String((request.params as { id?: unknown }).id ?? "").slice(0, 128)
  return answer(reply, () => {
    model.workspaces.delete(id, model.clock.now())
    reply.code(204)
    return ""
  })
}

export const register = (server: FastifyInstance, options: Options): void => {
  server.post(base, create(options))
  server.get(base, describe(options))
  server.delete(`${base}/:id`, remove(options))
}
