/**
 * The session store and the database of the task book, from `[store]`: memory (both in memory: SQLite's
 * `:memory:` for the book), sqlite (one file for both, every commit synced; one instance) or postgres
 * (HANGAR_DATABASE_URL, one connection pool for both; several instances).
 */
import type { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { SessionStore } from "@hangar/router"
import { PostgresStore } from "@hangar/router/postgres"
import { SqliteSessionStore } from "@hangar/router/sqlite"
import { Effect, Layer, Option } from "effect"
import type { ServerConfig } from "./ServerConfig.js"

export type Stores = SessionStore.SessionStore | SqlClient.SqlClient

/** Every commit of the book synced before it returns, as the SQLite session store does. */
const durable = Layer.effectDiscard(
  Effect.flatMap(SqliteClient.SqliteClient, (sql) => sql`PRAGMA synchronous = FULL`)
)

const sqlite = (filename: string) => Layer.provideMerge(durable, SqliteClient.layer({ filename }))

export const layer = (
  config: ServerConfig
): Layer.Layer<Stores, SessionStore.SessionStoreError | unknown> => {
  switch (config.store.kind) {
    case "memory":
      return Layer.merge(SessionStore.layerMemory, sqlite(":memory:"))
    case "sqlite":
      return Layer.merge(SqliteSessionStore.layer(config.store.file), sqlite(config.store.file))
    case "postgres": {
      const client = PostgresStore.layerClient(Option.getOrThrow(config.secrets.databaseUrl), {
        maxConnections: config.store.maxConnections
      })
      return Layer.provideMerge(PostgresStore.layerStore, client)
    }
  }
}

/** Whether several instances may share the store. */
export const shared = (config: ServerConfig): boolean => config.store.kind === "postgres"
