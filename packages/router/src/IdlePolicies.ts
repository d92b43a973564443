/**
 * Idle policies: when an idle machine that can sleep should stop or suspend (ski rental, see
 * ../shared/reference/routing-and-cost.md §1, §2, §8). Each is a Layer providing core's `IdlePolicy`.
 */
import { IdlePolicy, SeededRandom } from "@hangar/core"
import { Effect, Layer } from "effect"

const minute = 60_000

const sleepAction = (input: IdlePolicy.IdleInput): "suspend" | "stop" =>
  input.canSuspend ? "suspend" : "stop"

/** The decision of a break-even policy when the sleeping price is no lower than the running one. */
const keepWhenSleepSavesNothing = (policy: string): IdlePolicy.IdleDecision =>
  new IdlePolicy.IdleDecision({ action: "keep", afterMillis: 0, policy, reason: "sleeping saves nothing" })

/**
 * Break-even idle time B = W / (r − s) in milliseconds, where W is the wake cost plus the value of the wait
 * (`waitMicroUsdPerSecond` × the input's `wakeSeconds`). Infinite when sleeping saves nothing.
 */
export const breakEvenMillis = (input: IdlePolicy.IdleInput, waitMicroUsdPerSecond = 0): number => {
  const saving = input.runningMicroUsdPerSecond - input.sleepingMicroUsdPerSecond
  if (saving <= 0) return Number.POSITIVE_INFINITY
  const wakeCost = input.wakeCostMicroUsd + waitMicroUsdPerSecond * input.wakeSeconds
  return (wakeCost / saving) * 1000
}

const make = (service: IdlePolicy.Service) => Layer.succeed(IdlePolicy.IdlePolicy, service)

export interface FixedTimeoutOptions {
  /** How to sleep: `suspend` where the provider can (the default, else stop), or `stop` always. */
  readonly sleep?: "suspend" | "stop"
}

/**
 * P1: sleep after a fixed idle time (the industry defaults: 5, 10, 15 minutes). Its decisions depend only on
 * whether the machine can suspend, so both are made once.
 */
export const fixedTimeout = (minutes: number, options: FixedTimeoutOptions = {}) => {
  const name = options.sleep === "stop" ? `fixed-${minutes}m-stop` : `fixed-${minutes}m`
  const decide = (action: "suspend" | "stop") =>
    new IdlePolicy.IdleDecision({
      action,
      afterMillis: minutes * minute,
      policy: name,
      reason: `idle for ${minutes} min`
    })
  const stop = Effect.succeed(decide("stop"))
  const suspend = options.sleep === "stop" ? stop : Effect.succeed(decide("suspend"))
  return make({
    name,
    onArrival: () => Effect.void,
    onIdle: (input) => (input.canSuspend ? suspend : stop)
  })
}

export interface BreakEvenOptions {
  /** What a second of user-visible wait is worth, in micro-dollars (λ); the wait is the input's `wakeSeconds`. */
  readonly waitMicroUsdPerSecond: number
}

/** P2, deterministic: sleep after B = W/(r − s); at most 2× the per-gap optimum on every gap. */
export const breakEven = (options: Partial<BreakEvenOptions> = {}) => {
  const { waitMicroUsdPerSecond } = { waitMicroUsdPerSecond: 0, ...options }
  return make({
    name: "break-even",
    onArrival: () => Effect.void,
    onIdle: (input) =>
      Effect.sync(() => {
        const b = breakEvenMillis(input, waitMicroUsdPerSecond)
        return Number.isFinite(b)
          ? new IdlePolicy.IdleDecision({
              action: sleepAction(input),
              afterMillis: Math.round(b),
              policy: "break-even",
              reason: `break-even B = W/(r−s) = ${(b / 1000).toFixed(1)} s`
            })
          : keepWhenSleepSavesNothing("break-even")
      })
  })
}

/**
 * P2, randomized: the sleep time is drawn from the density e^{t/B}/(B(e−1)) on [0, B] (inverse CDF
 * t = B·ln(1 + u(e−1))); e/(e−1) ≈ 1.58× the optimum in expectation. Seeded.
 */
export const randomizedBreakEven = (options: Partial<BreakEvenOptions> & { readonly seed?: number } = {}) =>
  Layer.sync(IdlePolicy.IdlePolicy, () => {
    const random = SeededRandom.make(options.seed ?? 1)
    const lambda = options.waitMicroUsdPerSecond ?? 0
    return {
      name: "break-even-randomized",
      onArrival: () => Effect.void,
      onIdle: (input) =>
        Effect.sync(() => {
          const b = breakEvenMillis(input, lambda)
          if (!Number.isFinite(b)) {
            return keepWhenSleepSavesNothing("break-even-randomized")
          }
          const t = b * Math.log(1 + random.next() * (Math.E - 1))
          return new IdlePolicy.IdleDecision({
            action: sleepAction(input),
            afterMillis: Math.round(t),
            policy: "break-even-randomized",
            reason: `drawn ${(t / 1000).toFixed(1)} s from e^(t/B) on [0, B = ${(b / 1000).toFixed(1)} s]`
          })
        })
    }
  })

export interface HistogramOptions {
  readonly binMillis: number
  readonly rangeMillis: number
  readonly headPercentile: number
  readonly tailPercentile: number
  readonly margin: number
  /** Below this many observed gaps, or with a coefficient of variation above `cvThreshold`, fall back. */
  readonly minSamples: number
  readonly cvThreshold: number
  /** Share of out-of-range gaps above which the histogram is not trusted. */
  readonly oobThreshold: number
  /** Wake ahead of the predicted arrival by this much (Azure pre-warms 90 s early). */
  readonly wakeLeadMillis: number
}

const defaultHistogram: HistogramOptions = {
  binMillis: minute,
  rangeMillis: 4 * 60 * minute,
  headPercentile: 0.05,
  tailPercentile: 0.99,
  margin: 0.1,
  minSamples: 10,
  cvThreshold: 2,
  oobThreshold: 0.5,
  wakeLeadMillis: 90_000
}

/** Per-repository idle-gap histogram of 1-minute bins over a 4-hour range (Serverless in the Wild). */
export class GapHistogram {
  readonly bins: Array<number>
  outOfRange = 0
  count = 0
  sum = 0
  sumSquares = 0
  constructor(readonly options: HistogramOptions) {
    this.bins = Array.from({ length: Math.ceil(options.rangeMillis / options.binMillis) }, () => 0)
  }
  add(gapMillis: number): void {
    this.count++
    this.sum += gapMillis
    this.sumSquares += gapMillis * gapMillis
    const bin = Math.floor(gapMillis / this.options.binMillis)
    if (bin >= this.bins.length) this.outOfRange++
    else this.bins[bin] = (this.bins[bin] ?? 0) + 1
  }
  /** Upper edge of the bin holding the p-th percentile of in-range gaps. */
  percentile(p: number): number {
    const inRange = this.count - this.outOfRange
    const target = Math.max(1, Math.ceil(p * inRange))
    let seen = 0
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i] ?? 0
      if (seen >= target) return (i + 1) * this.options.binMillis
    }
    return this.options.rangeMillis
  }
  coefficientOfVariation(): number {
    if (this.count < 2) return Number.POSITIVE_INFINITY
    const mean = this.sum / this.count
    const variance = Math.max(0, this.sumSquares / this.count - mean * mean)
    return mean === 0 ? 0 : Math.sqrt(variance) / mean
  }
}

/**
 * P3, hybrid histogram with pre-warm: sleep right after a task when the head of the gap distribution is far
 * enough out to pre-warm, wake at the 5th percentile less the margin and the wake lead, keep warm to the 99th
 * percentile plus the margin; fall back to keeping warm for the whole range when the pattern is uncertain.
 */
export const histogram = (options: Partial<HistogramOptions> = {}) =>
  Layer.sync(IdlePolicy.IdlePolicy, () => {
    const settings = { ...defaultHistogram, ...options }
    const histograms = new Map<string, GapHistogram>()
    const histogramFor = (repository: string) => {
      let h = histograms.get(repository)
      if (h === undefined) {
        h = new GapHistogram(settings)
        histograms.set(repository, h)
      }
      return h
    }
    return {
      name: "histogram",
      onArrival: (arrival) => Effect.sync(() => histogramFor(arrival.repository).add(arrival.idleGapMillis)),
      onIdle: (input) =>
        Effect.sync(() => {
          const h = histogramFor(input.repository)
          const uncertain =
            h.count < settings.minSamples ||
            h.coefficientOfVariation() > settings.cvThreshold ||
            h.outOfRange / Math.max(1, h.count) > settings.oobThreshold
          if (uncertain) {
            return new IdlePolicy.IdleDecision({
              action: sleepAction(input),
              afterMillis: settings.rangeMillis,
              policy: "histogram",
              reason: `pattern uncertain (${h.count} gaps); keep warm for the ${settings.rangeMillis / minute} min range`
            })
          }
          const head = h.percentile(settings.headPercentile) * (1 - settings.margin)
          const tail = h.percentile(settings.tailPercentile) * (1 + settings.margin)
          const prewarm = head - settings.wakeLeadMillis
          if (prewarm > 0) {
            return new IdlePolicy.IdleDecision({
              action: sleepAction(input),
              afterMillis: 0,
              prewarmAfterMillis: Math.round(prewarm),
              prewarmKeepAliveMillis: Math.round(Math.max(0, tail - prewarm)),
              policy: "histogram",
              reason: `sleep now, pre-warm at ${(prewarm / minute).toFixed(1)} min (p5), keep to ${(tail / minute).toFixed(1)} min (p99)`
            })
          }
          return new IdlePolicy.IdleDecision({
            action: sleepAction(input),
            afterMillis: Math.round(tail),
            policy: "histogram",
            reason: `keep warm to the p99 gap + 10% = ${(tail / minute).toFixed(1)} min`
          })
        })
    }
  })

export interface LearningAugmentedOptions extends BreakEvenOptions {
  /** Trust in the prediction, λ ∈ (0, 1]: small trusts more. */
  readonly trust: number
  /** Weight of the newest gap in the exponentially weighted moving average that predicts the next gap. */
  readonly smoothing: number
}

/**
 * P4 (Purohit, Svitkina, Kumar 2018): predict the next gap ŷ with an EWMA per repository; if ŷ ≥ B sleep at λB,
 * else at B/λ. (1 + λ)-consistent and (1 + 1/λ)-robust.
 */
export const learningAugmented = (options: Partial<LearningAugmentedOptions> = {}) =>
  Layer.sync(IdlePolicy.IdlePolicy, () => {
    const settings = {
      waitMicroUsdPerSecond: 0,
      trust: 0.5,
      smoothing: 0.3,
      ...options
    }
    const predictions = new Map<string, number>()
    return {
      name: `learning-augmented-${settings.trust}`,
      onArrival: (arrival) =>
        Effect.sync(() => {
          const previous = predictions.get(arrival.repository)
          predictions.set(
            arrival.repository,
            previous === undefined
              ? arrival.idleGapMillis
              : settings.smoothing * arrival.idleGapMillis + (1 - settings.smoothing) * previous
          )
        }),
      onIdle: (input) =>
        Effect.sync(() => {
          const b = breakEvenMillis(input, settings.waitMicroUsdPerSecond)
          const predicted = predictions.get(input.repository)
          if (!Number.isFinite(b)) {
            return keepWhenSleepSavesNothing("learning-augmented")
          }
          const longGap = predicted === undefined || predicted >= b
          const after = longGap ? settings.trust * b : b / settings.trust
          return new IdlePolicy.IdleDecision({
            action: sleepAction(input),
            afterMillis: Math.round(after),
            policy: "learning-augmented",
            reason: `predicted gap ${predicted === undefined ? "unknown" : `${(predicted / 1000).toFixed(0)} s`} ${longGap ? "≥" : "<"} B = ${(b / 1000).toFixed(1)} s: sleep at ${(after / 1000).toFixed(1)} s`
          })
        })
    }
  })

export interface ExpectedCostOptions extends BreakEvenOptions {
  /** How many of a repository's latest idle gaps make its distribution. */
  readonly window: number
  /** Below this many gaps, break-even. */
  readonly minSamples: number
  /** The sleep time never exceeds this multiple of B, which bounds the worst case at (1 + robustness)× a gap's optimum. */
  readonly robustness: number
}

/** Expected cost per gap of sleeping after `t` ms, over observed gaps, for running r, sleeping s, wake cost w (µ$). */
export const expectedGapCost = (
  gapsMillis: ReadonlyArray<number>,
  t: number,
  prices: { readonly running: number; readonly sleeping: number; readonly wake: number }
): number => {
  let total = 0
  for (const g of gapsMillis)
    total +=
      g <= t
        ? (prices.running * g) / 1000
        : (prices.running * t + prices.sleeping * (g - t)) / 1000 + prices.wake
  return gapsMillis.length === 0 ? 0 : total / gapsMillis.length
}

/**
 * P5, the predictor-driven policy: per repository, the empirical distribution of its latest idle gaps; sleep at
 * the T minimising the expected cost of a gap over it (keep warm for gaps up to T, then sleep and pay the wake
 * plus the wait weighed at λ), the optimal online rule for a known gap distribution (Augustine, Irani and Swamy;
 * reference routing-and-cost.md §1.2). The candidates are 0, B and every observed gap (the expected cost is
 * linear between them), capped at `robustness` × B. Falls back to break-even until it has seen `minSamples` gaps.
 */
export const expectedCost = (options: Partial<ExpectedCostOptions> = {}) =>
  Layer.sync(IdlePolicy.IdlePolicy, () => {
    const settings = { waitMicroUsdPerSecond: 0, window: 50, minSamples: 5, robustness: 2, ...options }
    const gaps = new Map<string, Array<number>>()
    return {
      name: "expected-cost",
      onArrival: (arrival) =>
        Effect.sync(() => {
          const list = gaps.get(arrival.repository) ?? []
          list.push(arrival.idleGapMillis)
          if (list.length > settings.window) list.shift()
          gaps.set(arrival.repository, list)
        }),
      onIdle: (input) =>
        Effect.sync(() => {
          const b = breakEvenMillis(input, settings.waitMicroUsdPerSecond)
          if (!Number.isFinite(b)) return keepWhenSleepSavesNothing("expected-cost")
          const seen = gaps.get(input.repository) ?? []
          if (seen.length < settings.minSamples)
            return new IdlePolicy.IdleDecision({
              action: sleepAction(input),
              afterMillis: Math.round(b),
              policy: "expected-cost",
              reason: `${seen.length} gaps seen: break-even B = ${(b / 1000).toFixed(1)} s`
            })
          const prices = {
            running: input.runningMicroUsdPerSecond,
            sleeping: input.sleepingMicroUsdPerSecond,
            wake: input.wakeCostMicroUsd + settings.waitMicroUsdPerSecond * input.wakeSeconds
          }
          const cap = settings.robustness * b
          let best = 0
          let bestCost = expectedGapCost(seen, 0, prices)
          // ascending, so that of equally good times the earliest wins; a time seen again costs the same (the
          // gaps past the cap all become the cap), so it is priced once
          let previous = Number.NaN
          for (const candidate of [b, ...seen].map((t) => Math.min(t, cap)).sort((x, y) => x - y)) {
            if (candidate === previous) continue
            previous = candidate
            const cost = expectedGapCost(seen, candidate, prices)
            if (cost < bestCost) {
              best = candidate
              bestCost = cost
            }
          }
          return new IdlePolicy.IdleDecision({
            action: sleepAction(input),
            afterMillis: Math.round(best),
            policy: "expected-cost",
            reason: `sleep at ${(best / 1000).toFixed(1)} s: expected ${bestCost.toFixed(0)} µ$ a gap over the last ${seen.length} gaps (B = ${(b / 1000).toFixed(1)} s)`
          })
        })
    }
  })

/** Leave idle machines to the provider's own autostop (Fly Proxy). */
export const platform = make({
  name: "platform",
  onArrival: () => Effect.void,
  onIdle: () =>
    Effect.succeed(
      new IdlePolicy.IdleDecision({
        action: "platform",
        afterMillis: 0,
        policy: "platform",
        reason: "left to the platform's autostop"
      })
    )
})
