/**
 * fly-sim's command line, on @effect/cli: the flags both simulators share (core's `SimulatorCli`: --host --port
 * --seed --clock --exec --data-dir), the repeatable --token, --rate-limits on|off, --autostop-period SECONDS,
 * --exec-deadline SECONDS (an exec running longer answers 408 deadline_exceeded; default 30) and the repeatable
 * --fault JSON (a `/_sim/faults` rule active from the start). `--help`, `-h` and `--version` come with it.
 */
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Command, Options } from "@effect/cli"
import { SimulatorCli } from "@hangar/core/simulation"
import { Console, Effect, Either, Redacted, Schema } from "effect"
import { FaultRule } from "./Faults.js"
import * as FlySimulator from "./FlySimulator.js"
import * as FlyModel from "./model/FlyModel.js"
import { version } from "./Version.js"

export const defaultPort = 4280

/** The model's own defaults, so a flag left out and one given at its default configure the same simulator. */
const defaultAutostopSeconds = FlyModel.defaultAutostopPeriodMillis / 1000
const defaultExecDeadlineSeconds = FlyModel.defaultExecDeadlineMillis / 1000

export const info = {
  name: "fly-sim",
  version,
  summary: "a local Fly Machines API with lifecycle timing, virtual time and per-second billing"
}

export interface Flags {
  readonly host: string
  readonly port: number
  readonly clockName: "real" | "virtual"
  readonly seed: number
  readonly tokens: ReadonlyArray<Redacted.Redacted>
  readonly options: Omit<FlySimulator.Options, "tokens">
}

const decodeFault = Schema.decodeUnknownEither(Schema.parseJson(FaultRule))

const config = {
  shared: SimulatorCli.shared(defaultPort),
  // Options.redacted does not survive Options.repeated in @effect/cli 0.77 (each value fails as "not a redacted").
  tokens: SimulatorCli.repeated("token", "TOKEN").pipe(
    Options.map((tokens) => tokens.map((token) => Redacted.make(token))),
    Options.withDescription(
      "API token clients send as Authorization: Bearer (repeatable); without one a development token is generated (and kept in --data-dir)"
    )
  ),
  rateLimits: SimulatorCli.oneOf("rate-limits", ["on", "off"]).pipe(
    Options.withDescription("Fly's documented rate limits: 429 with retry-after")
  ),
  autostopPeriod: SimulatorCli.number(
    "autostop-period",
    defaultAutostopSeconds,
    (seconds) => Number.isInteger(seconds) && seconds >= 1,
    "a whole number of seconds ≥ 1",
    false,
    "SECONDS"
  ).pipe(Options.withDescription("seconds between the proxy's autostop passes")),
  execDeadline: SimulatorCli.number(
    "exec-deadline",
    defaultExecDeadlineSeconds,
    (seconds) => Number.isFinite(seconds) && seconds > 0,
    "a number of seconds > 0",
    true,
    "SECONDS"
  ).pipe(Options.withDescription("seconds an exec may run before the API answers 408 deadline_exceeded")),
  faults: SimulatorCli.repeated("fault", "JSON").pipe(
    Options.mapEffect((texts) => {
      const rules: Array<FaultRule> = []
      for (const text of texts) {
        const decoded = decodeFault(text)
        if (Either.isLeft(decoded))
          return Effect.fail(
            SimulatorCli.invalid(`--fault must be a JSON fault rule: ${decoded.left.message}`)
          )
        rules.push(decoded.right)
      }
      return Effect.succeed(rules)
    }),
    Options.withDescription("a fault rule active from the start, as POST /_sim/faults takes it (repeatable)")
  )
}

export const options = Options.all(config)

type Parsed = typeof options extends Options.Options<infer A> ? A : never

/** The parsed flags as the simulator's options. */
export const flagsOf = ({
  autostopPeriod,
  execDeadline,
  faults,
  rateLimits,
  shared,
  tokens
}: Parsed): Flags => ({
  host: shared.host,
  port: shared.port,
  clockName: shared.clockName,
  seed: shared.seed,
  tokens,
  options: {
    clock: shared.clock,
    seed: shared.seed,
    ...(shared.exec.kind === "process" ? { exec: shared.exec } : {}),
    ...(shared.dataDir === undefined ? {} : { dataDir: shared.dataDir }),
    rateLimits: rateLimits === "on",
    ...(autostopPeriod === defaultAutostopSeconds ? {} : { autostopPeriodMillis: autostopPeriod * 1000 }),
    ...(execDeadline === defaultExecDeadlineSeconds ? {} : { execDeadlineSeconds: execDeadline }),
    ...(faults.length === 0 ? {} : { faults })
  }
})

/** Parses `args` (without `node` and the script) into flags, or fails with the usage error's text. */
export const parse = (args: ReadonlyArray<string>) =>
  Effect.map(SimulatorCli.parse(info.name, options, args), flagsOf)

/**
 * The development token when no --token is given: kept in `DATA_DIR/dev-token` (mode 600) so that a restart on
 * the same data directory keeps the clients that pasted it working; a new one per run without a data directory.
 */
export const developmentToken = (dataDir: string | undefined): Redacted.Redacted => {
  const file = dataDir === undefined ? undefined : join(dataDir, "dev-token")
  if (file !== undefined && existsSync(file)) return Redacted.make(readFileSync(file, "utf8").trim())
  const token = `fly-sim-${randomBytes(16).toString("hex")}`
  if (dataDir !== undefined && file !== undefined) {
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(file, `${token}\n`, { mode: 0o600 })
    chmodSync(file, 0o600)
  }
  return Redacted.make(token)
}

/** Starts the simulator, prints where it listens and what to paste, and serves until interrupted. */
export const serve = (flags: Flags) =>
  Effect.gen(function* () {
    const generated = flags.tokens.length === 0
    const tokens = generated ? [developmentToken(flags.options.dataDir)] : flags.tokens
    const sim = yield* Effect.acquireRelease(
      Effect.promise(() =>
        FlySimulator.make({
          ...flags.options,
          tokens: tokens.map((token) => ({ token: Redacted.value(token) }))
        })
      ),
      (sim) => Effect.promise(() => sim.close())
    )
    const url = yield* SimulatorCli.listen(() => sim.listen({ host: flags.host, port: flags.port }), flags)
    const dataDir = flags.options.dataDir
    yield* Console.log(
      `fly-sim ${info.version} listening on ${url} (clock ${flags.clockName}, seed ${flags.seed}${dataDir === undefined ? "" : `, data in ${dataDir}`})`
    )
    // A generated development token is printed so it can be pasted; a token given with --token is not echoed.
    const token = generated ? Redacted.value(tokens[0]!) : "<your --token>"
    yield* Console.log(`export FLY_API_TOKEN=${token} FLY_FLAPS_BASE_URL=${url}`)
    yield* Console.log(`apps answer at ${url}/_proxy/<app>/ or with the header Host: <app>.fly.dev`)
    yield* Console.log(`health: curl ${url}/_sim/health`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

export const command = Command.make(info.name, config, (parsed) => serve(flagsOf(parsed)))
