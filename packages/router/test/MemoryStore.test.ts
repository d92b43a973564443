import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SessionStore from "../src/SessionStore.js"
import { reference, states } from "./StoreConformance.js"

describe("the memory store", () => {
  it.effect("answers every get and live as walking every record would, over a seeded mix of writes", () =>
    Effect.gen(function* () {
      const seed = 20261206
      let x = seed
      const next = (n: number) => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0
        return x % n
      }
      const plain = reference()
      const indexed = yield* Effect.provide(SessionStore.SessionStore, SessionStore.layerMemory)
      for (let step = 0; step < 3000; step++) {
        const provider = next(2) === 0 ? "fly" : "ecs"
        const sessionId = `s${next(6)}`
        const taskId = `t${next(40)}`
        const state = states[next(states.length)]!
        if (next(3) === 0) {
          yield* plain.setSessionState(provider, sessionId, state, step)
          yield* indexed.setSessionState(provider, sessionId, state, step)
        } else {
          const record = {
            taskId,
            sessionId,
            provider,
            repository: "a/b",
            region: "iad",
            state,
            owner: "r",
            updatedAtMillis: step
          }
          yield* plain.put(record)
          yield* indexed.put(record)
        }
        const probe = `t${next(40)}`
        assert.deepStrictEqual(
          yield* indexed.get(probe),
          yield* plain.get(probe),
          `seed ${seed}, step ${step}`
        )
      }
      const byTask = (records: ReadonlyArray<SessionStore.SessionRecord>) =>
        [...records].sort((a, b) => (a.taskId < b.taskId ? -1 : 1))
      assert.deepStrictEqual(byTask(yield* indexed.live()), byTask(yield* plain.live()), `seed ${seed}`)
      assert.isAbove((yield* plain.live()).length, 5)
    })
  )
})
