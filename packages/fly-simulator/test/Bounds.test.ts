import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import * as FlySimulator from "../src/FlySimulator.js"
import { SeededRandom } from "../src/model/Random.js"
import { machineAction, RateLimiter } from "../src/RateLimits.js"

const token = "bounds-token"

const make = async (options: Partial<FlySimulator.Options> = {}) => {
  const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const sim = await FlySimulator.make({ clock, seed: 2, tokens: [{ token }], ...options })
  const call = async (method: string, url: string, body?: unknown) => {
    const response = await VirtualClock.runToCompletion(
      clock,
      sim.server.inject({
        method: method as "GET",
        url,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) })
      })
    )
    return { status: response.statusCode, json: response.body.length > 0 ? response.json() : undefined }
  }
  return { sim, clock, call }
}

describe("bounded memory under abuse", () => {
  it("keeps no rate-limit bucket for ids that do not exist, and at most maxRateLimitBuckets for those that do", async () => {
    const { sim, call } = await make({ rateLimits: true })
    await call("POST", "/v1/apps", { app_name: "abuse" })
    const limiter = sim.rateLimiter!
    const baseline = limiter.size
    const random = new SeededRandom(77)
    for (let i = 0; i < 4_000; i++) {
      const id = random.machineId()
      const answer = await call(
        i % 2 === 0 ? "GET" : "POST",
        `/v1/apps/abuse/machines/${id}${i % 2 === 0 ? "" : "/stop"}`
      )
      assert.strictEqual(answer.status, 404)
      if (i % 500 === 0)
        assert.strictEqual((await call("GET", `/v1/apps/app${random.hex(8)}/machines`)).status, 404)
    }
    assert.strictEqual(limiter.size, baseline)
    // Existing resources do get buckets, and those are still enforced.
    const m = (await call("POST", "/v1/apps/abuse/machines", { config: { image: "i" }, skip_launch: true }))
      .json
    const statuses: Array<number> = []
    for (let i = 0; i < 4; i++)
      statuses.push((await call("POST", `/v1/apps/abuse/machines/${m.id}/cordon`)).status)
    assert.deepStrictEqual(statuses, [200, 200, 200, 429])
    assert.isAbove(limiter.size, baseline)

    const clock = new VirtualClock.VirtualClock(0)
    const bounded = new RateLimiter(clock, 100)
    for (let i = 0; i < 10_000; i++) bounded.take(`key-${i}`, machineAction)
    assert.strictEqual(bounded.size, 100)
    // The most recent buckets are the ones kept: the newest key is still drained.
    for (let i = 0; i < 2; i++) bounded.take("key-9999", machineAction)
    assert.isAbove(bounded.take("key-9999", machineAction), 0)
  })

  it("forgets destroyed machines after the retention and beyond maxDestroyedMachines; the bill keeps their cost", async () => {
    const { sim, clock, call } = await make({ rateLimits: false, maxDestroyedMachines: 200 })
    await call("POST", "/v1/apps", { app_name: "churn" })
    const live = (await call("POST", "/v1/apps/churn/machines", { config: { image: "i" } })).json.id as string
    const destroyed: Array<string> = []
    for (let i = 0; i < 1_500; i++) {
      const m = (await call("POST", "/v1/apps/churn/machines", { config: { image: "i" } })).json.id as string
      await clock.advanceBy(2_000)
      assert.strictEqual((await call("DELETE", `/v1/apps/churn/machines/${m}?force=true`)).status, 200)
      destroyed.push(m)
    }
    await clock.advanceBy(60_000)
    const bill = sim.billing().totalMicroUsd
    assert.isAbove(bill, 0)
    const listed = (await call("GET", "/v1/apps/churn/machines?include_deleted=true")).json as Array<{
      id: string
    }>
    assert.isAtMost(sim.model.destroyedKept, 200)
    // Without --data-dir no journal reads the changes, so none are recorded.
    assert.isTrue(sim.model.changes.empty)
    assert.isAtMost(sim.model.machines.size, 201)
    assert.strictEqual(listed.length, sim.model.machines.size)
    // The newest destroyed machine is still listed; the oldest is forgotten: 404, as Fly answers.
    assert.strictEqual(
      (await call("GET", `/v1/apps/churn/machines/${destroyed.at(-1)}`)).json.state,
      "destroyed"
    )
    assert.strictEqual((await call("GET", `/v1/apps/churn/machines/${destroyed[0]}`)).status, 404)
    assert.strictEqual(sim.billing().totalMicroUsd, bill)
    // After the retention (one hour by default) every destroyed machine is forgotten; the live one stays.
    await clock.advanceBy(3_600_000)
    const before = sim.billing().totalMicroUsd
    const after = (await call("GET", "/v1/apps/churn/machines?include_deleted=true")).json as Array<{
      id: string
    }>
    assert.deepStrictEqual(
      after.map((m) => m.id),
      [live]
    )
    assert.strictEqual(sim.model.destroyedKept, 0)
    assert.strictEqual(sim.billing().totalMicroUsd, before)
    const retired = sim.billing().lines.filter((l) => l.resource === "destroyed-machines:churn")
    assert.isAbove(
      retired.reduce((sum, l) => sum + l.costMicroUsd, 0),
      0
    )
    assert.strictEqual(retired.reduce((sum, l) => sum + l.intervals, 0) >= 1_500, true)
  })
})
