/**
 * Regions are named the way Fly.io names them (`iad`, `lhr`, `nrt`, `syd`, …); providers map them onto their
 * own (the ECS plugin maps `iad` to `us-east-1`). `edge` is the seed's "run it near the user" request.
 */
import { Schema } from "effect"

export const Region = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9-]{1,31}$/, {
    message: () => "a region code of lower-case letters, digits and dashes, such as iad, lhr or us-east-1"
  }),
  Schema.brand("Region")
)
export type Region = typeof Region.Type

/** The seed's request for "wherever is closest to the user"; routed to Fly by the rules policy. */
export const edge = "edge" as Region

export const make = (code: string): Region => Schema.decodeSync(Region)(code)
