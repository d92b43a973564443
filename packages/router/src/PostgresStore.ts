/**
 * The session store on Postgres (@effect/sql-pg), for several router instances sharing one database: the SQL
 * store's own queries (`SessionStore.layerSql`; one conformance suite runs against memory, SQLite and this) over
 * a schema with Postgres' types (BIGINT milliseconds), brought up by @effect/sql's migrator (the migration table is locked while it runs, so instances starting
 * together migrate once). Every write is a committed statement before it returns (Postgres' default
 * `synchronous_commit = on`), so a record survives kill -9 of the router.
 *
 * `withAdvisoryLock` runs an effect while this process holds a session-level `pg_advisory_lock` on a reserved
 * connection: only one instance at a time runs it (the others get `None` at once), and a dead instance's lock
 * goes with its connection.
 */
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { PgClient } from "@effect/sql-pg"
import { Cause, Effect, Layer, Option, type Redacted } from "effect"
import {
  layerSql,
  type SessionStore,
  SessionStoreError,
  migrations as sqlMigrations
} from "./SessionStore.js"

// ---- schema

/** The store's schema on Postgres, in order; applied once each (recorded in `hangar_session_migrations`). */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_sessions": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE IF NOT EXISTS hangar_sessions (
      task_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, provider TEXT NOT NULL, repository TEXT NOT NULL,
      region TEXT NOT NULL, state TEXT NOT NULL, owner TEXT NOT NULL, updated_at_millis BIGINT NOT NULL
    )`
  ),
  // Reconciliation and idle transitions look records up by session and by state (the same indexes as SQLite's).
  "0002_session_and_state_indexes": sqlMigrations["0002_session_and_state_indexes"]!
}

const migrate = Migrator.make({})({
  loader: Migrator.fromRecord(migrations),
  table: "hangar_session_migrations"
})

/** Postgres' own message (an SqlError's cause) after the driver's. */
const describe = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  const cause = (e as { readonly cause?: unknown }).cause
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message
}

const failure = (operation: string) => (e: unknown) =>
  e instanceof SessionStoreError ? e : new SessionStoreError({ operation, detail: describe(e) })

/** Instances starting together take turns at migrating (the migrator's own table lock comes too late). */
const migrationLockKey = 0x68616e67

const migrateOnce = Effect.suspend(() => holdingLock(migrationLockKey, "wait")(migrate))

// ---- the store

/**
 * BIGINT and INTEGER columns as numbers (milliseconds fit a double exactly; pg would answer BIGINT as text) and
 * booleans as booleans; every other value as Postgres' text. Only those column types are used here.
 */
const types = {
  getTypeParser: (oid: number) =>
    oid === 20 || oid === 21 || oid === 23
      ? Number
      : oid === 16
        ? (text: string) => text === "t"
        : (text: string) => text
}

/** The store over the Postgres client in context (shared with other tables of the program), migrated first. */
export const layerStore: Layer.Layer<SessionStore, SessionStoreError, SqlClient.SqlClient> =
  Layer.unwrapEffect(
    // The tables exist with Postgres' types before the SQL store's own migrations (the same names) find them done.
    Effect.as(migrateOnce.pipe(Effect.mapError(failure("migrate"))), layerSql)
  )

/** A Postgres client for `url` (postgres://user@host:port/db; a Redacted, as it may carry a password). */
export const layerClient = (
  url: Redacted.Redacted,
  options: { readonly maxConnections?: number } = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SessionStoreError> =>
  PgClient.layer({
    url,
    maxConnections: options.maxConnections ?? 10,
    applicationName: "hangar",
    types: types as never
  }).pipe(Layer.mapError((e) => new SessionStoreError({ operation: "connect", detail: e.message })))

/** The Postgres store at `url`, with its own client. */
export const layer = (url: Redacted.Redacted): Layer.Layer<SessionStore, SessionStoreError> =>
  layerStore.pipe(
    Layer.provide(layerClient(url)),
    Layer.catchAllCause((cause) => {
      const found = Cause.failureOption(cause)
      return Layer.fail(
        Option.isSome(found)
          ? failure("open")(found.value)
          : new SessionStoreError({ operation: "open", detail: Cause.pretty(cause) })
      )
    })
  )

// ---- advisory locks

/**
 * Runs `effect` while holding the session-level advisory lock `key` on a connection reserved for it; `None`
 * without running it when another session holds the lock. The lock is released when the effect ends (and by
 * Postgres when the connection drops, so a killed instance never keeps it).
 */
export const withAdvisoryLock =
  (key: number) =>
  <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Option.Option<A>, E | SessionStoreError, R | SqlClient.SqlClient> =>
    holdingLock(key, "try")(effect)

/** Runs `effect` holding the advisory lock `key`, waiting for it first (migrations of instances starting together). */
export const withAdvisoryLockWaiting =
  (key: number) =>
  <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | SessionStoreError, R | SqlClient.SqlClient> =>
    Effect.map(holdingLock(key, "wait")(effect), Option.getOrThrow)

/** The lock taken on a reserved connection: `try` answers None when it is held, `wait` waits its turn. */
const holdingLock =
  (key: number, mode: "try" | "wait") =>
  <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Option.Option<A>, E | SessionStoreError, R | SqlClient.SqlClient> =>
    Effect.scoped(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const connection = yield* sql.reserve.pipe(Effect.mapError(failure("advisory lock")))
        const query =
          mode === "try"
            ? "SELECT pg_try_advisory_lock($1) AS locked"
            : "SELECT pg_advisory_lock($1) IS NOT NULL AS locked"
        const rows = yield* connection
          .execute(query, [key], undefined)
          .pipe(Effect.mapError(failure("advisory lock")))
        if (rows[0]?.locked !== true) return Option.none<A>()
        const unlock = connection
          .execute("SELECT pg_advisory_unlock($1)", [key], undefined)
          .pipe(Effect.ignore)
        return yield* Effect.map(Effect.ensuring(effect, unlock), Option.some)
      })
    )
