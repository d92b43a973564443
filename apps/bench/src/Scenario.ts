/**
 * A workload, as data (YAML or JSON): how tasks arrive, how long they run, which repositories and regions they
 * belong to, and how each side is run (the ECS cluster a team would keep; the idle policy on Fly). Every field
 * is validated; a bad file fails with the path of the offending field and what was expected.
 */
import { readFileSync } from "node:fs"
import { ComputeError } from "@hangar/core"
import { Effect, ParseResult, Schema } from "effect"
import { parse as parseYaml } from "yaml"

const PositiveNumber = Schema.Number.pipe(Schema.positive(), Schema.finite())
const NonNegativeNumber = Schema.Number.pipe(Schema.nonNegative(), Schema.finite())
const Fraction = Schema.Number.pipe(Schema.between(0, 1))

export const Arrival = Schema.Union(
  Schema.Struct({
    kind: Schema.Literal("poisson"),
    perDay: PositiveNumber
  }),
  Schema.Struct({
    kind: Schema.Literal("diurnal"),
    perDay: PositiveNumber,
    /** Relative swing of the hourly rate around its mean (0.33 gives a 2:1 peak-to-trough day). */
    amplitude: Fraction,
    peakHourUtc: Schema.Number.pipe(Schema.between(0, 23))
  }),
  Schema.Struct({
    kind: Schema.Literal("bursty"),
    burstsPerWeek: PositiveNumber,
    tasksPerBurst: PositiveNumber,
    burstMinutes: PositiveNumber
  }),
  Schema.Struct({
    kind: Schema.Literal("periodic"),
    everyMinutes: PositiveNumber,
    jitterSeconds: NonNegativeNumber
  }),
  /** One task after another, all month: the always-on repository. */
  Schema.Struct({
    kind: Schema.Literal("continuous"),
    gapSeconds: NonNegativeNumber
  })
)
export type Arrival = typeof Arrival.Type

export const Duration = Schema.Union(
  Schema.Struct({
    kind: Schema.Literal("fixed"),
    seconds: PositiveNumber
  }),
  Schema.Struct({
    kind: Schema.Literal("lognormal"),
    medianSeconds: PositiveNumber,
    sigma: PositiveNumber,
    maxSeconds: PositiveNumber
  })
)
export type Duration = typeof Duration.Type

export const Size = Schema.Literal("dev", "standard", "performance", "high-perf")

export const Scenario = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  /** Which configuration of the scenario this is ("tuned", "seed's config"), shown beside its name. */
  label: Schema.optional(Schema.String),
  description: Schema.String,
  /** What the seed's table claims for this workload, when it is one of the seed's. */
  seedClaim: Schema.optional(
    Schema.Struct({
      ecsUsdPerMonth: PositiveNumber,
      flyUsdPerMonth: PositiveNumber,
      savingsPercent: Schema.Number
    })
  ),
  seed: Schema.Int,
  days: PositiveNumber,
  repositories: Schema.Int.pipe(Schema.positive()),
  regions: Schema.NonEmptyArray(Schema.String.pipe(Schema.pattern(/^[a-z]{3}$/))),
  size: Size,
  arrival: Arrival,
  duration: Duration,
  gpuShare: Schema.optionalWith(Fraction, { default: () => 0 }),
  /**
   * The start-latency target both sides are configured to meet: the 95th percentile of task start latency, in
   * seconds (an interactive session: 10 s; a batch that can wait: minutes).
   */
  startLatencyP95Seconds: PositiveNumber,
  /**
   * GB of data a repository's workspace holds: what EFS bills on ECS (bytes stored), while Fly bills the volume
   * provisioned to hold it (`fly.volumeGb`).
   */
  workspaceDataGb: Schema.optionalWith(PositiveNumber, { default: () => 5 }),
  /**
   * Data sent to the internet per minute of a task, MB (the agent's model API requests carry its context; git
   * pushes; downloads are inbound and free on both sides): the data-transfer assumption both sides are billed at.
   */
  egressMbPerTaskMinute: Schema.optionalWith(NonNegativeNumber, { default: () => 5 }),
  ecs: Schema.Struct({
    instanceType: Schema.String,
    /** The Auto Scaling group minimum a team keeps warm in each region. */
    minInstances: Schema.Int.pipe(Schema.nonNegative()),
    maxInstances: Schema.Int.pipe(Schema.positive()),
    /** Managed scaling's targetCapacity, percent (100: no idle headroom; lower keeps spare instances warm). */
    targetCapacity: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 100 }),
    rationale: Schema.String
  }),
  fly: Schema.Struct({
    idleTimeoutMinutes: NonNegativeNumber,
    sleepsBy: Schema.Literal("suspend", "stop"),
    volumeGb: Schema.Int.pipe(Schema.positive())
  })
})
export type Scenario = typeof Scenario.Type

const decode = Schema.decodeUnknown(Scenario, { errors: "all", onExcessProperty: "error" })

/** Parses and validates a scenario document; `source` names it in errors. */
export const parse = (text: string, source: string) =>
  Effect.gen(function* () {
    const data = yield* Effect.try({
      try: () => (source.endsWith(".json") ? JSON.parse(text) : parseYaml(text)),
      catch: (e) =>
        new ComputeError.InvalidRequest({
          module: "Scenario",
          method: "parse",
          field: source,
          expected: "a YAML or JSON document",
          actual: e instanceof Error ? e.message.split("\n")[0] : String(e)
        })
    })
    return yield* decode(data).pipe(
      Effect.mapError((error) => {
        const first = ParseResult.ArrayFormatter.formatErrorSync(error)
        const issue = first[0]
        return new ComputeError.InvalidRequest({
          module: "Scenario",
          method: "parse",
          field: `${source}: ${issue === undefined || issue.path.length === 0 ? "(document)" : issue.path.join(".")}`,
          expected: first.map((i) => `${i.path.join(".") || "(document)"}: ${i.message}`).join("; ")
        })
      })
    )
  })

export const load = (path: string) =>
  Effect.flatMap(
    Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (e) =>
        new ComputeError.InvalidRequest({
          module: "Scenario",
          method: "load",
          field: "file",
          expected: "a readable scenario file",
          actual: `${path}: ${e instanceof Error ? e.message : String(e)}`
        })
    }),
    (text) => parse(text, path)
  )

/**
 * How long one task's command may run, on both providers alike: the scenario's longest task plus 10 minutes.
 * Without it each provider applies its own default (provider-fly's detached jobs stop at an hour), which would
 * kill the long tail of a lognormal workload on one side only.
 */
export const execLimitSeconds = (scenario: Scenario): number =>
  (scenario.duration.kind === "fixed" ? scenario.duration.seconds : scenario.duration.maxSeconds) + 600

/** The scenario's name as reports show it: with its label, if any (the trace uses the name alone). */
export const displayName = (scenario: Scenario): string =>
  scenario.label === undefined ? scenario.name : `${scenario.name} (${scenario.label})`
