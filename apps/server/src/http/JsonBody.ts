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

export const register = (server: FastifyInstance): void => {
  server.removeContentTypeParser(["application/json", "text/plain"])
  server.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const parsed = JsonDepth.parseBody(String(body), maxDepth)
    if (parsed.ok) done(null, parsed.value)
    else done(badRequest(parsed.message), undefined)
  })
}
