import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option, TestClock } from "effect"
import * as Pagination from "../src/internal/Pagination.js"
import * as Polling from "../src/internal/Polling.js"

describe("Polling.untilSettled", () => {
  it.effect("looks at once, then after 2, 4, 8 s and every 15 s, until a look settles", () =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const lookedAt: Array<number> = []
      const look = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        lookedAt.push((now - started) / 1000)
        return Effect.succeed(lookedAt.length === 6 ? Option.some("RUNNING") : Option.none())
      })
      const fiber = yield* Effect.fork(
        Polling.untilSettled({
          first: look,
          next: look,
          schedule: Polling.backoff("15 seconds"),
          deadlineMillis: 60 * 60_000,
          onDeadline: () => "deadline"
        })
      )
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* Fiber.join(fiber), "RUNNING")
      assert.deepStrictEqual(lookedAt, [0, 2, 6, 14, 29, 44])
    })
  )

  it.effect("takes `first` without asking, and fails once a look past the deadline has not settled", () =>
    Effect.gen(function* () {
      let asked = 0
      const fiber = yield* Effect.fork(
        Effect.flip(
          Polling.untilSettled<string, string>({
            first: Effect.succeed(Option.none()),
            next: Effect.sync(() => {
              asked++
              return Option.none()
            }),
            schedule: Polling.backoff("10 seconds"),
            deadlineMillis: 30_000,
            onDeadline: () => "deadline"
          })
        )
      )
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* Fiber.join(fiber), "deadline")
      // looks at 2, 6, 14, 24 and 34 s: the one at 34 s is past the 30 s deadline
      assert.strictEqual(asked, 5)
    })
  )
})

describe("Pagination", () => {
  it.effect("paginate follows nextToken until a page has none, keeping the items in order", () =>
    Effect.gen(function* () {
      const pages = new Map<string | undefined, { items: Array<number>; nextToken?: string }>([
        [undefined, { items: [1, 2], nextToken: "b" }],
        ["b", { items: [], nextToken: "c" }],
        ["c", { items: [3] }]
      ])
      const asked: Array<string | undefined> = []
      const items = yield* Pagination.paginate((token) => {
        asked.push(token)
        return Effect.succeed(pages.get(token)!)
      })
      assert.deepStrictEqual(items, [1, 2, 3])
      assert.deepStrictEqual(asked, [undefined, "b", "c"])
    })
  )

  it.effect("describeInChunks asks for at most 100 ARNs at a time and joins the answers in order", () =>
    Effect.gen(function* () {
      const arns = Array.from({ length: 250 }, (_, i) => `arn-${i}`)
      const sizes: Array<number> = []
      const described = yield* Pagination.describeInChunks(arns, (chunk) => {
        sizes.push(chunk.length)
        return Effect.succeed(chunk.map((arn) => arn.toUpperCase()))
      })
      assert.deepStrictEqual(sizes, [100, 100, 50])
      assert.deepStrictEqual(
        described,
        arns.map((arn) => arn.toUpperCase())
      )
      assert.deepStrictEqual(yield* Pagination.describeInChunks([], () => Effect.die("not asked")), [])
    })
  )
})
