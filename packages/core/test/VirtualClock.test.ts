import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as VirtualClock from "../src/VirtualClock.js"

describe("VirtualClock", () => {
  it("timers fire in time order, ties in scheduling order, never early", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 60 }),
        async (delays) => {
          const clock = new VirtualClock.VirtualClock(0)
          const fired: Array<{ index: number; at: number; due: number }> = []
          const all = delays.map((delay, index) =>
            clock.sleepMillis(delay).then(() => {
              fired.push({ index, at: clock.now(), due: delay })
            })
          )
          await clock.runUntilIdle()
          await Promise.all(all)
          const expected = delays
            .map((due, index) => ({ index, due }))
            .sort((a, b) => a.due - b.due || a.index - b.index)
          return (
            fired.length === delays.length &&
            fired.every((f, i) => f.index === expected[i]!.index && f.at === f.due)
          )
        }
      ),
      { seed: 7, numRuns: 100 }
    )
  })

  it("does not move while work is in flight, and moves to the next timer once it settles", async () => {
    const clock = new VirtualClock.VirtualClock(1_000)
    const order: Array<string> = []
    void clock.sleepMillis(10).then(() => order.push(`timer@${clock.now()}`))
    let release: () => void = () => undefined
    void clock
      .track(new Promise<void>((resolve) => (release = resolve)))
      .then(() => order.push(`work@${clock.now()}`))
    const advancing = clock.advanceBy(100)
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepStrictEqual(order, [])
    release()
    await advancing
    assert.deepStrictEqual(order, ["work@1000", "timer@1010"])
    assert.strictEqual(clock.now(), 1_100)
  })

  it("is the Effect clock: Effect.sleep and timeouts run on virtual time", async () => {
    const clock = new VirtualClock.VirtualClock(0)
    const program = Effect.gen(function* () {
      yield* Effect.sleep("30 days")
      return yield* Effect.sleep("2 hours").pipe(Effect.timeout("1 hour"), Effect.either)
    })
    const result = await Effect.runPromise(VirtualClock.drive(clock, program))
    assert.strictEqual(result._tag, "Left")
    assert.strictEqual(clock.now(), 30 * 86_400_000 + 3_600_000)
  })

  it("reports work that waits on nothing instead of hanging", async () => {
    const clock = new VirtualClock.VirtualClock(0)
    const never = new Promise<void>(() => undefined)
    let message = ""
    await VirtualClock.runToCompletion(clock, never, 50).catch((e: Error) => {
      message = e.message
    })
    assert.include(message, "waiting on nothing")
  })
})

describe("RealClock.schedule", () => {
  it("never fires before its time, and a cancelled timer never fires", async () => {
    const clock = new VirtualClock.RealClock()
    const early: Array<number> = []
    let cancelledFired = false
    const cancel = clock.schedule(Date.now() + 2, () => {
      cancelledFired = true
    })
    cancel()
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const at = Date.now() + 1 + (i % 5)
        return new Promise<void>((resolve) =>
          clock.schedule(at, () => {
            if (Date.now() < at) early.push(at - Date.now())
            resolve()
          })
        )
      })
    )
    assert.deepStrictEqual(early, [])
    assert.isFalse(cancelledFired)
  })

  it.prop(
    "the timer queue gives the earliest timer (ties: the first scheduled) under any mix of pushes and pops",
    [fc.array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), { maxLength: 300 })],
    ([steps]) => {
      // A number pushes a timer due then; undefined pops. The reference is a list kept sorted by (at, seq).
      const queue = new VirtualClock.TimerQueue()
      const reference: Array<VirtualClock.Timer> = []
      let seq = 0
      for (const at of steps) {
        if (at === undefined) {
          assert.strictEqual(queue.pop(), reference.shift())
        } else {
          const timer = { at, seq: seq++, fire: () => {}, cancelled: false }
          queue.push(timer)
          reference.push(timer)
          reference.sort((a, b) => a.at - b.at || a.seq - b.seq)
        }
        assert.strictEqual(queue.size, reference.length)
        assert.strictEqual(queue.peek(), reference[0])
      }
    },
    { fastCheck: { seed: 20261206, numRuns: 300 } }
  )
})
