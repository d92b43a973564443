/**
 * hangar-serve's command line, on @effect/cli with the simulators' conventions (core's `SimulatorCli`): `--config
 * FILE` (TOML), `--host`, `--port` and `--instance-id` over the file's values; HANGAR_API_TOKEN (required) and the
 * rest of the environment as `ServerConfig` and `Providers` describe. A bad flag, file or environment prints one
 * line naming it and exits 2; so does a port in use.
 */
import { Command, Options } from "@effect/cli"
import { SimulatorCli } from "@hangar/core/simulation"
import { Console, Effect, Option } from "effect"
import * as Server from "./Server.js"
import * as ServerConfig from "./ServerConfig.js"
import { version } from "./Version.js"

export const info = {
  name: "hangar-serve",
  version,
  summary: "the Hangar router as an HTTP service, on SQLite or on Postgres for several instances"
}

const config = {
  config: Options.text("config").pipe(
    Options.withPseudoName("FILE"),
    Options.optional,
    Options.withDescription(
      "TOML configuration: [server] [store] [routing] [idle] [reconcile] [leases] [providers]"
    )
  ),
  host: Options.text("host").pipe(
    Options.withPseudoName("ADDRESS"),
    Options.optional,
    Options.withDescription("address to listen on (default 127.0.0.1, or the file's server.host)")
  ),
  port: SimulatorCli.number("port", -1, (p) => p >= -1 && p <= 65535, "0-65535 (0 picks a free port)").pipe(
    Options.withDescription("port to listen on (default 4290, or the file's server.port); 0 picks a free one")
  ),
  instanceId: Options.text("instance-id").pipe(
    Options.withPseudoName("ID"),
    Options.optional,
    Options.withDescription("this instance's id in the store (default: host, pid and a random suffix)")
  )
}

type Parsed = {
  readonly config: Option.Option<string>
  readonly host: Option.Option<string>
  readonly port: number
  readonly instanceId: Option.Option<string>
}

const usage = (error: ServerConfig.ConfigError) => new SimulatorCli.UsageError({ message: error.message })

/** The file, the flags over it, and the secrets from the environment. */
export const resolve = (parsed: Parsed) =>
  Effect.gen(function* () {
    const file = yield* ServerConfig.load(Option.getOrUndefined(parsed.config)).pipe(Effect.mapError(usage))
    const server = {
      ...file.server,
      ...(Option.isSome(parsed.host) ? { host: parsed.host.value } : {}),
      ...(parsed.port >= 0 ? { port: parsed.port } : {})
    }
    const secrets = yield* ServerConfig.secrets(file).pipe(Effect.mapError(usage))
    return { ...file, server, secrets } satisfies ServerConfig.ServerConfig
  })

/** A port in use (or not allowed) as the simulators word it; anything else with what went wrong. */
const startFailure = (error: unknown, where: { readonly host: string; readonly port: number }) =>
  (error as NodeJS.ErrnoException).code !== undefined
    ? Effect.flatMap(
        SimulatorCli.listen(() => Promise.reject(error), where),
        () => Effect.fail(new SimulatorCli.UsageError({ message: String(error) }))
      )
    : Effect.fail(
        new SimulatorCli.UsageError({
          message: `could not start: ${error instanceof Error ? error.message : String(error)}`
        })
      )

export const serve = (parsed: Parsed) =>
  Effect.gen(function* () {
    const config = yield* resolve(parsed)
    const running = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          Server.start(
            config,
            Option.isSome(parsed.instanceId) ? { instanceId: parsed.instanceId.value } : {}
          ),
        catch: (error) => error
      }).pipe(Effect.catchAll((error) => startFailure(error, config.server))),
      (running) => Effect.promise(() => running.close())
    )
    yield* Console.log(
      `hangar-serve ${version} listening on ${running.url} (instance ${running.instanceId}, store ${config.store.kind}, providers ${config.providers.enabled.join(", ")})`
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)

export const command = Command.make(info.name, config, serve)
