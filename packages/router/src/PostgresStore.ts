/**
 * The session store on Postgres (@effect/sql-pg), for several router instances sharing one database: the same
 * `SessionStore` service as the memory and SQLite stores (one conformance suite runs against all three), its
 * schema brought up by @effect/sql's migrator (the migration table is locked while it runs, so instances starting
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
import { Cause, Effect, Layer, Option, type Redacted, Schema } from "effect"
import {
  type SessionRecord,
  SessionState,
  SessionStore,
  SessionStoreError,
  type Service as SessionStoreService
} from "./SessionStore.js"

// ---- schema

/** Milliseconds are BIGINT (an INTEGER column would overflow in 1970 + 24 days); pg answers BIGINT as text. */
const Millis = Schema.Union(Schema.Number, Schema.NumberFromString)

const Row = Schema.Struct({
  task_id: Schema.String,
  session_id: Schema.String,
  provider: Schema.String,
  repository: Schema.String,
  region: Schema.String,
  state: SessionState,
  owner: Schema.String,
  updated_at_millis: Millis
})

const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

const toRecord = (row: typeof Row.Type): SessionRecord => ({
  taskId: row.task_id,
  sessionId: row.session_id,
  provider: row.provider,
  repository: row.repository,
  region: row.region,
  state: row.state,
  owner: row.owner,
  updatedAtMillis: row.updated_at_millis
})

/** The store's schema on Postgres, in order; applied once each (recorded in `hangar_session_migrations`). */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_sessions": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE IF NOT EXISTS hangar_sessions (
      task_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, provider TEXT NOT NULL, repository TEXT NOT NULL,
      region TEXT NOT NULL, state TEXT NOT NULL, owner TEXT NOT NULL, updated_at_millis BIGINT NOT NULL
    )`
  ),
  "0002_session_and_state_indexes": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      sql`CREATE INDEX IF NOT EXISTS hangar_sessions_by_session ON hangar_sessions (provider, session_id)`,
      sql`CREATE INDEX IF NOT EXISTS hangar_sessions_by_state ON hangar_sessions (state)`
    )
  )
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

/** The store's operations over a Postgres client whose schema is up to date. */
const makeService = (sql: SqlClient.SqlClient): SessionStoreService => {
  const select = (rows: ReadonlyArray<unknown>) =>
    Effect.map(decodeRows(rows), (decoded) => decoded.map(toRecord))
  return {
    put: (r) =>
      sql`INSERT INTO hangar_sessions (task_id, session_id, provider, repository, region, state, owner, updated_at_millis)
          VALUES (${r.taskId}, ${r.sessionId}, ${r.provider}, ${r.repository}, ${r.region}, ${r.state}, ${r.owner}, ${r.updatedAtMillis})
          ON CONFLICT (task_id) DO UPDATE SET session_id = excluded.session_id, provider = excluded.provider,
            repository = excluded.repository, region = excluded.region, state = excluded.state,
            owner = excluded.owner, updated_at_millis = excluded.updated_at_millis`.pipe(
        Effect.asVoid,
        Effect.mapError(failure("put"))
      ),
    get: (taskId) =>
      sql`SELECT * FROM hangar_sessions WHERE task_id = ${taskId}`.pipe(
        Effect.flatMap(select),
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.mapError(failure("get"))
      ),
    live: () =>
      sql`SELECT * FROM hangar_sessions WHERE state NOT IN ('released', 'failed') ORDER BY task_id`.pipe(
        Effect.flatMap(select),
        Effect.mapError(failure("live"))
      ),
    setSessionState: (provider, sessionId, state, atMillis) =>
      sql`UPDATE hangar_sessions SET state = ${state}, updated_at_millis = ${atMillis}
          WHERE provider = ${provider} AND session_id = ${sessionId} AND state NOT IN ('released', 'failed')`.pipe(
        Effect.asVoid,
        Effect.mapError(failure("setSessionState"))
      )
  }
}

/** The store over the Postgres client in context (shared with other tables of the program), migrated first. */
export const layerStore: Layer.Layer<SessionStore, SessionStoreError, SqlClient.SqlClient> = Layer.effect(
  SessionStore,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrateOnce.pipe(Effect.mapError(failure("migrate")))
    return makeService(sql)
  })
)

/** A Postgres client for `url` (postgres://user@host:port/db; a Redacted, as it may carry a password). */
export const layerClient = (
  url: Redacted.Redacted,
  options: { readonly maxConnections?: number } = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SessionStoreError> =>
  PgClient.layer({ url, maxConnections: options.maxConnections ?? 10, applicationName: "hangar" }).pipe(
    Layer.mapError((e) => new SessionStoreError({ operation: "connect", detail: e.message }))
  )

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
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SessionStoreError, R | SqlClient.SqlClient> =>
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
