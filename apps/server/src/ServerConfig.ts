/**
 * hangar-serve's configuration: a TOML file (smol-toml) decoded with Schema, every section optional, so an empty
 * file (or none) means "SQLite in ./hangar.db, both providers from the environment, the seed's rules, break-even
 * idle". Secrets never come from the file: the API token from HANGAR_API_TOKEN, the Postgres URL from
 * HANGAR_DATABASE_URL, the providers' credentials from FLY_API_TOKEN and the AWS SDK's chain (AWS_*), all
 * Redacted. A bad value is an error naming its key and what was expected.
 */
import { readFileSync } from "node:fs"
import { Config, Data, Effect, Either, Option, ParseResult, type Redacted, Schema } from "effect"
import { parse as parseToml } from "smol-toml"

const Seconds = Schema.Number.pipe(Schema.positive({ message: () => "a positive number of seconds" }))
const Port = Schema.Int.pipe(Schema.between(0, 65535, { message: () => "a port 0-65535" }))

export const StoreSection = Schema.Struct({
  /** memory (nothing survives a restart), sqlite (one instance, the default) or postgres (several instances). */
  kind: Schema.optionalWith(Schema.Literal("memory", "sqlite", "postgres"), {
    default: () => "sqlite" as const
  }),
  /** The SQLite file (kind sqlite). */
  file: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "hangar.db" }),
  /** Connections per instance (kind postgres). */
  maxConnections: Schema.optionalWith(Schema.Int.pipe(Schema.between(2, 100)), { default: () => 10 })
})

export const RoutingSection = Schema.Struct({
  policy: Schema.optionalWith(Schema.Literal("rules", "preferred", "primary-overflow", "cost-aware"), {
    default: () => "rules" as const
  }),
  /** The provider of the `preferred` policy. */
  defaultProvider: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "fly" }),
  /** The `rules` policy's short-task threshold. */
  shortTaskSeconds: Schema.optional(Seconds),
  /** Where `rules` sends short and edge tasks, and `primary-overflow` tries first. */
  quickStart: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "fly" }),
  /** Where `rules` sends GPU and long tasks, and `primary-overflow` overflows to. */
  steady: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "ecs" })
})

export const IdleSection = Schema.Struct({
  policy: Schema.optionalWith(Schema.Literal("fixed-timeout", "break-even", "platform"), {
    default: () => "break-even" as const
  }),
  /** The fixed timeout's length (fractions allowed: 0.05 is 3 s). */
  minutes: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 10 })
})

export const ReconcileSection = Schema.Struct({
  intervalSeconds: Schema.optionalWith(Seconds, { default: () => 600 }),
  graceSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 900 }),
  orphans: Schema.optionalWith(Schema.Literal("destroy", "sleep"), { default: () => "destroy" as const })
})

export const LeaseSection = Schema.Struct({
  /** How long a task's lease lasts without renewal: a dead instance's tasks are adopted after it. */
  ttlSeconds: Schema.optionalWith(Seconds, { default: () => 15 }),
  /** How often leases are renewed and expired ones looked for. */
  heartbeatSeconds: Schema.optionalWith(Seconds, { default: () => 3 })
})

export const FlySection = Schema.Struct({
  regions: Schema.optional(Schema.NonEmptyArray(Schema.NonEmptyTrimmedString)),
  appPrefix: Schema.optional(Schema.NonEmptyTrimmedString),
  /** The Fly Proxy's autostop on created machines; off by default, as Hangar's idle policy manages sleep. */
  autostop: Schema.optional(Schema.Literal("off", "stop", "suspend"))
})

export const EcsSection = Schema.Struct({
  cluster: Schema.optional(Schema.NonEmptyTrimmedString),
  capacityProvider: Schema.optional(Schema.NonEmptyTrimmedString),
  gpuCapacityProvider: Schema.optional(Schema.NonEmptyTrimmedString),
  regions: Schema.optional(Schema.NonEmptyArray(Schema.NonEmptyTrimmedString)),
  familyPrefix: Schema.optional(Schema.NonEmptyTrimmedString)
})

export const ProvidersSection = Schema.Struct({
  enabled: Schema.optionalWith(Schema.NonEmptyArray(Schema.Literal("fly", "ecs")), {
    default: () => ["fly", "ecs"] as const
  }),
  fly: Schema.optionalWith(FlySection, { default: () => ({}) }),
  ecs: Schema.optionalWith(EcsSection, { default: () => ({}) })
})

export const ServerSection = Schema.Struct({
  host: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Port, { default: () => 4290 }),
  /** Concurrent dispatches per provider. */
  concurrencyPerProvider: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 32 })
})

/** A section that may be left out: then every key of it takes its default. */
const section = <A, I>(schema: Schema.Schema<A, I>) =>
  Schema.optionalWith(schema, { default: () => Schema.decodeSync(schema)({} as I) })

/** The file's shape (keys in camelCase; TOML's snake_case keys are accepted and converted). */
export const ConfigFile = Schema.Struct({
  server: section(ServerSection),
  store: section(StoreSection),
  routing: section(RoutingSection),
  idle: section(IdleSection),
  reconcile: section(ReconcileSection),
  leases: section(LeaseSection),
  providers: section(ProvidersSection)
})
export type ConfigFile = typeof ConfigFile.Type

export interface Secrets {
  /** Bearer token of the API (HANGAR_API_TOKEN). */
  readonly apiToken: Redacted.Redacted
  /** HANGAR_DATABASE_URL, for the postgres store. */
  readonly databaseUrl: Option.Option<Redacted.Redacted>
}

export interface ServerConfig extends ConfigFile {
  readonly secrets: Secrets
}

export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly message: string }> {}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

/** TOML's snake_case keys as the schema's camelCase, all the way down. */
const camelKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(camelKeys)
    : typeof value === "object" && value !== null && !(value instanceof Date)
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), camelKeys(v)]))
      : value

const decodeFile = Schema.decodeUnknownEither(ConfigFile, { errors: "all", onExcessProperty: "error" })

/** Decodes a parsed file; the error names each bad key (as `store.kind`) and what it expects. */
export const decode = (value: unknown, source: string): Either.Either<ConfigFile, ConfigError> =>
  Either.mapLeft(
    decodeFile(camelKeys(value)),
    (error) =>
      new ConfigError({
        message: `${source}: ${ParseResult.ArrayFormatter.formatErrorSync(error)
          .map((issue) => `${issue.path.join(".") || "(file)"}: ${issue.message}`)
          .join("; ")}`
      })
  )

/** The TOML text's configuration. */
export const parse = (text: string, source: string): Either.Either<ConfigFile, ConfigError> =>
  Either.flatMap(
    Either.try({
      try: () => parseToml(text),
      catch: (error) => new ConfigError({ message: `${source}: not valid TOML: ${(error as Error).message}` })
    }),
    (value) => decode(value, source)
  )

/** The file at `path` (or the defaults when none is given). */
export const load = (path: string | undefined): Effect.Effect<ConfigFile, ConfigError> =>
  path === undefined
    ? Effect.succeed(Either.getOrThrow(decode({}, "defaults")))
    : Effect.flatMap(
        Effect.try({
          try: () => readFileSync(path, "utf8"),
          catch: (error) =>
            new ConfigError({
              message: `--config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`
            })
        }),
        (text) => parse(text, path)
      )

/** The secrets from the environment; HANGAR_DATABASE_URL is required by the postgres store. */
export const secrets = (file: ConfigFile): Effect.Effect<Secrets, ConfigError> =>
  Effect.gen(function* () {
    const read = Config.all({
      apiToken: Config.redacted("HANGAR_API_TOKEN"),
      databaseUrl: Config.option(Config.redacted("HANGAR_DATABASE_URL"))
    })
    const found = yield* read.pipe(
      Effect.mapError(
        (error) => new ConfigError({ message: `environment: ${error.toString().replace(/\s+/g, " ")}` })
      )
    )
    if (file.store.kind === "postgres" && Option.isNone(found.databaseUrl))
      return yield* Effect.fail(
        new ConfigError({
          message: "store.kind is postgres: set HANGAR_DATABASE_URL (postgres://user@host:port/database)"
        })
      )
    return found
  })
