/**
 * What both simulator CLIs (`fly-sim`, `ecs-sim`) share, on @effect/cli: the common flags (`--host --port --seed
 * --clock real|virtual --exec scripted|process --data-dir`), each checked with a message naming the flag; the
 * run that turns a usage error into one line on stderr and exit code 2 (`--help`, `-h` and `--version` come from
 * @effect/cli); and the listen that names a port already in use instead of throwing.
 */
import { type CliApp, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import { Console, Data, Effect, type Layer, Option } from "effect"
import * as VirtualClock from "../VirtualClock.js"
import * as ExecBackend from "./ExecBackend.js"

/** A usage or input error found after parsing (a file that cannot be read, a bad JSON value): exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** The exit code of a usage or input error, as both simulators (and most CLIs) use. */
export const usageExitCode = 2

/** A flag's value rejected with a message that names the flag, printed by @effect/cli as it prints its own. */
export const invalid = (message: string): ValidationError.ValidationError =>
  ValidationError.invalidValue(HelpDoc.p(message))

export interface Shared {
  readonly host: string
  readonly port: number
  readonly seed: number
  readonly clockName: "real" | "virtual"
  readonly clock: VirtualClock.SimulationClock
  readonly exec: ExecBackend.ExecBackend
  readonly dataDir: string | undefined
}

const check =
  <A>(ok: (value: A) => boolean, message: (value: A) => string) =>
  (value: A): Effect.Effect<A, ValidationError.ValidationError> =>
    ok(value) ? Effect.succeed(value) : Effect.fail(invalid(message(value)))

/**
 * A number flag whose error names it and says what it expects (@effect/cli's own does neither): `fallback` when
 * absent; whole numbers only unless `fractions`.
 */
export const number = (
  name: string,
  fallback: number,
  ok: (value: number) => boolean,
  expected: string,
  fractions = false,
  pseudoName = "N"
): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudoName),
    Options.withDefault(String(fallback)),
    Options.mapEffect((text) => {
      const shape = fractions ? /^-?\d+(\.\d+)?$/ : /^-?\d+$/
      const value = shape.test(text.trim()) ? Number(text) : Number.NaN
      return ok(value)
        ? Effect.succeed(value)
        : Effect.fail(invalid(`--${name} must be ${expected}, got ${text}`))
    })
  )

/** A flag that may be given any number of times (none included), shown as optional in the usage line. */
export const repeated = (name: string, pseudoName: string): Options.Options<ReadonlyArray<string>> =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudoName),
    Options.repeated,
    Options.optional,
    Options.map(Option.getOrElse((): ReadonlyArray<string> => []))
  )

/** A flag that takes one of `values` (the first is the default); the error names the flag and lists them. */
export const oneOf = <const Values extends readonly [string, ...Array<string>]>(
  name: string,
  values: Values
): Options.Options<Values[number]> =>
  Options.text(name).pipe(
    Options.withPseudoName(values.join("|")),
    Options.withDefault(values[0]),
    Options.mapEffect((value) =>
      values.includes(value)
        ? Effect.succeed(value as Values[number])
        : Effect.fail(
            invalid(`--${name} must be ${values.slice(0, -1).join(", ")} or ${values.at(-1)}, got ${value}`)
          )
    )
  )

/** The shared flags, with `defaultPort` for `--port`. */
export const shared = (defaultPort: number): Options.Options<Shared> =>
  Options.all({
    host: Options.text("host").pipe(
      Options.withPseudoName("ADDRESS"),
      Options.withDefault("127.0.0.1"),
      Options.withDescription("address to listen on (loopback by default)")
    ),
    port: number(
      "port",
      defaultPort,
      (port) => port >= 0 && port <= 65535,
      "0-65535 (0 picks a free port)"
    ).pipe(Options.withDescription("port to listen on; 0 picks a free one")),
    seed: number("seed", 1, Number.isSafeInteger, "an integer").pipe(
      Options.withDescription("seed of every random choice (ids, faults, timing jitter)")
    ),
    clock: oneOf("clock", ["real", "virtual"]).pipe(
      Options.withDescription("real, or virtual: time moves only when advanced through /_sim/clock/advance")
    ),
    exec: oneOf("exec", ["scripted", "process"]).pipe(
      Options.withDescription("scripted (commands answer from rules), or process: runs commands on this host")
    ),
    dataDir: Options.text("data-dir").pipe(
      Options.withPseudoName("DIR"),
      Options.mapEffect(
        check(
          (dir) => dir !== "",
          () => "--data-dir needs a directory"
        )
      ),
      Options.optional,
      Options.withDescription("keep the state here, so a restart (even kill -9) loses nothing acknowledged")
    )
  }).pipe(
    Options.map(({ clock, dataDir, exec, host, port, seed }) => ({
      host,
      port,
      seed,
      clockName: clock,
      clock: clock === "virtual" ? new VirtualClock.VirtualClock() : new VirtualClock.RealClock(),
      exec: exec === "process" ? ExecBackend.processBackend() : ExecBackend.scripted(),
      dataDir: Option.getOrUndefined(dataDir)
    }))
  )

/** Colours only on a terminal, and never with NO_COLOR set (https://no-color.org). */
const coloured = (): boolean => process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/** @effect/cli styles its help and errors with ANSI codes wherever they go: taken out off a terminal. */
export const withoutStylesOffTerminal = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  coloured()
    ? effect
    : Effect.consoleWith((console) => {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character starts every ANSI style
        const strip = (arg: unknown) => (typeof arg === "string" ? arg.replace(/\u001b\[[0-9;]*m/g, "") : arg)
        return Effect.withConsole(effect, {
          ...console,
          log: (...args) => console.log(...args.map(strip)),
          error: (...args) => console.error(...args.map(strip))
        })
      })

/** Where `process.argv` puts the first user argument: @effect/cli expects `[node, script, ...args]`. */
const argv = (args: ReadonlyArray<string>, name: string): ReadonlyArray<string> => ["node", name, ...args]

/**
 * Runs a simulator's command on `args` (the user's arguments, without `node` and the script) and answers the
 * process's exit code: 0, or 2 for a usage error (@effect/cli has printed it; a `UsageError` is printed here as one
 * line naming the simulator). `--help`, `-h` and `--version` print and answer 0.
 */
export const run = <Name extends string, R, A>(
  command: Command.Command<Name, R, UsageError, A>,
  info: { readonly name: string; readonly version: string; readonly summary: string }
) => {
  const cli = Command.run(command, {
    name: info.name,
    version: info.version,
    summary: Span.text(info.summary)
  })
  return (args: ReadonlyArray<string>): Effect.Effect<number, never, R | CliApp.CliApp.Environment> =>
    cli(argv(args, info.name)).pipe(
      withoutStylesOffTerminal,
      Effect.as(0),
      Effect.catchAll((error) =>
        error._tag === "UsageError"
          ? Effect.as(Console.error(`${info.name}: ${error.message}`), usageExitCode)
          : Effect.succeed(usageExitCode)
      )
    )
}

/**
 * A program's entry point: runs `command` on the process's arguments on the platform the program brings (its
 * context layer and `runMain`, e.g. `@effect/platform-node`'s, which core does not depend on), then exits with
 * the command's code.
 */
export const main = <Name extends string, A>(
  command: Command.Command<Name, CliApp.CliApp.Environment, UsageError, A>,
  info: { readonly name: string; readonly version: string; readonly summary: string },
  platform: {
    readonly layer: Layer.Layer<CliApp.CliApp.Environment>
    readonly runMain: (effect: Effect.Effect<never>) => void
  }
): void =>
  run(
    command,
    info
  )(process.argv.slice(2)).pipe(
    Effect.flatMap((code) => Effect.sync(() => process.exit(code))),
    Effect.provide(platform.layer),
    platform.runMain
  )

/**
 * Parses `args` with `options` alone (no server started): for tests, and for programs that embed a simulator.
 * Fails with the usage error's text.
 */
export const parse = <A>(
  name: string,
  options: Options.Options<A>,
  args: ReadonlyArray<string>
): Effect.Effect<A, string, CliApp.CliApp.Environment> =>
  Effect.gen(function* () {
    let parsed: Option.Option<A> = Option.none()
    const command = Command.make(name, { options }, ({ options }) =>
      Effect.sync(() => {
        parsed = Option.some(options)
      })
    )
    const errors: Array<string> = []
    const code = yield* run(command, { name, version: "test", summary: name })(args).pipe(
      Effect.withConsole(recordingConsole([], errors))
    )
    if (code !== 0 || Option.isNone(parsed)) return yield* Effect.fail(errors.join("\n").trim())
    return parsed.value
  })

/**
 * Listens, or fails with one line naming the port when it is taken (or not allowed) and how to choose another.
 */
export const listen = (
  start: () => Promise<string>,
  where: { readonly host: string; readonly port: number }
): Effect.Effect<string, UsageError> =>
  Effect.tryPromise({
    try: start,
    catch: (error) => {
      const code = (error as NodeJS.ErrnoException).code
      return new UsageError({
        message:
          code === "EADDRINUSE"
            ? `port ${where.port} on ${where.host} is already in use; choose another with --port N (--port 0 picks a free one)`
            : code === "EACCES"
              ? `port ${where.port} on ${where.host} needs privileges this user lacks; choose one above 1023 with --port N`
              : code === "EADDRNOTAVAIL"
                ? `--host ${where.host} is not an address of this machine`
                : `cannot listen on ${where.host}:${where.port}: ${(error as Error).message}`
      })
    }
  })

/** A Console that records what is written: `out` for log and info, `err` for error and warn. */
export const recordingConsole = (out: Array<string>, err: Array<string>): Console.Console => {
  const into =
    (lines: Array<string>) =>
    (...args: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        lines.push(args.map(String).join(" "))
      })
  const ignore = () => Effect.void
  return {
    [Console.TypeId]: Console.TypeId,
    assert: ignore,
    clear: Effect.void,
    count: ignore,
    countReset: ignore,
    debug: into(out),
    dir: into(out),
    dirxml: into(out),
    error: into(err),
    group: ignore,
    groupEnd: Effect.void,
    info: into(out),
    log: into(out),
    table: into(out),
    time: ignore,
    timeEnd: ignore,
    timeLog: ignore,
    trace: into(err),
    warn: into(err),
    unsafe: console
  }
}
