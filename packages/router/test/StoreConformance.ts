/**
 * One suite every SessionStore passes (memory, SQLite, Postgres), as core's `providerConformance` is for
 * providers: round trips, what `live` holds, a session's state change and what it leaves alone, times past
 * 2^31 milliseconds, and a seeded mix of writes compared step by step with the store's meaning written plainly.
 * Each check uses task ids of its own, so the checks share one store.
 */
import { assert, layer as vitestLayer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import * as SessionStore from "../src/SessionStore.js"

/** The store's meaning, written plainly: a session's state change walks every record. */
export const reference = (): SessionStore.Service => {
  const records = new Map<string, SessionStore.SessionRecord>()
  return {
    put: (record) => Effect.sync(() => void records.set(record.taskId, record)),
    get: (taskId) => Effect.sync(() => Option.fromNullable(records.get(taskId))),
    live: () => Effect.sync(() => [...records.values()].filter((r) => !SessionStore.isTerminal(r.state))),
    setSessionState: (provider, sessionId, state, atMillis) =>
      Effect.sync(() => {
        for (const [taskId, r] of records)
          if (r.provider === provider && r.sessionId === sessionId && !SessionStore.isTerminal(r.state))
            records.set(taskId, { ...r, state, updatedAtMillis: atMillis })
      })
  }
}

export const states: ReadonlyArray<SessionStore.SessionState> = [
  "dispatching",
  "running",
  "idle",
  "asleep",
  "creating",
  "failed",
  "released"
]

const record = (
  taskId: string,
  overrides: Partial<SessionStore.SessionRecord> = {}
): SessionStore.SessionRecord => ({
  taskId,
  sessionId: `s-${taskId}`,
  provider: "fly",
  repository: "acme/app",
  region: "iad",
  state: "running",
  owner: "router-a",
  updatedAtMillis: Date.UTC(2026, 11, 6),
  ...overrides
})

const ofPrefix = (prefix: string, records: ReadonlyArray<SessionStore.SessionRecord>) =>
  [...records].filter((r) => r.taskId.startsWith(prefix)).sort((a, b) => (a.taskId < b.taskId ? -1 : 1))

const store = SessionStore.SessionStore

/** The checks, by name. */
export const checks: Record<
  string,
  Effect.Effect<void, SessionStore.SessionStoreError, SessionStore.SessionStore>
> = {
  "a record reads back as put, and a missing one is none": Effect.gen(function* () {
    const s = yield* store
    const put = record("rt-1", { state: "creating", sessionId: "", updatedAtMillis: 4_102_444_800_123 })
    yield* s.put(put)
    assert.deepStrictEqual(yield* s.get("rt-1"), Option.some(put))
    assert.isTrue(Option.isNone(yield* s.get("rt-missing")))
  }),
  "a second put of a task replaces the first": Effect.gen(function* () {
    const s = yield* store
    yield* s.put(record("rp-1", { state: "creating", sessionId: "" }))
    const later = record("rp-1", { state: "idle", provider: "ecs", sessionId: "ecs-rp-1", owner: "router-b" })
    yield* s.put(later)
    assert.deepStrictEqual(yield* s.get("rp-1"), Option.some(later))
    assert.deepStrictEqual(ofPrefix("rp-", yield* s.live()), [later])
  }),
  "live holds every record but released and failed ones, intents included": Effect.gen(function* () {
    const s = yield* store
    for (const [i, state] of states.entries()) yield* s.put(record(`lv-${i}`, { state }))
    const live = ofPrefix("lv-", yield* s.live()).map((r) => r.state)
    assert.deepStrictEqual([...live].sort(), ["asleep", "creating", "dispatching", "idle", "running"])
  }),
  "a session's state change moves its live records only": Effect.gen(function* () {
    const s = yield* store
    yield* s.put(record("ss-1", { sessionId: "shared" }))
    yield* s.put(record("ss-2", { sessionId: "shared", state: "idle" }))
    yield* s.put(record("ss-3", { sessionId: "shared", state: "released" }))
    yield* s.put(record("ss-4", { sessionId: "shared", provider: "ecs" }))
    yield* s.setSessionState("fly", "shared", "asleep", 42)
    const get = (id: string) => Effect.map(s.get(id), Option.getOrThrow)
    assert.strictEqual((yield* get("ss-1")).state, "asleep")
    assert.strictEqual((yield* get("ss-1")).updatedAtMillis, 42)
    assert.strictEqual((yield* get("ss-2")).state, "asleep")
    assert.strictEqual((yield* get("ss-3")).state, "released")
    assert.strictEqual((yield* get("ss-4")).state, "running")
    yield* s.put(record("ss-1", { sessionId: "shared", state: "running", updatedAtMillis: 43 }))
    assert.strictEqual((yield* get("ss-1")).state, "running")
    yield* s.setSessionState("fly", "shared", "released", 44)
    assert.deepStrictEqual(
      ofPrefix("ss-", yield* s.live()).map((r) => r.taskId),
      ["ss-4"]
    )
    yield* s.setSessionState("fly", "shared", "idle", 45)
    assert.strictEqual((yield* get("ss-1")).state, "released")
  }),
  "a seeded mix of writes reads as the plain walk would": Effect.gen(function* () {
    const s = yield* store
    const plain = reference()
    const seed = 20261206
    let x = seed
    const next = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0
      return x % n
    }
    for (let step = 0; step < 400; step++) {
      const provider = next(2) === 0 ? "fly" : "ecs"
      const sessionId = `mx-s${next(6)}`
      const state = states[next(states.length)]!
      if (next(3) === 0) {
        yield* plain.setSessionState(provider, sessionId, state, step)
        yield* s.setSessionState(provider, sessionId, state, step)
      } else {
        const put = record(`mx-${next(40)}`, { sessionId, provider, state, updatedAtMillis: step })
        yield* plain.put(put)
        yield* s.put(put)
      }
      const probe = `mx-${next(40)}`
      assert.deepStrictEqual(yield* s.get(probe), yield* plain.get(probe), `seed ${seed}, step ${step}`)
    }
    assert.deepStrictEqual(
      ofPrefix("mx-", yield* s.live()),
      ofPrefix("mx-", yield* plain.live()),
      `seed ${seed}`
    )
    assert.isAbove((yield* plain.live()).length, 5)
  })
}

/** Registers the suite for one store; `layer` provides it (built once for all the checks). */
export const storeConformance = <E>(name: string, layer: Layer.Layer<SessionStore.SessionStore, E>): void => {
  vitestLayer(layer, { timeout: 120_000 })(`${name} session store conformance`, (it) => {
    for (const [check, effect] of Object.entries(checks)) it.effect(check, () => effect)
  })
}
