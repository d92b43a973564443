/**
 * The task book's lease protocol on a real Postgres and on SQLite: a submit is idempotent by task id; one holder
 * at a time; an expired lease is claimed by another instance with a higher fencing token, after which the old
 * holder's writes change nothing; instances sweeping expired leases together take disjoint tasks (FOR UPDATE
 * SKIP LOCKED); and what another live instance holds is reported so its compute is left alone.
 */
import type { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { SessionStore } from "@hangar/router"
import { PostgresStore } from "@hangar/router/postgres"
import { TestPostgres } from "@hangar/router/testing"
import { Effect, Layer, Option, Redacted } from "effect"
import * as TaskBook from "../src/TaskBook.js"

const postgres = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(Effect.promise(TestPostgres.start), (db) => Effect.promise(db.stop)),
    (db) => Layer.provideMerge(PostgresStore.layerStore, PostgresStore.layerClient(Redacted.make(db.url)))
  )
)
const sqlite = Layer.merge(SessionStore.layerMemory, SqliteClient.layer({ filename: ":memory:" }))

const lease = 10_000
const t0 = Date.UTC(2026, 11, 6)

const books = (shared: boolean) =>
  Effect.all([
    TaskBook.make({ instanceId: "a", leaseMillis: lease, shared }),
    TaskBook.make({ instanceId: "b", leaseMillis: lease, shared })
  ])

const protocol = (
  name: string,
  stores: Layer.Layer<SessionStore.SessionStore | SqlClient.SqlClient, unknown>,
  shared: boolean
) =>
  layer(stores, { timeout: 120_000 })(`the task book on ${name}`, (it) => {
    it.effect("a submit is idempotent by task id", () =>
      Effect.gen(function* () {
        const [a, b] = yield* books(shared)
        const first = yield* a.submit("s-1", '{"taskId":"s-1"}', t0)
        const again = yield* b.submit("s-1", '{"taskId":"s-1","other":1}', t0 + 5)
        assert.isTrue(first.created)
        assert.isFalse(again.created)
        assert.strictEqual(again.row.spec, '{"taskId":"s-1"}')
        assert.strictEqual(again.row.createdAt, t0)
      })
    )

    it.effect("one holder at a time; after the expiry another claims it and fences the first out", () =>
      Effect.gen(function* () {
        const [a, b] = yield* books(shared)
        yield* a.submit("f-1", "{}", t0)
        const held = Option.getOrThrow(yield* a.claim("f-1", t0))
        assert.isTrue(Option.isNone(yield* b.claim("f-1", t0 + 1)))
        assert.isTrue(Option.isNone(yield* b.claim("f-1", t0 + lease)))
        assert.isTrue(yield* a.step(held, "intent", t0 + 2))
        // Past the expiry the holder may not send the command, even before anyone else claims the task.
        assert.isFalse(yield* a.markExec(held, t0 + lease + 1))
        const taken = Option.getOrThrow(yield* b.claim("f-1", t0 + lease + 1))
        assert.strictEqual(taken.token, held.token + 1)
        assert.strictEqual(taken.row.attempts, 2)
        assert.isFalse(yield* a.step(held, "created", t0 + lease + 2))
        assert.isFalse(yield* a.complete(held, { state: "succeeded" }, t0 + lease + 2))
        assert.isTrue(yield* b.markExec(taken, t0 + lease + 2))
        assert.isTrue(yield* b.complete(taken, { state: "succeeded", provider: "fly" }, t0 + lease + 3))
        const done = Option.getOrThrow(yield* a.get("f-1"))
        assert.strictEqual(done.state, "succeeded")
        assert.isTrue(done.execSent)
        assert.strictEqual(done.provider, "fly")
        assert.isTrue(Option.isNone(yield* a.claim("f-1", t0 + 10 * lease)))
      })
    )

    it.effect("a heartbeat keeps the holder's lease; without one the lease expires", () =>
      Effect.gen(function* () {
        const [a, b] = yield* books(shared)
        yield* a.submit("h-1", "{}", t0)
        const held = Option.getOrThrow(yield* a.claim("h-1", t0))
        yield* a.heartbeat(t0 + lease - 1, [held])
        assert.isTrue(Option.isNone(yield* b.claim("h-1", t0 + lease + 5)))
        assert.deepStrictEqual(
          (yield* b.claimExpired(t0 + 2 * lease + 5, 10)).map((l) => l.taskId).filter((id) => id === "h-1"),
          ["h-1"]
        )
      })
    )

    it.effect("sweeps of expired leases by two instances at once take disjoint tasks, all of them", () =>
      Effect.gen(function* () {
        const [a, b] = yield* books(shared)
        const ids = Array.from({ length: 60 }, (_, i) => `x-${i}`)
        for (const id of ids) yield* a.submit(id, "{}", t0)
        const later = t0 + 100 * lease
        const [byA, byB] = yield* Effect.all(
          [
            Effect.map(Effect.all([a.claimExpired(later, 20), a.claimExpired(later, 20)]), (r) => r.flat()),
            Effect.map(Effect.all([b.claimExpired(later, 20), b.claimExpired(later, 20)]), (r) => r.flat())
          ],
          { concurrency: "unbounded" }
        )
        const taken = [...byA, ...byB].map((l) => l.taskId).filter((id) => id.startsWith("x-"))
        assert.strictEqual(new Set(taken).size, taken.length, "a task claimed twice")
        assert.deepStrictEqual([...taken].sort(), [...ids].sort())
      })
    )

    it.effect("reports what this instance must leave alone", () =>
      Effect.gen(function* () {
        const [a, b] = yield* books(shared)
        yield* a.submit("e-1", "{}", t0)
        yield* a.submit("e-2", "{}", t0)
        const mine = Option.getOrThrow(yield* a.claim("e-1", t0))
        yield* a.heartbeat(t0, [mine])
        yield* b.heartbeat(t0, [])
        const forA = yield* a.heldElsewhere(t0 + 1)
        const forB = yield* b.heldElsewhere(t0 + 1)
        assert.isFalse(forA.has("e-1"))
        assert.isTrue(forA.has("e-2"))
        assert.isTrue(forB.has("e-1") && forB.has("e-2"))
        if (shared) {
          const store = yield* SessionStore.SessionStore
          yield* store.put({
            taskId: "e-done",
            sessionId: "m-1",
            provider: "fly",
            repository: "r",
            region: "iad",
            state: "idle",
            owner: "b",
            updatedAtMillis: t0
          })
          assert.isTrue((yield* a.heldElsewhere(t0 + 1)).has("e-done"))
          // Once b's heartbeat has expired, its sessions are a's to adopt.
          assert.isFalse((yield* a.heldElsewhere(t0 + lease + 1)).has("e-done"))
        }
      })
    )
  })

describe("leases", () => {
  protocol("Postgres", postgres, true)
  protocol("SQLite", sqlite, false)
})
