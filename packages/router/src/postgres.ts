/** @hangar/router/postgres: the session store on Postgres, for several router instances on one database. */
export * as PostgresStore from "./PostgresStore.js"
