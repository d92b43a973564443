/**
 * What the router knows about the sessions it dispatched, keyed by task id, so that a restarted router knows
 * its sessions and reconciliation can tell owned compute from orphans. A dispatch first writes an intent (state
 * `creating`, no session yet) and only then asks a provider for compute, so a crash at any point leaves a record
 * naming the task. In memory by default; over any @effect/sql client (`layerSql`, schema by migrations) to survive
 * a restart: the SQLite file store, every write committed and synced before it returns, is `@hangar/router/sqlite`.
 */

import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { Context, Effect, Layer, Option, Schema } from "effect"

/**
 * `creating`: the intent, written before the provider is asked for compute (`sessionId` is empty until the
 * create answers); `failed`: an intent whose create never completed and left no compute (terminal, like
 * `released`).
 */
export const SessionState = Schema.Literal(
  "creating",
  "dispatching",
  "running",
  "idle",
  "asleep",
  "released",
  "failed"
)
export type SessionState = typeof SessionState.Type

/** States that own nothing any more. */
export const isTerminal = (state: SessionState): boolean => state === "released" || state === "failed"

export const SessionRecord = Schema.Struct({
  taskId: Schema.String,
  sessionId: Schema.String,
  provider: Schema.String,
  repository: Schema.String,
  region: Schema.String,
  state: SessionState,
  /** The router instance that last touched the record (a restarted router adopts the others' records). */
  owner: Schema.String,
  updatedAtMillis: Schema.Number
})
export type SessionRecord = typeof SessionRecord.Type

export class SessionStoreError extends Schema.TaggedError<SessionStoreError>(
  "@hangar/router/SessionStoreError"
)("SessionStoreError", { operation: Schema.String, detail: Schema.String }) {
  override get message(): string {
    return `session store ${this.operation} failed: ${this.detail}. Check the store's file and permissions.`
  }
}

export interface Service {
  readonly put: (record: SessionRecord) => Effect.Effect<void, SessionStoreError>
  readonly get: (taskId: string) => Effect.Effect<Option.Option<SessionRecord>, SessionStoreError>
  /** Every record not released or failed (intents included). */
  readonly live: () => Effect.Effect<ReadonlyArray<SessionRecord>, SessionStoreError>
  /** Moves every record of a session (all tasks that ran on it) to `state`. */
  readonly setSessionState: (
    provider: string,
    sessionId: string,
    state: SessionState,
    atMillis: number
  ) => Effect.Effect<void, SessionStoreError>
}

export class SessionStore extends Context.Tag("@hangar/router/SessionStore")<SessionStore, Service>() {}

const sessionKey = (record: { readonly provider: string; readonly sessionId: string }) =>
  `${record.provider}\u0000${record.sessionId}`

interface Change {
  /** When it was made, in the order of every write to the store. */
  readonly seq: number
  readonly state: SessionState
  readonly atMillis: number
}

/** A session's state changes, as far as a record's view needs them. */
interface SessionChanges {
  /** The latest change. */
  latest: Change
  /** Changes to a terminal state, in order: the first after a record's put ends that record's changes. */
  readonly terminal: Array<Change>
}

/**
 * The store in memory, in constant time per write. A session's state change is kept beside the records, not
 * copied into each (walking every record of the session once per sleep was most of a simulated month's time),
 * and a record is read as the plain walk would have left it: the first change to a terminal state made after
 * the record was put, else the latest change made after it, else the record as put.
 */
export const makeMemory = (): Service => {
  let seq = 0
  const records = new Map<string, { readonly record: SessionRecord; readonly seq: number }>()
  const sessions = new Map<string, SessionChanges>()
  const view = ({
    record,
    seq: put
  }: {
    readonly record: SessionRecord
    readonly seq: number
  }): SessionRecord => {
    if (isTerminal(record.state)) return record
    const changes = sessions.get(sessionKey(record))
    if (changes === undefined || changes.latest.seq < put) return record
    const change = changes.terminal.find((c) => c.seq > put) ?? changes.latest
    return { ...record, state: change.state, updatedAtMillis: change.atMillis }
  }
  return {
    put: (record) => Effect.sync(() => void records.set(record.taskId, { record, seq: ++seq })),
    get: (taskId) =>
      Effect.sync(() => {
        const entry = records.get(taskId)
        return entry === undefined ? Option.none() : Option.some(view(entry))
      }),
    live: () =>
      Effect.sync(() => {
        const out: Array<SessionRecord> = []
        for (const entry of records.values()) {
          const record = view(entry)
          if (!isTerminal(record.state)) out.push(record)
        }
        return out
      }),
    setSessionState: (provider, sessionId, state, atMillis) =>
      Effect.sync(() => {
        const key = sessionKey({ provider, sessionId })
        const change = { seq: ++seq, state, atMillis }
        const changes = sessions.get(key)
        if (changes === undefined)
          sessions.set(key, { latest: change, terminal: isTerminal(state) ? [change] : [] })
        else {
          changes.latest = change
          if (isTerminal(state)) changes.terminal.push(change)
        }
      })
  }
}

export const layerMemory: Layer.Layer<SessionStore> = Layer.sync(SessionStore, makeMemory)

const decodeRows = Schema.decodeUnknown(Schema.Array(SessionRecord))

/**
 * The store's schema, in order; applied once each (recorded in `hangar_session_migrations`). The first is
 * written so that it also adopts a table made before migrations existed.
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_sessions": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE IF NOT EXISTS hangar_sessions (
      task_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, provider TEXT NOT NULL, repository TEXT NOT NULL,
      region TEXT NOT NULL, state TEXT NOT NULL, owner TEXT NOT NULL, updated_at_millis INTEGER NOT NULL
    )`
  ),
  // Reconciliation and idle transitions look records up by session and by state.
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

/** The store over a SQL database, its schema brought up to date by `migrations`. */
export const layerSql: Layer.Layer<SessionStore, SessionStoreError, SqlClient.SqlClient> = Layer.effect(
  SessionStore,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const fail = (operation: string) => (e: unknown) =>
      new SessionStoreError({ operation, detail: e instanceof Error ? e.message : String(e) })
    yield* migrate.pipe(Effect.mapError(fail("migrate")))
    const select = (rows: ReadonlyArray<Record<string, unknown>>) =>
      decodeRows(
        rows.map((r) => ({
          taskId: r.task_id,
          sessionId: r.session_id,
          provider: r.provider,
          repository: r.repository,
          region: r.region,
          state: r.state,
          owner: r.owner,
          updatedAtMillis: r.updated_at_millis
        }))
      )
    return {
      put: (r) =>
        sql`INSERT INTO hangar_sessions (task_id, session_id, provider, repository, region, state, owner, updated_at_millis)
            VALUES (${r.taskId}, ${r.sessionId}, ${r.provider}, ${r.repository}, ${r.region}, ${r.state}, ${r.owner}, ${r.updatedAtMillis})
            ON CONFLICT(task_id) DO UPDATE SET session_id = excluded.session_id, provider = excluded.provider,
              repository = excluded.repository, region = excluded.region, state = excluded.state,
              owner = excluded.owner, updated_at_millis = excluded.updated_at_millis`.pipe(
          Effect.asVoid,
          Effect.mapError(fail("put"))
        ),
      get: (taskId) =>
        sql`SELECT * FROM hangar_sessions WHERE task_id = ${taskId}`.pipe(
          Effect.flatMap(select),
          Effect.map((rows) => Option.fromNullable(rows[0])),
          Effect.mapError(fail("get"))
        ),
      live: () =>
        sql`SELECT * FROM hangar_sessions WHERE state NOT IN ('released', 'failed') ORDER BY task_id`.pipe(
          Effect.flatMap(select),
          Effect.mapError(fail("live"))
        ),
      setSessionState: (provider, sessionId, state, atMillis) =>
        sql`UPDATE hangar_sessions SET state = ${state}, updated_at_millis = ${atMillis}
            WHERE provider = ${provider} AND session_id = ${sessionId} AND state NOT IN ('released', 'failed')`.pipe(
          Effect.asVoid,
          Effect.mapError(fail("setSessionState"))
        )
    }
  })
)
