/** Request validation with Schema: a bad field is a 400 whose `error` names the field and what was expected. */
import { Either, ParseResult, Schema } from "effect"
import { SimError } from "../model/FlyModel.js"

export const decode = <A, I>(schema: Schema.Schema<A, I>, value: unknown, where: string): A => {
  const result = Schema.decodeUnknownEither(schema, { errors: "all" })(value ?? {})
  if (Either.isRight(result)) return result.right
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left)
  const described = issues.map(
    (i) => `${i.path.length === 0 ? where : `${where}.${i.path.join(".")}`}: ${i.message}`
  )
  throw new SimError(400, `invalid_argument: ${described.join("; ")}`)
}

export const IntFromString = Schema.NumberFromString.pipe(Schema.int())
export const BooleanFromString = Schema.transform(Schema.Literal("true", "false", "1", "0"), Schema.Boolean, {
  strict: true,
  decode: (s) => s === "true" || s === "1",
  encode: (b) => (b ? "true" : "false")
})
