/**
 * The JSON body parser: bounded in size (fastify's `bodyLimit`) and in nesting depth, checked on the raw text
 * before it is parsed (core's scan, as the simulators do), and a `__proto__` key refused wherever it is.
 */
import { JsonDepth } from "@hangar/core/simulation"
import type { FastifyInstance } from "fastify"

/** A TaskSpec nests three levels; anything past this is not a request of this API. */
export const maxDepth = 16
export const maxBytes = 262_144

const badRequest = (message: string) => Object.assign(new Error(message), { statusCode: 400 })

class ProtoKey extends Error {}

const refuseProto = (key: string, value: unknown): unknown => {
  if (key === "__proto__") throw new ProtoKey("body has a key __proto__, which no request accepts")
  return value
}

export const register = (server: FastifyInstance): void => {
  server.removeContentTypeParser(["application/json", "text/plain"])
  server.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = String(body)
    if (text.trim() === "") return done(null, undefined)
    if (JsonDepth.depthOf(text, maxDepth) > maxDepth)
      return done(badRequest(`body nests deeper than ${maxDepth} levels of arrays and objects`), undefined)
    try {
      done(null, JSON.parse(text, refuseProto))
    } catch (error) {
      done(
        error instanceof ProtoKey
          ? badRequest(error.message)
          : badRequest(`body is not valid JSON: ${(error as Error).message}`),
        undefined
      )
    }
  })
}
