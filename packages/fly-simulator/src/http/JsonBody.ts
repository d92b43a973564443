/**
 * The JSON body parser: bounded in size (fastify's `bodyLimit`) and in nesting depth, checked on the raw text
 * before anything is parsed, so a deeply nested body is a 400 that never reaches validation, the model or a
 * serialiser. A `__proto__` key is refused (400) wherever it is, so no later copy of the body can set a
 * prototype. An empty body is no body: Fly accepts bodiless POSTs (start, suspend) with a JSON content type.
 */
import { JsonDepth } from "@hangar/core/simulation"
import type { FastifyInstance } from "fastify"

/** Deeper than any Fly request (a machine config nests about six levels). */
export const maxDepth = 64
export const maxBytes = 1_048_576

const badRequest = (message: string) => Object.assign(new Error(message), { statusCode: 400 })

/** The deepest nesting of arrays and objects in JSON text, stopping once past `limit` (core's scan). */
export const depthOf = (text: string, limit = maxDepth): number => JsonDepth.depthOf(text, limit)

export const register = (server: FastifyInstance): void => {
  server.removeContentTypeParser("application/json")
  server.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const parsed = JsonDepth.parseBody(String(body), maxDepth)
    if (parsed.ok) done(null, parsed.value)
    else done(badRequest(parsed.message), undefined)
  })
}
