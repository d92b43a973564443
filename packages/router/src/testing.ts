/** @hangar/router/testing: a real Postgres for tests (a cluster of its own, or HANGAR_TEST_DATABASE_URL's). */
export * as TestPostgres from "./TestPostgres.js"
