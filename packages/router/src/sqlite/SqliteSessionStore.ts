/**
 * The session store in a SQLite file, on better-sqlite3 (a native addon) through @effect/sql-sqlite-node. Its
 * own entry point (`@hangar/router/sqlite`) so that a program composing only the in-memory or another SQL store
 * installs and loads no native code; @effect/sql-sqlite-node is an optional peer dependency of the router.
 */

import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Effect, Layer, Option } from "effect"
import * as SessionStore from "../SessionStore.js"

/**
 * Every commit synced to disk before it returns (WAL with `synchronous = FULL`), so a record the router wrote
 * before asking a provider for compute survives a kill -9 or a power cut.
 */
const durable: Layer.Layer<never, unknown, SqlClient.SqlClient> = Layer.effectDiscard(
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`PRAGMA synchronous = FULL`)
)

/** The SQLite store in the file `filename` (created if missing), its schema brought up to date by migrations. */
export const layer = (
  filename: string
): Layer.Layer<SessionStore.SessionStore, SessionStore.SessionStoreError> =>
  SessionStore.layerSql.pipe(
    Layer.provide(Layer.provideMerge(durable, SqliteClient.layer({ filename }))),
    Layer.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      const detail = Option.isSome(failure) ? String(failure.value) : Cause.pretty(cause)
      return Layer.fail(
        Option.isSome(failure) && failure.value instanceof SessionStore.SessionStoreError
          ? failure.value
          : new SessionStore.SessionStoreError({ operation: "open", detail: `${filename}: ${detail}` })
      )
    })
  )
