/** @hangar/router/sqlite: the session store in a SQLite file (needs @effect/sql-sqlite-node, a native addon). */
export * as SqliteSessionStore from "./SqliteSessionStore.js"
