/**
 * Request bodies, bounded before they are parsed: fastify collects at most `limitBytes` of a JSON body (the
 * awsJson content types and `application/json`) as raw bytes, which SigV4 verification hashes as sent; `json`
 * then refuses a charset other than UTF-8, bytes that are not UTF-8, and nesting deeper than `maxDepth`
 * (counted over the text before `JSON.parse`, so no deep value is ever built), and parses the rest.
 */
import { JsonDepth } from "@hangar/core/simulation"
import type { FastifyInstance, FastifyRequest } from "fastify"

/** Most bytes of a request body (ECS's largest requests, task definitions, are far below it). */
export const limitBytes = 1_048_576

/** Deepest nesting of arrays and objects accepted (ECS's deepest input shape is under 10 levels). */
export const maxDepth = 32

export const contentTypes = ["application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"]

/** Why a body was refused; `type` is the awsJson error type the answer carries (always a 400). */
export class Invalid extends Error {
  constructor(
    readonly type: "SerializationException",
    message: string
  ) {
    super(message)
  }
}

/** Raw bytes of the JSON content types become `request.body` (a Buffer); every other type is a 415. */
export const register = (server: FastifyInstance): void => {
  server.removeAllContentTypeParsers()
  server.addContentTypeParser(
    contentTypes,
    { parseAs: "buffer", bodyLimit: limitBytes },
    (_request, body, done) => done(null, body)
  )
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** The `charset` parameter of a content type, lower-cased, or undefined when there is none. */
export const charsetOf = (contentType: string | undefined): string | undefined => {
  for (const parameter of (contentType ?? "").split(";").slice(1)) {
    const [name = "", value = ""] = parameter.split("=")
    if (name.trim().toLowerCase() === "charset") return value.trim().replace(/^"|"$/g, "").toLowerCase()
  }
  return undefined
}

/** The request's JSON body (`{}` when empty), or throws `Invalid` saying what is wrong with it. */
export const json = (request: FastifyRequest): unknown => {
  const body = request.body
  if (body === undefined || body === null) return {}
  if (!Buffer.isBuffer(body))
    throw new Invalid("SerializationException", `content-type: expected one of ${contentTypes.join(", ")}`)
  const charset = charsetOf(request.headers["content-type"])
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8")
    throw new Invalid(
      "SerializationException",
      `content-type: charset=${charset.slice(0, 32)} is not supported; send the body as UTF-8`
    )
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    throw new Invalid("SerializationException", "the request body is not valid UTF-8")
  }
  if (text.trim() === "") return {}
  if (JsonDepth.depthOf(text, maxDepth) > maxDepth)
    throw new Invalid(
      "SerializationException",
      `the request body nests arrays and objects more than ${maxDepth} levels deep`
    )
  try {
    return JSON.parse(text)
  } catch {
    throw new Invalid("SerializationException", "the request body is not valid JSON")
  }
}
