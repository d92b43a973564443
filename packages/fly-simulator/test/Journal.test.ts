import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import * as FlySimulator from "../src/FlySimulator.js"
import * as Persistence from "../src/Persistence.js"

const token = "journal-token"
const start = Date.UTC(2026, 0, 1)

const make = async (dataDir: string, options: Partial<FlySimulator.Options> = {}) => {
  const clock = new VirtualClock.VirtualClock(start)
  const sim = await FlySimulator.make({
    clock,
    seed: 11,
    tokens: [{ token }],
    rateLimits: false,
    dataDir,
    ...options
  })
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await VirtualClock.runToCompletion(
      clock,
      sim.fetch(`http://fly-sim.internal${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
    )
    const text = await response.text()
    return { status: response.status, json: text.length > 0 ? JSON.parse(text) : undefined }
  }
  const dump = async () => JSON.stringify((await call("GET", "/_sim/state")).json)
  return { sim, clock, call, dump }
}

/** A session that touches every kind of entity and moves the virtual clock; nothing is closed after it. */
const session = async ({ call }: Awaited<ReturnType<typeof make>>) => {
  await call("POST", "/v1/apps", { app_name: "jr" })
  await call("POST", "/v1/apps", { app_name: "gone" })
  const volume = (await call("POST", "/v1/apps/jr/volumes", { name: "data", region: "iad", size_gb: 3 })).json
  const m = (
    await call("POST", "/v1/apps/jr/machines", {
      config: { image: "img", mounts: [{ volume: volume.id, path: "/data" }] }
    })
  ).json
  await call("GET", `/v1/apps/jr/machines/${m.id}/wait?state=started`)
  await call("POST", `/v1/apps/jr/machines/${m.id}/exec`, { command: ["write", "/data/note", "kept"] })
  await call("POST", `/v1/apps/jr/machines/${m.id}/metadata/constructor`, { value: "one" })
  await call("POST", `/v1/apps/jr/machines/${m.id}/lease`, { ttl: 3600 })
  await call("POST", "/_sim/clock/advance", { millis: 3 * 3_600_000 })
  await call("DELETE", "/v1/apps/gone")
  const other = (await call("POST", "/v1/apps/jr/volumes", { name: "other", region: "lhr" })).json
  await call("DELETE", `/v1/apps/jr/volumes/${other.id}`)
  await call("POST", "/_sim/clock/advance", { millis: 60_000 })
  return m.id as string
}

describe("the journal", () => {
  it("replays every answered write after a crash (no close): state, files, metadata, clock and bill", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-journal-"))
    try {
      const first = await make(dataDir)
      const id = await session(first)
      const state = await first.dump()
      const bill = JSON.stringify(first.sim.billing())
      assert.isAbove(first.sim.billing().totalMicroUsd, 0)
      assert.isAbove(statSync(join(dataDir, Persistence.journalName)).size, 0)
      // The first simulator is left as a kill would leave it: nothing more is written.
      const second = await make(dataDir)
      assert.isAbove(first.clock.now(), start + 3 * 3_600_000)
      assert.strictEqual(second.clock.now(), first.clock.now())
      assert.strictEqual(await second.dump(), state)
      assert.strictEqual(JSON.stringify(second.sim.billing()), bill)
      const read = await second.call("POST", `/v1/apps/jr/machines/${id}/exec`, {
        command: ["cat", "/data/note"]
      })
      assert.strictEqual(read.json.stdout, "kept")
      const value = await second.call("GET", `/v1/apps/jr/machines/${id}/metadata/constructor`)
      assert.deepStrictEqual(value.json, { value: "one" })
      assert.strictEqual((await second.call("GET", `/v1/apps/gone/machines`)).status, 404)
      await second.sim.close()
      await first.sim.server.close()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("keeps the cost of forgotten destroyed machines across a crash", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-journal-"))
    try {
      const first = await make(dataDir, { maxDestroyedMachines: 1 })
      await first.call("POST", "/v1/apps", { app_name: "churn" })
      for (let i = 0; i < 4; i++) {
        const m = (await first.call("POST", "/v1/apps/churn/machines", { config: { image: "i" } })).json
        await first.clock.advanceBy(60_000)
        await first.call("DELETE", `/v1/apps/churn/machines/${m.id}?force=true`)
        await first.clock.advanceBy(60_000)
      }
      await first.call("GET", "/v1/apps/churn/machines")
      assert.strictEqual(first.sim.model.destroyedKept, 1)
      const bill = JSON.stringify(first.sim.billing())
      assert.include(bill, "destroyed-machines:churn")
      const second = await make(dataDir, { maxDestroyedMachines: 1 })
      assert.strictEqual(JSON.stringify(second.sim.billing()), bill)
      assert.strictEqual(second.sim.model.machines.size, 1)
      await second.sim.close()
      await first.sim.server.close()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("reads a snapshot written before the journal (no seq, metadata as an object)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-journal-"))
    try {
      const first = await make(dataDir)
      const id = await session(first)
      await first.sim.close()
      const path = join(dataDir, Persistence.fileName)
      const old = JSON.parse(readFileSync(path, "utf8")) as {
        seq?: number
        machines: Array<{ metadata: unknown }>
      }
      delete old.seq
      for (const m of old.machines) m.metadata = Object.fromEntries(m.metadata as Array<[string, string]>)
      writeFileSync(path, JSON.stringify(old))
      rmSync(join(dataDir, Persistence.journalName))
      const second = await make(dataDir)
      const value = await second.call("GET", `/v1/apps/jr/machines/${id}/metadata/constructor`)
      assert.deepStrictEqual(value.json, { value: "one" })
      await second.sim.close()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("drops a torn last line (a write never answered) and refuses to start on a bad line before it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-journal-"))
    try {
      const first = await make(dataDir)
      await session(first)
      const state = await first.dump()
      const journal = join(dataDir, Persistence.journalName)
      const lines = readFileSync(journal, "utf8")
      appendFileSync(journal, '{"seq":999,"clockMillis":1,"random":1,"transitions":1,"apps":[{"na')
      const second = await make(dataDir)
      assert.strictEqual(await second.dump(), state)
      await second.sim.server.close()
      // A restart rewrote the snapshot and emptied the journal; put a corrupt line before good ones.
      writeFileSync(journal, `{"seq":1000,"oops":true}\n${lines}`)
      const refused = await make(dataDir).then(
        () => undefined,
        (error: Error) => error.message
      )
      assert.match(String(refused), /fly-simulator\.journal is corrupt at byte 0/)
      await first.sim.server.close()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("a write costs what it changed: the same change appends the same bytes (give or take counters' digits) with 5 or 205 machines", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-journal-"))
    try {
      const sim = await make(dataDir)
      const journal = join(dataDir, Persistence.journalName)
      await sim.call("POST", "/v1/apps", { app_name: "big" })
      const create = () =>
        sim.call("POST", "/v1/apps/big/machines", { config: { image: "img" }, skip_launch: true })
      const target = (await create()).json.id as string
      for (let i = 0; i < 4; i++) await create()
      const appended = async (value: string) => {
        const before = statSync(journal).size
        const answer = await sim.call("POST", `/v1/apps/big/machines/${target}/metadata/role`, { value })
        assert.strictEqual(answer.status, 204)
        return statSync(journal).size - before
      }
      const small = await appended("a")
      for (let i = 0; i < 200; i++) await create()
      const large = await appended("b")
      // Equal but for the digits of the generator's position and the transition count, which grew.
      assert.isAtMost(Math.abs(large - small), 8)
      await sim.sim.close()
      // The whole state (written on close) is far larger than one write.
      assert.isAbove(statSync(join(dataDir, Persistence.fileName)).size, 100 * small)
      assert.strictEqual(statSync(journal).size, 0)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
