/**
 * Money is an integer number of micro-dollars (1 USD = 1,000,000). Prices are exact rationals built from the
 * decimal strings a price list prints ("0.0416" per hour), so rate × time is computed without floating point
 * and rounded once, half up, to a whole micro-dollar.
 */
import { Schema } from "effect"

export const MicroUsd = Schema.Int.pipe(Schema.brand("MicroUsd"))
export type MicroUsd = typeof MicroUsd.Type

export const microUsd = (n: number): MicroUsd => MicroUsd.make(n)
export const zero: MicroUsd = microUsd(0)

export const add = (a: MicroUsd, b: MicroUsd): MicroUsd => microUsd(a + b)
export const subtract = (a: MicroUsd, b: MicroUsd): MicroUsd => microUsd(a - b)
export const sum = (values: Iterable<MicroUsd>): MicroUsd => {
  let total = 0
  for (const v of values) total += v
  return microUsd(total)
}

/** `$1,234.56` style, rounded to cents (for reports; keep MicroUsd for arithmetic). */
export const format = (amount: MicroUsd, fractionDigits = 2): string =>
  `${amount < 0 ? "-" : ""}$${(Math.abs(amount) / 1e6).toLocaleString("en-US", {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits
  })}`

/** The periods prices are quoted per. A Fly "month" is 30 days; an AWS monthly equivalent is 730 hours. */
export const Period = Schema.Literal("second", "minute", "hour", "day", "30-days", "730-hours")
export type Period = typeof Period.Type

const periodMillis: Record<Period, bigint> = {
  second: 1_000n,
  minute: 60_000n,
  hour: 3_600_000n,
  day: 86_400_000n,
  "30-days": 2_592_000_000n,
  "730-hours": 2_628_000_000n
}

export const DecimalString = Schema.String.pipe(
  Schema.pattern(/^\d+(\.\d+)?$/, {
    message: () => 'a non-negative decimal number written as a string, e.g. "0.0416"'
  })
)

/** An exact price: `numerator / denominator` micro-dollars per millisecond. */
export interface Rate {
  readonly numerator: bigint
  readonly denominator: bigint
}

const parseDecimal = (text: string): { readonly value: bigint; readonly scale: bigint } => {
  if (!/^\d+(\.\d+)?$/.test(text))
    throw new RangeError(`expected a decimal string like "0.0416", got "${text}"`)
  const [whole, fraction = ""] = text.split(".")
  return { value: BigInt(`${whole}${fraction}`), scale: 10n ** BigInt(fraction.length) }
}

const gcd = (a: bigint, b: bigint): bigint => {
  while (b !== 0n) [a, b] = [b, a % b]
  return a < 0n ? -a : a
}

const normalise = (numerator: bigint, denominator: bigint): Rate => {
  const d = gcd(numerator, denominator) || 1n
  return { numerator: numerator / d, denominator: denominator / d }
}

/** `rate("0.0416", "hour")`: 0.0416 USD per hour. */
export const rate = (usd: string, per: Period): Rate => {
  const { value, scale } = parseDecimal(usd)
  return normalise(value * 1_000_000n, scale * periodMillis[per])
}

export const zeroRate: Rate = { numerator: 0n, denominator: 1n }

/** Multiplies a rate by an exact decimal factor (a GB count, a regional markup "1.2"). */
export const scale = (r: Rate, factor: string | number): Rate => {
  const { value, scale: s } = parseDecimal(typeof factor === "number" ? String(factor) : factor)
  return normalise(r.numerator * value, r.denominator * s)
}

export const addRates = (a: Rate, b: Rate): Rate =>
  normalise(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)

/** Exact cost in micro-dollars of `millis` milliseconds at `r` (before rounding), as a rational. */
const exact = (r: Rate, millis: bigint): { readonly n: bigint; readonly d: bigint } => ({
  n: r.numerator * millis,
  d: r.denominator
})

const roundHalfUp = (n: bigint, d: bigint): bigint => (2n * n + d) / (2n * d)

/** Cost of `millis` whole milliseconds at `r`, rounded half up to a whole micro-dollar. */
export const cost = (r: Rate, millis: number): MicroUsd => {
  if (!Number.isSafeInteger(millis) || millis < 0) {
    throw new RangeError(`expected a non-negative whole number of milliseconds, got ${millis}`)
  }
  const { n, d } = exact(r, BigInt(millis))
  const rounded = roundHalfUp(n, d)
  if (rounded > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError(`a cost of ${rounded} micro-dollars is too large`)
  return microUsd(Number(rounded))
}

/**
 * Per-second billing of one interval of `millis` milliseconds: the interval is rounded up to whole seconds, with an
 * optional minimum (EC2 Linux bills at least 60 s per launch). Simulators and providers both bill with this, so a
 * provider's cost and a simulator's bill agree exactly.
 */
export const billPerSecond = (r: Rate, millis: number, minimumSeconds = 0): MicroUsd =>
  costSeconds(r, Math.max(minimumSeconds, Math.ceil(millis / 1000)))

/** Cost of whole seconds (per-second billing). */
export const costSeconds = (r: Rate, seconds: number): MicroUsd => cost(r, seconds * 1000)

/** The rate expressed in micro-dollars per second, as a float: for display and for estimates only. */
export const microUsdPerSecond = (r: Rate): number =>
  Number((r.numerator * 1000n * 1_000_000n) / r.denominator) / 1e6

/** Compares two rates exactly. */
export const compareRates = (a: Rate, b: Rate): -1 | 0 | 1 => {
  const left = a.numerator * b.denominator
  const right = b.numerator * a.denominator
  return left < right ? -1 : left > right ? 1 : 0
}
