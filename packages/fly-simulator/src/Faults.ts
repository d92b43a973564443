/**
 * Seeded fault rules: a matching request is answered with an error (429 with retry-after, 5xx, a capacity
 * error) or delayed, with a probability drawn from the simulator's seed. A rule can target a region (an
 * outage) and can expire after a number of hits.
 *
 * A rule's `match` is a regular expression over "METHOD /path" (the path as the router decoded it) in RE2
 * syntax, compiled when the rule is made (a pattern that does not compile is refused, naming `match`) and run by
 * re2js, whose matching is linear in the input: no pattern, `(a+)+$` included, can stall the server. RE2 has no
 * backreferences or lookaround.
 */
import { Schema } from "effect"
import { RE2JS } from "re2js"
import { SeededRandom } from "./model/Random.js"

export const maxPatternLength = 256

/** Compiles a rule's pattern, or answers why it cannot be used. */
export const compilePattern = (pattern: string): RE2JS | string => {
  if (pattern.length > maxPatternLength) return `at most ${maxPatternLength} characters`
  try {
    return RE2JS.compile(pattern)
  } catch (error) {
    return `a regular expression in RE2 syntax over "METHOD /path": ${(error as Error).message}`
  }
}

export const Pattern = Schema.String.pipe(
  Schema.filter(
    (pattern) => {
      const compiled = compilePattern(pattern)
      return typeof compiled === "string" ? compiled : true
    },
    { description: 'a regular expression (RE2) over "METHOD /path"' }
  )
)

/** Whether `text` contains a match of `pattern` (unanchored, as RegExp.test), in time linear in `text`. */
export const matches = (pattern: RE2JS, text: string): boolean => pattern.matcher(text).find()

export const FaultRule = Schema.Struct({
  /** A regular expression over "METHOD /path" (see the module comment). */
  match: Pattern,
  /** A shorthand for Fly's own answers; `status`/`error` given beside it win. */
  kind: Schema.optional(
    Schema.Literal(
      "insufficient-resources",
      "insufficient-memory",
      "rate-limited",
      "server-error",
      "region-outage"
    )
  ),
  status: Schema.optional(Schema.Int.pipe(Schema.between(400, 599))),
  error: Schema.optionalWith(Schema.String, { default: () => "injected fault" }),
  retryAfterSeconds: Schema.optional(Schema.Int.pipe(Schema.positive())),
  latencyMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  region: Schema.optional(Schema.String),
  probability: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 1 }),
  times: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /**
   * A lost answer: the request is carried out, then its successful answer is replaced by this error, as when a
   * connection drops after the server acted. Only successful answers are replaced.
   */
  afterHandler: Schema.optional(Schema.Boolean)
})
export type FaultRule = typeof FaultRule.Type
/** A rule as written: `error` and `probability` may be left to their defaults. */
export type FaultRuleInput = Omit<FaultRule, "error" | "probability"> & {
  readonly error?: string
  readonly probability?: number
}

export const capacityErrors = {
  insufficientResources: { status: 412, error: "insufficient resources available to fulfill request" },
  insufficientMemory: {
    status: 409,
    error: "aborted: could not reserve resource for machine: insufficient memory available to fulfill request"
  }
} as const

/** What each `kind` answers (texts as reported from Fly, reference §6). */
export const kinds = {
  "insufficient-resources": capacityErrors.insufficientResources,
  "insufficient-memory": capacityErrors.insufficientMemory,
  "rate-limited": { status: 429, error: "rate limit exceeded", retryAfterSeconds: 1 },
  "server-error": { status: 500, error: "internal error" },
  "region-outage": { status: 503, error: "region unavailable: no capacity" }
} as const

export class Faults {
  private rules: Array<FaultRule & { hits: number; pattern: RE2JS }> = []
  private readonly random: SeededRandom
  constructor(seed: number) {
    this.random = new SeededRandom(seed ^ 0x5eed)
  }
  /** Adds a rule; throws when its `match` does not compile (see `compilePattern`). */
  add(input: FaultRuleInput): void {
    const pattern = compilePattern(input.match)
    if (typeof pattern === "string")
      throw new Error(`fault rule match ${JSON.stringify(input.match)}: ${pattern}`)
    const rule: FaultRule = {
      ...input,
      error: input.error ?? "injected fault",
      probability: input.probability ?? 1
    }
    const shorthand = rule.kind === undefined ? {} : kinds[rule.kind]
    const explicitError = rule.error === "injected fault" ? {} : { error: rule.error }
    this.rules.push({
      ...rule,
      ...shorthand,
      ...(rule.status === undefined ? {} : { status: rule.status }),
      ...explicitError,
      hits: 0,
      pattern
    })
  }
  list(): ReadonlyArray<FaultRule> {
    return this.rules.map(({ hits: _hits, pattern: _pattern, ...rule }) => rule)
  }
  clear(): void {
    this.rules = []
  }
  /** Whether any rule replaces answers after the handler ran. */
  get hasAfterHandlerRules(): boolean {
    return this.rules.some((rule) => rule.afterHandler === true)
  }
  /** The rule that fires for this request, if any: before the handler, or (`after`) in place of its answer. */
  match(
    method: string,
    path: string,
    region: string | undefined,
    phase: "before" | "after" = "before"
  ): FaultRule | undefined {
    for (const rule of this.rules) {
      if ((rule.afterHandler === true) !== (phase === "after")) continue
      if (rule.times !== undefined && rule.hits >= rule.times) continue
      if (rule.region !== undefined && rule.region !== region) continue
      if (!matches(rule.pattern, `${method} ${path}`)) continue
      if (this.random.next() >= rule.probability) continue
      rule.hits++
      return rule
    }
    return undefined
  }
}
