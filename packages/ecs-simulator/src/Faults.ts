/**
 * Seeded fault rules, as `/_sim/faults` and `sim.faults`:
 *
 * - `throttle`: the operation answers 400 ThrottlingException (the SDK retries it);
 * - `error`: any `__type` and status (500 ServerException, 503 ServiceUnavailableException…);
 * - `latency`: the answer is delayed by `latencyMs` of simulated time;
 * - `capacity`: EC2 launches fail with InsufficientInstanceCapacity (optionally of one instance type or zone);
 * - `az-outage`: an Availability Zone is down while the rule exists: its instances are lost at once (their tasks
 *   stop with TerminationNotice) and no instance launches there.
 *
 * A rule fires with `probability` (drawn from the simulator's seed) and at most `times` times.
 */
import { ParseResult, Schema } from "effect"
import type { CapacityFaults } from "./model/EcsModel.js"
import { SeededRandom } from "./model/Random.js"

export const FaultRule = Schema.Struct({
  kind: Schema.optionalWith(Schema.Literal("error", "throttle", "latency", "capacity", "az-outage"), {
    default: () => "error" as const
  }),
  /** An ECS operation name (`RunTask`) or `*`; for error, throttle and latency rules. */
  operation: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^(\*|[A-Za-z]{1,64})$/)), {
    default: () => "*"
  }),
  type: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z]{1,64}$/)), {
    default: () => "ThrottlingException"
  }),
  status: Schema.optionalWith(Schema.Int.pipe(Schema.between(400, 599)), { default: () => 400 }),
  message: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(1024)), {
    default: () => "Rate exceeded"
  }),
  latencyMs: Schema.optional(Schema.Int.pipe(Schema.between(0, 3_600_000))),
  instanceType: Schema.optional(Schema.String),
  zone: Schema.optional(Schema.String.pipe(Schema.pattern(/^[a-z]{2}-[a-z]+-\d[a-z]$/))),
  probability: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 1 }),
  times: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
export type FaultRule = typeof FaultRule.Type
export type FaultRuleInput = typeof FaultRule.Encoded

const decodeRule = Schema.decodeUnknownEither(FaultRule, { errors: "all", onExcessProperty: "error" })

export class InvalidFaultRule extends Error {
  override readonly name = "InvalidFaultRule"
}

/** Decodes a rule, or throws `InvalidFaultRule` naming each bad field. */
export const decode = (input: unknown): FaultRule => {
  const result = decodeRule(input)
  if (result._tag === "Right") {
    const rule = result.right
    if (rule.kind === "az-outage" && rule.zone === undefined)
      throw new InvalidFaultRule("zone: an az-outage rule needs a zone such as us-east-1a")
    if (rule.kind === "latency" && rule.latencyMs === undefined)
      throw new InvalidFaultRule("latencyMs: a latency rule needs latencyMs (0-3600000)")
    return rule
  }
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left)
  throw new InvalidFaultRule(issues.map((i) => `${i.path.join(".") || "(rule)"}: ${i.message}`).join("; "))
}

export class Faults implements CapacityFaults {
  private rules: Array<FaultRule & { hits: number }> = []
  private random: SeededRandom
  /** Called when an az-outage rule is added (the model loses the zone's instances). */
  onOutage: (zone: string) => void = () => undefined

  constructor(seed: number) {
    this.random = new SeededRandom(seed ^ 0x5eed)
  }

  add(input: FaultRuleInput | FaultRule): FaultRule {
    const rule = decode(input)
    this.rules.push({ ...rule, hits: 0 })
    if (rule.kind === "az-outage" && rule.zone !== undefined) this.onOutage(rule.zone)
    return rule
  }
  list(): ReadonlyArray<FaultRule & { readonly hits: number }> {
    return this.rules.map((rule) => ({ ...rule }))
  }
  clear(): void {
    this.rules = []
  }
  reset(seed: number): void {
    this.rules = []
    this.random = new SeededRandom(seed ^ 0x5eed)
  }

  private fire(rule: FaultRule & { hits: number }): boolean {
    if (rule.times !== undefined && rule.hits >= rule.times) return false
    if (rule.probability < 1 && this.random.next() >= rule.probability) return false
    rule.hits++
    return true
  }

  /** The error or throttle rule that answers this request, if any. */
  request(operation: string): FaultRule | undefined {
    for (const rule of this.rules)
      if (
        (rule.kind === "error" || rule.kind === "throttle") &&
        (rule.operation === "*" || rule.operation === operation)
      )
        if (this.fire(rule)) return rule
    return undefined
  }

  /** Simulated delay for this request (the sum of the latency rules that fire). */
  latency(operation: string): number {
    let total = 0
    for (const rule of this.rules)
      if (
        rule.kind === "latency" &&
        (rule.operation === "*" || rule.operation === operation) &&
        this.fire(rule)
      )
        total += rule.latencyMs ?? 0
    return total
  }

  zoneDown(zone: string): boolean {
    return this.rules.some((r) => r.kind === "az-outage" && r.zone === zone)
  }

  launchFails(instanceType: string, zone: string): boolean {
    for (const rule of this.rules)
      if (
        rule.kind === "capacity" &&
        (rule.instanceType === undefined || rule.instanceType === instanceType) &&
        (rule.zone === undefined || rule.zone === zone) &&
        this.fire(rule)
      )
        return true
    return false
  }
}

/** What a throttle or error rule answers. */
export const response = (rule: FaultRule): { status: number; type: string; message: string } =>
  rule.kind === "throttle"
    ? { status: 400, type: "ThrottlingException", message: "Rate exceeded" }
    : { status: rule.status, type: rule.type, message: rule.message }
