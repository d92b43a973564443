/**
 * Bearer-token authentication as an onRequest hook registered in the scope of the protected routes, so it runs
 * on the route a request matched and no spelling of a path gets around it. The token stays Redacted until the
 * comparison, which is constant-time (SHA-256 digests of equal length through `timingSafeEqual`).
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Redacted } from "effect"
import type { FastifyReply, FastifyRequest } from "fastify"

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

export const hook = (token: Redacted.Redacted) => {
  const expected = digest(Redacted.value(token))
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization
    const presented = header?.startsWith("Bearer ") === true ? header.slice("Bearer ".length) : undefined
    if (presented === undefined || presented === "" || !timingSafeEqual(expected, digest(presented)))
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="hangar"')
        .send({ error: "unauthorized: send Authorization: Bearer <token> (the server's HANGAR_API_TOKEN)" })
  }
}
