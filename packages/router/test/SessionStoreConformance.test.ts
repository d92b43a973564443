/**
 * The store conformance suite against the memory, SQLite and Postgres stores (a real Postgres: a cluster of
 * the test's own from Debian's postgresql, or HANGAR_TEST_DATABASE_URL's server), and what only the SQL stores
 * promise: records survive reopening the store, migrations run once when instances start together, and only
 * one holder of an advisory lock at a time.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Redacted } from "effect"
import * as PostgresStore from "../src/PostgresStore.js"
import * as SessionStore from "../src/SessionStore.js"
import * as SqliteSessionStore from "../src/sqlite/SqliteSessionStore.js"
import * as TestPostgres from "../src/TestPostgres.js"
import { storeConformance } from "./StoreConformance.js"

const sqliteDir = mkdtempSync(join(tmpdir(), "hangar-store-"))
afterAll(() => rmSync(sqliteDir, { recursive: true, force: true }))

/** A fresh Postgres database for the layer's lifetime. */
const postgres = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(Effect.promise(TestPostgres.start), (db) => Effect.promise(db.stop)),
    (db) => PostgresStore.layer(Redacted.make(db.url))
  )
)

storeConformance("memory", SessionStore.layerMemory)
storeConformance("SQLite", SqliteSessionStore.layer(join(sqliteDir, "conformance.db")))
storeConformance("Postgres", postgres)

describe("the Postgres store", () => {
  let db: TestPostgres.TestDatabase
  beforeAll(async () => {
    db = await TestPostgres.start()
  })
  afterAll(async () => {
    await db.stop()
  })
  const url = () => Redacted.make(db.url)
  const open = <A, E>(effect: Effect.Effect<A, E, SessionStore.SessionStore>) =>
    Effect.scoped(Effect.provide(effect, PostgresStore.layer(url())))

  it.effect("three instances migrating at once all come up, and a record one wrote the others read", () =>
    Effect.gen(function* () {
      const record: SessionStore.SessionRecord = {
        taskId: "shared-1",
        sessionId: "m1",
        provider: "fly",
        repository: "acme/app",
        region: "iad",
        state: "idle",
        owner: "a",
        updatedAtMillis: 1_700_000_000_000
      }
      const reads = yield* Effect.all(
        [0, 1, 2].map((i) =>
          open(
            Effect.gen(function* () {
              const store = yield* SessionStore.SessionStore
              if (i === 0) yield* store.put(record)
              return true
            })
          )
        ),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(reads, [true, true, true])
      const again = yield* open(Effect.flatMap(SessionStore.SessionStore, (s) => s.get("shared-1")))
      assert.deepStrictEqual(again, Option.some(record))
    })
  )

  it.effect("an advisory lock has one holder at a time; the other is told at once", () =>
    Effect.gen(function* () {
      const client = (effect: Effect.Effect<Option.Option<string>, unknown, never>) => effect
      const held = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const lock = PostgresStore.withAdvisoryLock(4242)
      const first = yield* Effect.fork(
        Effect.scoped(
          Effect.provide(
            lock(
              Effect.zipRight(Deferred.succeed(held, undefined), Effect.as(Deferred.await(release), "first"))
            ),
            PostgresStore.layerClient(url())
          )
        )
      )
      yield* Deferred.await(held)
      const whileHeld = yield* client(
        Effect.scoped(Effect.provide(lock(Effect.succeed("second")), PostgresStore.layerClient(url())))
      )
      assert.deepStrictEqual(whileHeld, Option.none())
      yield* Deferred.succeed(release, undefined)
      assert.deepStrictEqual(yield* Fiber.join(first), Option.some("first"))
      const after = yield* Effect.scoped(
        Effect.provide(lock(Effect.succeed("second")), PostgresStore.layerClient(url()))
      )
      assert.deepStrictEqual(after, Option.some("second"))
    })
  )
})
