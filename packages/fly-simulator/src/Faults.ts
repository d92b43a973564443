/**
 * Seeded fault rules: a matching request is answered with an error (429 with retry-after, 5xx, a capacity
 * error) or delayed, with a probability drawn from the simulator's seed. A rule can target a region (an
 * outage) and can expire after a number of hits.
 *
 * A rule's `match` is a glob over "METHOD /path" (the path as the router decoded it): `*` stands for any run of
 * characters, a leading `^` anchors it at the start and a trailing `$` at the end, anything else is literal, and
 * an unanchored pattern matches anywhere. It is checked when the rule is made and matched without backtracking
 * (its literal pieces found left to right), so no pattern can stall the server; regular expressions are refused.
 */
import { Schema } from "effect"
import { SeededRandom } from "./model/Random.js"

/** Characters of regular-expression syntax, refused in a glob so an old regex rule fails loudly. */
const regexSyntax = /[()[\]{}+?|\\]/

export const maxPatternLength = 256

/** Why `pattern` is not a glob this module matches, or undefined when it is one. */
export const patternProblem = (pattern: string): string | undefined => {
  if (pattern.length > maxPatternLength) return `at most ${maxPatternLength} characters`
  const bad = regexSyntax.exec(pattern)?.[0]
  if (bad !== undefined)
    return `a glob over "METHOD /path" (* for any characters, ^ and $ anchors), not a regular expression: ${JSON.stringify(bad)} is not allowed`
  const inner = pattern.replace(/^\^/, "").replace(/\$$/, "")
  if (inner.includes("^") || inner.includes("$")) return "^ only at the start and $ only at the end"
  return undefined
}

export const Pattern = Schema.String.pipe(
  Schema.filter((pattern) => patternProblem(pattern) ?? true, {
    description: 'a glob over "METHOD /path"'
  })
)

/** A compiled glob: its literal pieces and anchors. */
export interface Glob {
  readonly start: boolean
  readonly end: boolean
  readonly pieces: ReadonlyArray<string>
}

export const compile = (pattern: string): Glob => {
  const problem = patternProblem(pattern)
  if (problem !== undefined) throw new Error(`fault rule match ${JSON.stringify(pattern)}: ${problem}`)
  const start = pattern.startsWith("^")
  const end = pattern.length > (start ? 1 : 0) && pattern.endsWith("$")
  const inner = pattern.slice(start ? 1 : 0, end ? pattern.length - 1 : pattern.length)
  return { start, end, pieces: inner.split("*") }
}

/** Whether `text` matches: each literal piece found left to right after the previous one, no backtracking. */
export const matches = (glob: Glob, text: string): boolean => {
  const { pieces } = glob
  const first = pieces[0]!
  const last = pieces[pieces.length - 1]!
  if (pieces.length === 1) {
    if (glob.start && glob.end) return text === first
    if (glob.start) return text.startsWith(first)
    if (glob.end) return text.endsWith(first)
    return text.includes(first)
  }
  let at: number
  if (glob.start) {
    if (!text.startsWith(first)) return false
    at = first.length
  } else {
    const found = text.indexOf(first)
    if (found < 0) return false
    at = found + first.length
  }
  for (let i = 1; i < pieces.length - 1; i++) {
    const found = text.indexOf(pieces[i]!, at)
    if (found < 0) return false
    at = found + pieces[i]!.length
  }
  if (glob.end) return text.length - last.length >= at && text.endsWith(last)
  return text.indexOf(last, at) >= 0
}

export const FaultRule = Schema.Struct({
  /** A glob over "METHOD /path" (see the module comment). */
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
  private rules: Array<FaultRule & { hits: number; glob: Glob }> = []
  private readonly random: SeededRandom
  constructor(seed: number) {
    this.random = new SeededRandom(seed ^ 0x5eed)
  }
  /** Adds a rule; throws when its `match` is not a glob (see `patternProblem`). */
  add(input: FaultRuleInput): void {
    const glob = compile(input.match)
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
      glob
    })
  }
  list(): ReadonlyArray<FaultRule> {
    return this.rules.map(({ hits: _hits, glob: _glob, ...rule }) => rule)
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
      if (!matches(rule.glob, `${method} ${path}`)) continue
      if (this.random.next() >= rule.probability) continue
      rule.hits++
      return rule
    }
    return undefined
  }
}
