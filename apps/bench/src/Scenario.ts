/**
 * A workload, as data (YAML or JSON): how tasks arrive, how long they run, which repositories and regions they
 * belong to, and how each side is run (the ECS cluster a team would keep; the idle policy on Fly). Every field
 * is validated, then every rule across fields, before anything runs; a bad file fails with each offending field's
 * line, column and path, what was expected and what was found (InputIssues).
 */
import { readFileSync } from "node:fs"
import { Pricing, PricingCatalog } from "@hangar/core"
import { EcsModel } from "@hangar/ecs-simulator/model"
import { FlyModel } from "@hangar/fly-simulator/model"
import { Effect, Either, Schema } from "effect"
import * as InputIssues from "./InputIssues.js"

const PositiveNumber = Schema.Number.pipe(
  Schema.positive({ description: "a positive number" }),
  Schema.finite({ description: "a positive number" })
)
const NonNegativeNumber = Schema.Number.pipe(
  Schema.nonNegative({ description: "a number of 0 or more" }),
  Schema.finite({ description: "a number of 0 or more" })
)
const Fraction = Schema.Number.pipe(Schema.between(0, 1, { description: "a number from 0 to 1" }))
const PositiveInt = Schema.Int.pipe(Schema.positive({ description: "a whole number of 1 or more" }))
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative({ description: "a whole number of 0 or more" }))
const Text = Schema.String.annotations({ description: "a string" })

/** A string from a closed list: the error lists the values, the JSON Schema has them as an `enum`. */
const oneOf = (values: ReadonlyArray<string>, what: string) =>
  Schema.String.pipe(
    Schema.filter((value) => values.includes(value), {
      description: `${what}, one of ${values.join(", ")}`,
      jsonSchema: { enum: [...values] }
    })
  )

/**
 * The regions a scenario may name: the Fly simulator's (Fly's own codes; each ECS cluster is simulated in its
 * region's place and billed at the EC2 catalog's prices).
 */
export const knownRegions: ReadonlyArray<string> = FlyModel.defaultRegions

/** The EC2 instance types the bench can bill: a known shape and a price in the EC2 catalog. */
export const pricedInstanceTypes: ReadonlyArray<string> = Pricing.ec2PricedTypes(PricingCatalog.ec2).filter(
  (type) => Pricing.ec2InstanceTypes[type] !== undefined
)

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

/** The most instances an Auto Scaling group may have in the simulator. */
export const maxGroupSize = 1000

export const Scenario = Schema.Struct({
  name: Schema.String.pipe(
    Schema.pattern(/^\S(.*\S)?$/, { description: "a non-empty string without leading or trailing spaces" })
  ),
  description: Text,
  /** What the seed's table claims for this workload, when it is one of the seed's. */
  seedClaim: Schema.optional(
    Schema.Struct({
      ecsUsdPerMonth: PositiveNumber,
      flyUsdPerMonth: PositiveNumber,
      savingsPercent: Schema.Number.annotations({ description: "a number" })
    })
  ),
  seed: Schema.Int.annotations({ description: "an integer" }),
  days: PositiveNumber,
  repositories: PositiveInt,
  regions: Schema.NonEmptyArray(oneOf(knownRegions, "a region")),
  size: Size,
  arrival: Arrival,
  duration: Duration,
  gpuShare: Schema.optionalWith(Fraction, { default: () => 0 }),
  /**
   * The start-latency target both sides are configured to meet: the 95th percentile of task start latency, in
   * seconds (an interactive session: 10 s, the default; a batch that can wait: minutes).
   */
  startLatencyP95Seconds: Schema.optionalWith(PositiveNumber, { default: () => 10 }),
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
    instanceType: oneOf(pricedInstanceTypes, "an EC2 instance type the price catalog has"),
    /** The Auto Scaling group minimum a team keeps warm in each region. */
    minInstances: NonNegativeInt,
    maxInstances: PositiveInt.pipe(
      Schema.lessThanOrEqualTo(maxGroupSize, { description: `a whole number from 1 to ${maxGroupSize}` })
    ),
    /** Managed scaling's targetCapacity, percent (100: no idle headroom; lower keeps spare instances warm). */
    targetCapacity: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 100 }),
    rationale: Text
  }),
  fly: Schema.Struct({
    idleTimeoutMinutes: NonNegativeNumber,
    sleepsBy: Schema.Literal("suspend", "stop"),
    volumeGb: PositiveInt
  })
})
/**
 * A scenario as parsed, and as the bench runs it: `label` says which configuration of the scenario this is
 * ("tuned", "seed's config"), shown beside its name; the bench sets it, a workload file does not.
 */
export type Scenario = typeof Scenario.Type & { readonly label?: string }

const decode = Schema.decodeUnknownEither(Scenario, { errors: "all", onExcessProperty: "error" })

// ---- rules across fields, checked once every field is valid on its own

const suspendLimitMb = FlyModel.suspendMemoryLimitMb

/** What the scenario asks that its fields allow one by one but not together. */
export const rules = (scenario: Scenario): ReadonlyArray<InputIssues.Issue> => {
  const issues: Array<InputIssues.Issue> = []
  const { ecs, fly, size } = scenario
  if (ecs.minInstances > ecs.maxInstances)
    issues.push({
      path: ["ecs", "minInstances"],
      expected: `at most ecs.maxInstances (${ecs.maxInstances})`,
      found: String(ecs.minInstances)
    })
  const seen = new Set<string>()
  for (const [i, region] of scenario.regions.entries()) {
    if (seen.has(region))
      issues.push({ path: ["regions", i], expected: "each region once", found: `"${region}" again` })
    seen.add(region)
  }
  if (
    scenario.duration.kind === "lognormal" &&
    scenario.duration.maxSeconds < scenario.duration.medianSeconds
  )
    issues.push({
      path: ["duration", "maxSeconds"],
      expected: `at least duration.medianSeconds (${scenario.duration.medianSeconds})`,
      found: String(scenario.duration.maxSeconds)
    })
  const shape = Pricing.ec2InstanceTypes[ecs.instanceType]!
  const task = Pricing.ecsTaskBySize[size]
  const fits = pricedInstanceTypes.filter((type) => {
    const t = Pricing.ec2InstanceTypes[type]!
    return t.vcpus * 1024 >= task.cpu && EcsModel.registeredMemory(t.memoryMib) >= task.memoryMib
  })
  if (!fits.includes(ecs.instanceType))
    issues.push({
      path: ["ecs", "instanceType"],
      expected: `an instance type that holds a ${size} task (${task.cpu / 1024} vCPU, ${task.memoryMib} MiB): one of ${fits.join(", ")}`,
      found: `"${ecs.instanceType}" (${shape.vcpus} vCPU, ${EcsModel.registeredMemory(shape.memoryMib)} MiB registered)`
    })
  // Each region is billed at its own EC2 prices: the instance type must be priced in every one of them.
  for (const [i, region] of scenario.regions.entries()) {
    const aws = Pricing.awsRegionOf[region] ?? region
    const catalog = PricingCatalog.ec2ByRegion.get(aws)
    const priced = catalog === undefined ? [] : Pricing.ec2PricedTypes(catalog)
    if (!priced.includes(ecs.instanceType))
      issues.push({
        path: ["regions", i],
        expected: `a region whose EC2 prices (${aws}) price ecs.instanceType "${ecs.instanceType}"; ${aws} prices ${priced.length === 0 ? "no instance type" : priced.join(", ")}`,
        found: `"${region}"`
      })
  }
  const gpuTypes = pricedInstanceTypes.filter((type) => Pricing.ec2InstanceTypes[type]!.gpus > 0)
  if (scenario.gpuShare > 0 && shape.gpus === 0)
    issues.push({
      path: ["ecs", "instanceType"],
      expected: `a GPU instance type for gpuShare ${scenario.gpuShare}: one of ${gpuTypes.join(", ")}`,
      found: `"${ecs.instanceType}" (no GPU)`
    })
  const memoryMb = Pricing.flyGuestBySize[size].memoryMb
  if (fly.sleepsBy === "suspend" && memoryMb > suspendLimitMb)
    issues.push({
      path: ["fly", "sleepsBy"],
      expected: `"stop" for size ${size} (${memoryMb} MB): Fly suspends machines of at most ${suspendLimitMb} MB`,
      found: `"suspend"`
    })
  return issues
}

// ---- reading a file

/**
 * Parses and validates a scenario document (YAML, or JSON); `source` names it in errors. Every field is checked,
 * then every rule across fields; an `InvalidInput` lists each issue with its line and column.
 */
export const parse = (text: string, source: string): Effect.Effect<Scenario, InputIssues.InvalidInput> =>
  Effect.suspend(() => {
    const file = InputIssues.parseSource(text, source)
    if (file instanceof InputIssues.InvalidInput) return Effect.fail(file)
    const decoded = decode(file.data)
    const issues = Either.isLeft(decoded)
      ? InputIssues.fromParseIssue(decoded.left.issue)
      : rules(decoded.right)
    return issues.length === 0 && Either.isRight(decoded)
      ? Effect.succeed(decoded.right)
      : Effect.fail(InputIssues.invalidInput(source, issues.map(file.locate)))
  })

export const load = (path: string): Effect.Effect<Scenario, InputIssues.InvalidInput> =>
  Effect.flatMap(
    Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (e) =>
        InputIssues.invalidInput(path, [
          {
            path: [],
            expected: "a readable scenario file",
            found: (e as NodeJS.ErrnoException).code ?? String(e),
            line: 1,
            column: 1
          }
        ])
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
