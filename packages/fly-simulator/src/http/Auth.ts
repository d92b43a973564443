/**
 * Token checks for the Machines API and the `/_sim` control plane. A request is authenticated by the routes it
 * reaches (a hook registered in the scope of those routes), never by reading the raw URL, so no spelling of a path
 * (percent-encoded, absolute-form) reaches a handler without a token. Tokens are compared in constant time:
 * SHA-256 digests of equal length through `timingSafeEqual`, every configured token compared on every request.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import type { FastifyReply, FastifyRequest } from "fastify"

export interface Token {
  readonly token: string
  /** Apps this token may touch; all apps when absent. */
  readonly apps?: ReadonlyArray<string>
}

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** The bearer or FlyV1 credential of an Authorization header, if it has that shape. */
export const credentialOf = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  for (const scheme of ["Bearer ", "FlyV1 "]) {
    if (header.startsWith(scheme) && header.length > scheme.length) return header.slice(scheme.length)
  }
  return undefined
}

export interface Authenticator {
  /** The configured token the request carries, if any. */
  readonly tokenOf: (request: FastifyRequest) => Token | undefined
  /** A fastify onRequest hook for the Machines API: 401 without a token, or out of its app scope. */
  readonly api: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  /** A fastify onRequest hook for `/_sim`: any configured token, whatever its app scope. */
  readonly control: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
}

export const make = (tokens: ReadonlyArray<Token>): Authenticator => {
  const known = tokens.map((token) => ({ token, digest: digest(token.token) }))
  const tokenOf = (request: FastifyRequest): Token | undefined => {
    const credential = credentialOf(request.headers.authorization)
    if (credential === undefined) return undefined
    const presented = digest(credential)
    let found: Token | undefined
    for (const candidate of known) {
      if (timingSafeEqual(candidate.digest, presented) && found === undefined) found = candidate.token
    }
    return found
  }
  const unauthorized = (reply: FastifyReply, error: string) => reply.code(401).send({ error })
  return {
    tokenOf,
    api: async (request, reply) => {
      const token = tokenOf(request)
      if (token === undefined) return unauthorized(reply, "unauthorized: send Authorization: Bearer <token>")
      // The app as the router decoded it from the matched route.
      const app = (request.params as { app?: unknown } | undefined)?.app
      if (typeof app === "string" && token.apps !== undefined && !token.apps.includes(app)) {
        // Fly answers a token without access to the resource with 401 Unauthorized, as flyctl sees for deploy
        // tokens used outside their scope (superfly/flyctl PR #2365); no 403 is documented for this.
        return unauthorized(reply, `unauthorized: this token is not scoped to app ${app}`)
      }
    },
    control: async (request, reply) => {
      if (tokenOf(request) === undefined)
        return unauthorized(
          reply,
          "unauthorized: /_sim needs the simulator's token: Authorization: Bearer <token>"
        )
    }
  }
}
