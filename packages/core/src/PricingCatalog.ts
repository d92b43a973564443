/**
 * Prices are data: a catalog lists every price with the URL it came from and the date it was read. Simulators
 * bill from the same catalog that providers and the bench estimate with, so the two agree by construction.
 */
import { Schema } from "effect"
import ec2Data from "../data/ec2-pricing.json" with { type: "json" }
import flyData from "../data/fly-pricing.json" with { type: "json" }
import * as Money from "./Money.js"

export const SourceUrl = Schema.String.pipe(
  Schema.pattern(/^https?:\/\/\S+$/, { message: () => "an http(s) URL naming where the price was read" })
)
export const IsoDate = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}$/, { message: () => "a date as YYYY-MM-DD" })
)

export const Price = Schema.Struct({
  key: Schema.NonEmptyString,
  description: Schema.String,
  usd: Money.DecimalString,
  per: Money.Period,
  /** What one unit is: a machine, an instance, a GB, a multiplier. */
  unit: Schema.Literal("machine", "instance", "GB", "ratio"),
  source: SourceUrl,
  asOf: IsoDate,
  note: Schema.optional(Schema.String)
})
export type Price = typeof Price.Type

export const PricingCatalog = Schema.Struct({
  schemaVersion: Schema.Literal(1),
  provider: Schema.NonEmptyString,
  currency: Schema.Literal("USD"),
  prices: Schema.NonEmptyArray(Price)
})
export type PricingCatalog = typeof PricingCatalog.Type

export const decode = Schema.decodeUnknownSync(PricingCatalog, { errors: "all", onExcessProperty: "error" })

export const find = (catalog: PricingCatalog, key: string): Price | undefined =>
  catalog.prices.find((p) => p.key === key)

/** The price under `key` (throws, naming the known keys, if the catalog has none: catalogs are static data). */
export const price = (catalog: PricingCatalog, key: string): Price => {
  const found = find(catalog, key)
  if (found === undefined) {
    throw new Error(
      `no price "${key}" in the ${catalog.provider} catalog; known: ${catalog.prices.map((p) => p.key).join(", ")}`
    )
  }
  return found
}

/** The exact rate of the price under `key` (for `ratio` units, the ratio per second is meaningless: use `ratio`). */
export const rate = (catalog: PricingCatalog, key: string): Money.Rate => {
  const p = price(catalog, key)
  return Money.rate(p.usd, p.per)
}

/** A dimensionless multiplier stored as a price with unit `ratio` (Fly's regional markup). */
export const ratio = (catalog: PricingCatalog, key: string, fallback = "1"): string =>
  find(catalog, key)?.usd ?? fallback

/** Fly.io Machines prices (per-second billing of started machines, rootfs, volumes, snapshots, regional markup). */
export const fly: PricingCatalog = decode(flyData)
/** EC2 on-demand, EBS and related AWS prices for the ECS-on-EC2 side. */
export const ec2: PricingCatalog = decode(ec2Data)
