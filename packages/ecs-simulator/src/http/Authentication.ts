/**
 * Who may call the simulator, checked on the matched route.
 *
 * - No access keys configured: every request is accepted (a local simulator, as LocalStack and moto run).
 * - Access keys only: the SigV4 `Credential=` of an ECS request must name one of them
 *   (`UnrecognizedClientException` otherwise); the signature is not checked.
 * - Access keys and a secret key: the signature is recomputed over the canonical request with
 *   `@smithy/signature-v4` (the signer the SDK uses) and compared in constant time
 *   (`InvalidSignatureException` when it differs, or when `X-Amz-Date` is more than 15 minutes from the wall
 *   clock, as AWS answers).
 *
 * The `/_sim` control plane, once any access key is configured, needs `Authorization: Bearer <secret key>`
 * (or `Bearer <access key id>` when no secret is configured), compared in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import { SignatureV4 } from "@smithy/signature-v4"
import { Redacted } from "effect"
import type { FastifyRequest } from "fastify"

export interface Config {
  readonly accessKeys?: ReadonlyArray<string> | undefined
  readonly secretKey?: Redacted.Redacted<string> | undefined
}

/** A refused request: the awsJson `__type`, the message and the status AWS uses for it. */
export interface Refusal {
  readonly status: number
  readonly type: string
  readonly message: string
}

/** How far `X-Amz-Date` may be from the wall clock (AWS's SigV4 limit). */
export const maxSkewMillis = 15 * 60_000

/** SHA-256 and HMAC-SHA256 over node:crypto, in the shape the signer takes (`new Hash(secret?)`). */
export class Sha256 {
  private readonly hash
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash("sha256")
        : createHmac("sha256", typeof secret === "string" ? secret : toBytes(secret))
  }
  update(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === "string" ? data : toBytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()))
  }
}

const toBytes = (data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array =>
  data instanceof Uint8Array
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data)

/** Equal strings in time that depends only on their lengths' digests, not on where they differ. */
export const constantTimeEqual = (a: string, b: string): boolean =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest())

interface Parsed {
  readonly accessKeyId: string
  readonly date: string
  readonly region: string
  readonly service: string
  readonly signedHeaders: ReadonlyArray<string>
  readonly signature: string
}

const authorizationPattern =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]{1,128})\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request, ?SignedHeaders=([a-z0-9;_.-]{1,1024}), ?Signature=([0-9a-f]{64})$/

/** The parts of a SigV4 `Authorization` header, or undefined when it is not one. */
export const parseAuthorization = (header: string | undefined): Parsed | undefined => {
  const m = authorizationPattern.exec(header ?? "")
  if (m === null) return undefined
  return {
    accessKeyId: m[1]!,
    date: m[2]!,
    region: m[3]!,
    service: m[4]!,
    signedHeaders: m[5]!.split(";"),
    signature: m[6]!
  }
}

/** The region of an `Authorization` header's credential scope (`Credential=AKID/date/REGION/…`), if any. */
export const regionOf = (authorization: string | undefined): string | undefined =>
  /Credential=[^/,\s]+\/\d{8}\/([^/,\s]{1,64})\//.exec(authorization ?? "")?.[1]

/** The access key id an `Authorization` header names (`Credential=AKID/…`), if any. */
export const accessKeyOf = (authorization: string | undefined): string | undefined =>
  /Credential=([^/,\s]+)\//.exec(authorization ?? "")?.[1]

const unrecognized: Refusal = {
  status: 400,
  type: "UnrecognizedClientException",
  message: "The security token included in the request is invalid."
}
const mismatch: Refusal = {
  status: 400,
  type: "InvalidSignatureException",
  message:
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
}

const amzDate = (value: string): number | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (m === null) return undefined
  const millis = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
  return Number.isNaN(millis) ? undefined : millis
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(",") : value
}

/** Checks an ECS request's SigV4 credential (and signature when a secret is configured); a Refusal if refused. */
export const verifyEcsRequest = async (
  config: Config,
  request: FastifyRequest,
  rawBody: Uint8Array,
  wallNow: number = Date.now()
): Promise<Refusal | undefined> => {
  const keys = config.accessKeys
  if (keys === undefined) return undefined
  const authorization = header(request, "authorization")
  if (authorization === undefined)
    return {
      status: 403,
      type: "MissingAuthenticationTokenException",
      message: "Missing Authentication Token: sign the request with SigV4 (Authorization header)."
    }
  const key = accessKeyOf(authorization)
  if (key === undefined || !keys.some((k) => constantTimeEqual(k, key))) return unrecognized
  if (config.secretKey === undefined) return undefined
  const parsed = parseAuthorization(authorization)
  if (parsed === undefined)
    return {
      status: 400,
      type: "IncompleteSignatureException",
      message:
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters in the AWS4-HMAC-SHA256 form."
    }
  const dateHeader = header(request, "x-amz-date")
  const signedAt = dateHeader === undefined ? undefined : amzDate(dateHeader)
  if (signedAt === undefined || !parsed.signedHeaders.includes("x-amz-date"))
    return {
      status: 400,
      type: "IncompleteSignatureException",
      message: "X-Amz-Date: expected a signed header of the form YYYYMMDDTHHMMSSZ."
    }
  if (!dateHeader!.startsWith(parsed.date)) return mismatch
  if (Math.abs(wallNow - signedAt) > maxSkewMillis)
    return {
      status: 400,
      type: "InvalidSignatureException",
      message: `Signature expired: ${dateHeader} is now earlier than ${new Date(wallNow - maxSkewMillis).toISOString()} or later than ${new Date(wallNow + maxSkewMillis).toISOString()} (15 minutes either side of the server's time).`
    }
  const bodyHash = createHash("sha256").update(rawBody).digest("hex")
  const declaredHash = header(request, "x-amz-content-sha256")
  if (declaredHash !== undefined && declaredHash !== bodyHash) return mismatch
  const headers: Record<string, string> = {}
  for (const name of parsed.signedHeaders) {
    const value = header(request, name)
    if (value === undefined) return mismatch
    headers[name] = value
  }
  const [path = "/", search = ""] = (request.raw.url ?? "/").split("?", 2)
  const query: Record<string, string | Array<string>> = {}
  for (const [name, value] of new URLSearchParams(search)) {
    const previous = query[name]
    query[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value]
  }
  const signer = new SignatureV4({
    service: parsed.service,
    region: parsed.region,
    credentials: { accessKeyId: key, secretAccessKey: Redacted.value(config.secretKey) },
    sha256: Sha256,
    applyChecksum: false
  })
  let expected: string | undefined
  try {
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: "http:",
        hostname: headers.host ?? "",
        path,
        query,
        headers,
        body: rawBody
      },
      { signingDate: new Date(signedAt), signableHeaders: new Set(parsed.signedHeaders) }
    )
    expected = parseAuthorization(signed.headers.authorization)?.signature
  } catch {
    expected = undefined
  }
  return expected !== undefined && constantTimeEqual(expected, parsed.signature) ? undefined : mismatch
}

/** Checks a `/_sim` request's bearer credential when access keys are configured; a Refusal if refused. */
export const verifyControlRequest = (config: Config, request: FastifyRequest): Refusal | undefined => {
  if (config.accessKeys === undefined) return undefined
  const presented = /^Bearer (\S{1,1024})$/.exec(header(request, "authorization") ?? "")?.[1]
  const accepted =
    presented !== undefined &&
    (config.secretKey === undefined
      ? config.accessKeys.some((k) => constantTimeEqual(k, presented))
      : constantTimeEqual(Redacted.value(config.secretKey), presented))
  return accepted
    ? undefined
    : {
        status: 403,
        type: "AccessDeniedException",
        message: `the /_sim control plane needs Authorization: Bearer <${config.secretKey === undefined ? "an access key id" : "the secret key"}> when the simulator has access keys`
      }
}
