/**
 * Prices are data: a catalog lists every price with the URL it came from and the date it was read. Simulators
 * bill from the same catalog that providers and the bench estimate with, so the two agree by construction. An
 * AWS catalog names the region whose prices it holds; users load their own with `parse` / `parseJson`.
 */
import { ParseResult, Schema } from "effect"
import ec2Data from "../data/ec2-pricing.json" with { type: "json" }
import ec2ApNortheast1Data from "../data/ec2-pricing-ap-northeast-1.json" with { type: "json" }
import ec2ApSoutheast2Data from "../data/ec2-pricing-ap-southeast-2.json" with { type: "json" }
import ec2EuWest2Data from "../data/ec2-pricing-eu-west-2.json" with { type: "json" }
import flyData from "../data/fly-pricing.json" with { type: "json" }
import * as Money from "./Money.js"

export const SourceUrl = Schema.String.pipe(
  Schema.pattern(/^https?:\/\/\S+$/, { message: () => "an http(s) URL naming where the price was read" })
)
/** A real calendar date written YYYY-MM-DD (2026-02-30 is refused). */
export const IsoDate = Schema.String.pipe(
  Schema.filter(
    (s) => {
      const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s)
      if (match === null) return false
      const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
      const date = new Date(Date.UTC(year, month - 1, day))
      return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
    },
    { message: () => "a calendar date as YYYY-MM-DD" }
  )
)
/** An AWS region code: us-east-1, eu-west-2, ap-southeast-2, us-gov-west-1. */
export const AwsRegion = Schema.String.pipe(
  Schema.pattern(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { message: () => 'an AWS region code such as "us-east-1"' })
)

export const Price = Schema.Struct({
  key: Schema.NonEmptyString,
  description: Schema.String,
  usd: Money.DecimalString,
  per: Money.Period,
  /**
   * What one unit is: a machine, an instance, a GB held over `per`, a GB moved once (`GB-transferred`: `per` is
   * not part of it), a multiplier.
   */
  unit: Schema.Literal("machine", "instance", "GB", "GB-transferred", "ratio"),
  source: SourceUrl,
  asOf: IsoDate,
  note: Schema.optional(Schema.String)
})
export type Price = typeof Price.Type

export const PricingCatalog = Schema.Struct({
  schemaVersion: Schema.Literal(1),
  provider: Schema.NonEmptyString,
  currency: Schema.Literal("USD"),
  /** The AWS region whose prices these are (AWS catalogs; Fly's prices are global with a regional markup). */
  region: Schema.optionalWith(AwsRegion, { exact: true }),
  prices: Schema.NonEmptyArray(Price).pipe(
    Schema.filter((prices) => {
      const first = new Map<string, number>()
      for (const [i, p] of prices.entries()) {
        const seen = first.get(p.key)
        if (seen !== undefined)
          return { path: [i, "key"], message: `"${p.key}" is already the key of prices.${seen}` }
        first.set(p.key, i)
      }
      return true
    })
  )
})
export type PricingCatalog = typeof PricingCatalog.Type

/** One thing wrong with a catalog: where (`prices.0.usd`, `region`) and what. */
export interface Issue {
  readonly path: string
  readonly message: string
}

/** A catalog that cannot be used; the message names every offending field by its path. */
export class InvalidCatalog extends Error {
  override readonly name = "InvalidCatalog"
  constructor(
    /** Where the catalog came from (a file name, an environment variable), for the message. */
    readonly origin: string,
    readonly issues: ReadonlyArray<Issue>
  ) {
    super(`${origin}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`)
  }
}

const decodeEither = Schema.decodeUnknownEither(PricingCatalog, { errors: "all", onExcessProperty: "error" })

/**
 * A catalog from unknown input (parsed JSON), validated: every price needs its `source` URL and `asOf` date, and
 * `usd` is a non-negative decimal string. Throws `InvalidCatalog` naming each bad field's path.
 */
export const parse = (input: unknown, origin = "pricing catalog"): PricingCatalog => {
  const result = decodeEither(input)
  if (result._tag === "Right") return result.right
  throw new InvalidCatalog(
    origin,
    ParseResult.ArrayFormatter.formatErrorSync(result.left).map((i) => ({
      path: i.path.length === 0 ? "(catalog)" : i.path.join("."),
      message: i.message
    }))
  )
}

/** A catalog from JSON text (a file's contents); malformed JSON is an `InvalidCatalog` too. */
export const parseJson = (text: string, origin = "pricing catalog"): PricingCatalog => {
  let input: unknown
  try {
    input = JSON.parse(text)
  } catch (error) {
    throw new InvalidCatalog(origin, [
      { path: "(catalog)", message: `not JSON: ${(error as Error).message}` }
    ])
  }
  return parse(input, origin)
}

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

/** Rates worked out from each catalog, by key: catalogs never change once parsed. */
const derived = new WeakMap<PricingCatalog, Map<string, Money.Rate>>()

/**
 * The rate `derive` works out from `catalog`, computed once per catalog and key: rates are exact decimal
 * arithmetic (BigInt), and policies ask for the same few on every decision.
 */
export const cachedRate = (catalog: PricingCatalog, key: string, derive: () => Money.Rate): Money.Rate => {
  let rates = derived.get(catalog)
  if (rates === undefined) {
    rates = new Map()
    derived.set(catalog, rates)
  }
  let known = rates.get(key)
  if (known === undefined) {
    known = derive()
    rates.set(key, known)
  }
  return known
}

/** The exact rate of the price under `key` (for `ratio` units, the ratio per second is meaningless: use `ratio`). */
export const rate = (catalog: PricingCatalog, key: string): Money.Rate =>
  cachedRate(catalog, `price:${key}`, () => {
    const p = price(catalog, key)
    return Money.rate(p.usd, p.per)
  })

/** A dimensionless multiplier stored as a price with unit `ratio` (Fly's regional markup). */
export const ratio = (catalog: PricingCatalog, key: string, fallback = "1"): string =>
  find(catalog, key)?.usd ?? fallback

/** Fly.io Machines prices (per-second billing of started machines, rootfs, volumes, snapshots, regional markup). */
export const fly: PricingCatalog = parse(flyData, "data/fly-pricing.json")
/** The amount of a price that is not per time (a GB transferred, a ratio), as its exact decimal string. */
export const amount = (catalog: PricingCatalog, key: string): string => price(catalog, key).usd

/** EC2 on-demand, EBS and related AWS prices for the ECS-on-EC2 side in us-east-1. */
export const ec2: PricingCatalog = parse(ec2Data, "data/ec2-pricing.json")

/** The EC2 catalogs the repository ships, by the region whose prices they hold (each with its own sources). */
export const ec2ByRegion: ReadonlyMap<string, PricingCatalog> = new Map(
  [
    ec2,
    parse(ec2EuWest2Data, "data/ec2-pricing-eu-west-2.json"),
    parse(ec2ApNortheast1Data, "data/ec2-pricing-ap-northeast-1.json"),
    parse(ec2ApSoutheast2Data, "data/ec2-pricing-ap-southeast-2.json")
  ].map((c) => [c.region ?? "us-east-1", c])
)
