/**
 * What every operation's parsing shares: `input` decodes a body with Schema (a bad field is an
 * InvalidParameterException naming it), the shapes several operations take, and paging by `nextToken`.
 */
import { Either, ParseResult, Schema } from "effect"
import { EcsError } from "../model/EcsError.js"

export const Tag = Schema.Struct({ key: Schema.String, value: Schema.String })
export const KeyValue = Schema.Struct({ name: Schema.String, value: Schema.String })
export const Strategy = Schema.Array(
  Schema.Struct({
    capacityProvider: Schema.String,
    weight: Schema.optional(Schema.Int),
    base: Schema.optional(Schema.Int)
  })
)
export const ClusterRef = Schema.optional(Schema.String)

/** A decimal integer string of at most 9 digits ("0x100", " 256 ", "1e3" and "256.0" are refused, as AWS does). */
export const DecimalInteger = Schema.compose(
  Schema.String.pipe(
    Schema.pattern(/^[0-9]{1,9}$/, { message: () => 'expected a decimal integer string such as "1024"' })
  ),
  Schema.NumberFromString
)

const decoders = new Map<string, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>()

/** Decodes an operation's input; each operation's schema is built and compiled once. */
export const input = <A, I>(schema: () => Schema.Schema<A, I>, body: unknown, operation: string): A => {
  let decode = decoders.get(operation)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(schema(), { errors: "all" }) as (
      u: unknown
    ) => Either.Either<unknown, ParseResult.ParseError>
    decoders.set(operation, decode)
  }
  const result = decode(body ?? {}) as Either.Either<A, ParseResult.ParseError>
  if (Either.isRight(result)) return result.right
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left)
  throw new EcsError(
    "InvalidParameterException",
    `${operation}: ${issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`).join("; ")}`
  )
}

/** The paging fields of a List or Describe input: `maxResults` (1 to `most`, default `most`) and `nextToken`. */
export const Paging = (most: number) => ({
  maxResults: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, most)), { default: () => most }),
  nextToken: Schema.optional(DecimalInteger)
})

/** One page of `items` from the offset `nextToken` carries, and the token of the next page if there is one. */
export const pageOf = <A>(
  items: ReadonlyArray<A>,
  paging: { readonly maxResults: number; readonly nextToken?: number | undefined }
) => {
  const from = paging.nextToken ?? 0
  const to = from + paging.maxResults
  return { page: items.slice(from, to), ...(to < items.length ? { nextToken: String(to) } : {}) }
}
