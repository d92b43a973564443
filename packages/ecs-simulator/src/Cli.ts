/**
 * ecs-sim's command line, on @effect/cli: the flags both simulators share (core's `SimulatorCli`: --host --port
 * --seed --clock --exec --data-dir), the repeatable --access-key, --secret-key SECRET (or ECS_SIM_SECRET_KEY: the
 * access keys' secret, so SigV4 signatures are verified), --region REGION and --pricing FILE (a JSON pricing
 * catalog of that region's EC2 prices). `--help`, `-h` and `--version` come with it.
 */
import { readFileSync } from "node:fs"
import { Command, Options } from "@effect/cli"
import { Pricing, PricingCatalog } from "@hangar/core"
import { SimulatorCli } from "@hangar/core/simulation"
import { Config, Console, Effect, Option, Schema } from "effect"
import * as EcsSimulator from "./EcsSimulator.js"
import { version } from "./Version.js"

export const defaultPort = 4281

export const info = {
  name: "ecs-sim",
  version,
  summary: "a local ECS endpoint for the AWS SDK with an EC2 capacity model and per-second billing"
}

export interface Flags {
  readonly host: string
  readonly port: number
  readonly clockName: "real" | "virtual"
  readonly seed: number
  readonly options: EcsSimulator.Options
}

const isRegion = Schema.is(PricingCatalog.AwsRegion)

/** A pricing catalog from a JSON file; the error names the flag, the file and each bad field. */
const readCatalog = (file: string): Effect.Effect<PricingCatalog.PricingCatalog, string> =>
  Effect.try({
    try: () => readFileSync(file, "utf8"),
    catch: (error) => `--pricing ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`
  }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: () => PricingCatalog.parseJson(text, `--pricing ${file}`),
        catch: (error) => (error as Error).message
      })
    )
  )

const config = {
  shared: SimulatorCli.shared(defaultPort),
  accessKeys: SimulatorCli.repeated("access-key", "KEY").pipe(
    Options.withDescription(
      "access key id the AWS SDK signs with (repeatable); any key is accepted without one"
    )
  ),
  secretKey: Options.redacted("secret-key").pipe(
    Options.withPseudoName("SECRET"),
    Options.withFallbackConfig(Config.redacted("ECS_SIM_SECRET_KEY")),
    Options.optional,
    Options.withDescription(
      "the access keys' secret: SigV4 signatures are then verified (env ECS_SIM_SECRET_KEY)"
    )
  ),
  region: Options.text("region").pipe(
    Options.withPseudoName("REGION"),
    Options.mapEffect((region) =>
      isRegion(region)
        ? Effect.succeed(region)
        : Effect.fail(
            SimulatorCli.invalid(`--region needs an AWS region code such as eu-west-2, got "${region}"`)
          )
    ),
    Options.optional,
    Options.withDescription("the AWS region simulated (default us-east-1): ARNs, Availability Zones, prices")
  ),
  pricing: Options.text("pricing").pipe(
    Options.withPseudoName("FILE"),
    Options.mapEffect((file) =>
      file === ""
        ? Effect.fail(SimulatorCli.invalid("--pricing needs a JSON pricing catalog file"))
        : Effect.mapError(readCatalog(file), SimulatorCli.invalid).pipe(
            Effect.map((catalog) => ({ file, catalog }))
          )
    ),
    Options.optional,
    Options.withDescription(
      "a JSON pricing catalog with the region's EC2 prices (default: the shipped us-east-1)"
    )
  )
}

/** The flags, with a secret checked to have its key ids and the pricing catalog against the region it prices. */
export const options = Options.all(config).pipe(
  Options.mapEffect((parsed) =>
    Option.isSome(parsed.secretKey) && parsed.accessKeys.length === 0
      ? Effect.fail(
          SimulatorCli.invalid(
            "--secret-key (or ECS_SIM_SECRET_KEY) needs --access-key: the key ids it is the secret of"
          )
        )
      : Effect.succeed(parsed)
  ),
  Options.mapEffect((parsed) =>
    Option.match(parsed.pricing, {
      onNone: () => Effect.succeed(parsed),
      onSome: ({ catalog, file }) =>
        Effect.try({
          try: () => {
            const region = Option.getOrUndefined(parsed.region)
            Pricing.ec2Pricing(
              region ?? "us-east-1",
              catalog,
              `--region${region === undefined ? " (default us-east-1)" : ""}`
            )
            return parsed
          },
          catch: (error) => SimulatorCli.invalid(`--pricing ${file}: ${(error as Error).message}`)
        })
    })
  )
)

type Parsed = typeof options extends Options.Options<infer A> ? A : never

/** The parsed flags as the simulator's options. */
export const flagsOf = ({ accessKeys, pricing, region, secretKey, shared }: Parsed): Flags => ({
  host: shared.host,
  port: shared.port,
  clockName: shared.clockName,
  seed: shared.seed,
  options: {
    clock: shared.clock,
    seed: shared.seed,
    exec: shared.exec,
    ...(accessKeys.length === 0 ? {} : { accessKeys }),
    ...(Option.isNone(secretKey) ? {} : { secretKey: secretKey.value }),
    ...(shared.dataDir === undefined ? {} : { dataDir: shared.dataDir }),
    ...(Option.isNone(region) ? {} : { region: region.value }),
    ...(Option.isNone(pricing) ? {} : { pricing: pricing.value.catalog })
  }
})

/** Parses `args` (without `node` and the script) into flags, or fails with the usage error's text. */
export const parse = (args: ReadonlyArray<string>) =>
  Effect.map(SimulatorCli.parse(info.name, options, args), flagsOf)

/** Starts the simulator, prints where it listens and what to paste, and serves until interrupted. */
export const serve = (flags: Flags) =>
  Effect.gen(function* () {
    const sim = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => EcsSimulator.make(flags.options),
        catch: (error) => new SimulatorCli.UsageError({ message: (error as Error).message })
      }),
      (sim) => Effect.promise(() => sim.close())
    )
    const url = yield* SimulatorCli.listen(() => sim.listen({ host: flags.host, port: flags.port }), flags)
    const pricing = sim.billing().pricing
    const dataDir = flags.options.dataDir
    yield* Console.log(
      `ecs-sim ${info.version} listening on ${url} (clock ${flags.clockName}, seed ${flags.seed}${dataDir === undefined ? "" : `, data in ${dataDir}`})`
    )
    yield* Console.log(
      pricing.note === undefined
        ? `prices: ${pricing.catalogRegion}'s`
        : `prices: ${pricing.catalogRegion}'s, not ${pricing.region}'s (give --pricing FILE for this region's)`
    )
    yield* Console.log(`export AWS_ENDPOINT_URL_ECS=${url} AWS_REGION=${pricing.region}`)
    yield* Console.log(
      `create an Auto Scaling group first: curl -X POST ${url}/_sim/autoscaling-groups -H 'content-type: application/json' -d '{"name":"asg","instanceType":"t3.large","min":1,"max":4,"desired":1}'`
    )
    yield* Console.log(`health: curl ${url}/_sim/health`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

export const command = Command.make(info.name, { options }, ({ options }) => serve(flagsOf(options)))
