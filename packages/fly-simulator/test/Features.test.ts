import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { ExecBackend } from "@hangar/core/simulation"
import WebSocket from "ws"
import * as FlySimulator from "../src/FlySimulator.js"

const token = "t"
const start = Date.UTC(2026, 0, 1)

const make = async (options: Partial<FlySimulator.Options> = {}) => {
  const clock = new VirtualClock.VirtualClock(start)
  const sim = await FlySimulator.make({ clock, seed: 5, tokens: [{ token }], ...options })
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await VirtualClock.runToCompletion(
      clock,
      sim.fetch(`http://fly-sim.internal${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
    )
    const text = await response.text()
    return {
      status: response.status,
      json: text.length > 0 ? JSON.parse(text) : undefined,
      headers: response.headers
    }
  }
  return { clock, sim, call }
}

const service = (autostop: boolean | "off" | "stop" | "suspend", extra: Record<string, unknown> = {}) => ({
  image: "web",
  services: [{ internal_port: 8080, autostop, autostart: true, ...extra }]
})

describe("rate limits", () => {
  it("answers 429 with retry-after past Fly's burst of 3 per action per machine, and recovers a second later", async () => {
    const { call, clock } = await make()
    await call("POST", "/v1/apps", { app_name: "rl" })
    const m = (await call("POST", "/v1/apps/rl/machines", { config: { image: "i" }, skip_launch: true })).json
    const statuses: Array<number> = []
    for (let i = 0; i < 4; i++)
      statuses.push((await call("POST", `/v1/apps/rl/machines/${m.id}/cordon`)).status)
    assert.deepStrictEqual(statuses, [200, 200, 200, 429])
    const limited = await call("POST", `/v1/apps/rl/machines/${m.id}/cordon`)
    assert.strictEqual(limited.headers.get("retry-after"), "1")
    assert.match(limited.json.error, /rate limit/)
    // Another action on the same machine has its own bucket; GET machine allows a burst of 10.
    assert.strictEqual((await call("POST", `/v1/apps/rl/machines/${m.id}/uncordon`)).status, 200)
    const gets: Array<number> = []
    for (let i = 0; i < 11; i++) gets.push((await call("GET", `/v1/apps/rl/machines/${m.id}`)).status)
    assert.deepStrictEqual(gets.slice(9), [200, 429])
    await clock.advanceBy(1_000)
    assert.strictEqual((await call("POST", `/v1/apps/rl/machines/${m.id}/cordon`)).status, 200)
  })
})

describe("the Fly Proxy", () => {
  it("autostarts a suspended machine for a request, then autostop suspends it again after an idle pass", async () => {
    const { call, clock, sim } = await make({ rateLimits: false, autostopPeriodMillis: 300_000 })
    await call("POST", "/v1/apps", { app_name: "web" })
    const m = (await call("POST", "/v1/apps/web/machines", { region: "iad", config: service("suspend") }))
      .json
    await call("GET", `/v1/apps/web/machines/${m.id}/wait?state=started`)
    await call("POST", `/v1/apps/web/machines/${m.id}/suspend`)
    await call("GET", `/v1/apps/web/machines/${m.id}/wait?state=suspended`)
    const before = clock.now()
    const answer = await call("GET", "/hello", undefined, { host: "web.fly.dev" })
    assert.strictEqual(answer.status, 200)
    assert.deepStrictEqual([answer.json.machine_id, answer.json.path], [m.id, "/hello"])
    assert.isAbove(clock.now(), before, "the request waited for the resume")
    assert.strictEqual(sim.model.machines.get(m.id)!.state, "started")
    // The path-prefix form reaches the same app.
    assert.strictEqual((await call("GET", "/_proxy/web/x")).json.machine_id, m.id)
    // The first pass sees the requests; the next idle pass suspends it (autostop "suspend").
    await clock.advanceBy(300_000)
    assert.strictEqual(sim.model.machines.get(m.id)!.state, "started")
    await clock.advanceBy(300_000)
    await clock.advanceBy(10_000)
    assert.strictEqual(sim.model.machines.get(m.id)!.state, "suspended")
    const autostopEvent = (await call("GET", `/v1/apps/web/machines/${m.id}/events?limit=2`)).json
    assert.deepStrictEqual(
      autostopEvent.map((e: { status: string }) => e.status),
      ["suspended", "suspending"]
    )
  })

  it("stops one excess machine per region per pass and keeps min_machines_running in the primary region", async () => {
    const { call, clock, sim } = await make({ rateLimits: false, autostopPeriodMillis: 60_000 })
    await call("POST", "/v1/apps", { app_name: "fleet" })
    const ids: Array<string> = []
    for (let i = 0; i < 3; i++) {
      const m = await call("POST", "/v1/apps/fleet/machines", {
        region: "iad",
        config: service(true, { min_machines_running: 1 })
      })
      ids.push(m.json.id)
      await call("GET", `/v1/apps/fleet/machines/${m.json.id}/wait?state=started`)
    }
    const running = () => ids.filter((id) => sim.model.machines.get(id)!.state === "started").length
    assert.strictEqual(running(), 3)
    await clock.advanceBy(61_000)
    assert.strictEqual(running(), 2)
    await clock.advanceBy(60_000)
    assert.strictEqual(running(), 1)
    await clock.advanceBy(600_000)
    assert.strictEqual(running(), 1, "min_machines_running keeps one in the primary region")
  })

  it("refuses a request when nothing runs and autostart is off", async () => {
    const { call } = await make({ rateLimits: false })
    await call("POST", "/v1/apps", { app_name: "off" })
    const m = await call("POST", "/v1/apps/off/machines", {
      config: { image: "i", services: [{ internal_port: 80, autostart: false }] },
      skip_launch: true
    })
    assert.strictEqual(m.status, 200)
    const refused = await call("GET", "/", undefined, { host: "off.fly.dev" })
    assert.strictEqual(refused.status, 503)
    assert.match(refused.json.error, /autostart is off/)
  })

  it("proxies WebSockets over loopback: wakes the machine and echoes", async () => {
    const sim = await FlySimulator.make({
      clock: new VirtualClock.RealClock(),
      tokens: [{ token }],
      timing: { create: 5, firstImagePull: 5, bootFromStopped: 5, stop: 5 }
    })
    const url = await sim.listen({ port: 0 })
    try {
      sim.model.createApp("ws", "personal")
      const m = sim.model.createMachine("ws", { config: service(false), skipLaunch: true })
      const socket = new WebSocket(`${url.replace("http", "ws")}/_proxy/ws/socket`)
      const messages: Array<string> = []
      await new Promise<void>((resolve, reject) => {
        socket.on("message", (data) => {
          messages.push(String(data))
          if (messages.length === 1) socket.send("ping")
          else resolve()
        })
        socket.on("error", reject)
      })
      socket.close()
      assert.strictEqual(JSON.parse(messages[0]!).machine_id, m.id)
      assert.strictEqual(messages[1], "ping")
      assert.strictEqual(m.state, "started")
    } finally {
      await sim.close()
    }
  })
})

describe("volumes", () => {
  it("snapshots a volume and restores it, forks a volume, and keeps the data", async () => {
    const { call } = await make({ rateLimits: false })
    await call("POST", "/v1/apps", { app_name: "vol" })
    const v = (await call("POST", "/v1/apps/vol/volumes", { name: "data", region: "iad", size_gb: 2 })).json
    const m = (
      await call("POST", "/v1/apps/vol/machines", {
        region: "iad",
        config: { image: "i", mounts: [{ volume: v.id, path: "/data" }] }
      })
    ).json
    await call("GET", `/v1/apps/vol/machines/${m.id}/wait?state=started`)
    await call("POST", `/v1/apps/vol/machines/${m.id}/exec`, { command: ["write", "/data/f", "kept"] })
    assert.strictEqual((await call("POST", `/v1/apps/vol/volumes/${v.id}/snapshots`)).status, 200)
    const snapshots = (await call("GET", `/v1/apps/vol/volumes/${v.id}/snapshots`)).json
    assert.strictEqual(snapshots.length, 1)
    assert.match(snapshots[0].id, /^vs_/)
    const restored = await call("POST", "/v1/apps/vol/volumes", {
      name: "restored",
      region: "iad",
      snapshot_id: snapshots[0].id
    })
    assert.strictEqual(restored.json.size_gb, 2)
    const forked = await call("POST", "/v1/apps/vol/volumes", {
      name: "fork",
      region: "iad",
      source_volume_id: v.id
    })
    assert.isTrue(forked.json.encrypted)
    for (const id of [restored.json.id, forked.json.id]) {
      const reader = (
        await call("POST", "/v1/apps/vol/machines", {
          region: "iad",
          config: { image: "i", mounts: [{ volume: id, path: "/mnt" }] }
        })
      ).json
      await call("GET", `/v1/apps/vol/machines/${reader.id}/wait?state=started`)
      const read = await call("POST", `/v1/apps/vol/machines/${reader.id}/exec`, {
        command: ["cat", "/mnt/f"]
      })
      assert.strictEqual(read.json.stdout, "kept")
    }
    const missing = await call("POST", "/v1/apps/vol/volumes", {
      name: "x",
      region: "iad",
      snapshot_id: "vs_nope"
    })
    assert.strictEqual(missing.status, 404)
    const updated = await call("PUT", `/v1/apps/vol/volumes/${v.id}`, { snapshot_retention: 10 })
    assert.strictEqual(updated.json.snapshot_retention, 10)
  })
})

describe("determinism and persistence", () => {
  const session = async (sim: Awaited<ReturnType<typeof make>>) => {
    const { call, clock } = sim
    await call("POST", "/v1/apps", { app_name: "det" })
    const m = (await call("POST", "/v1/apps/det/machines", { region: "lax", config: { image: "i" } })).json
    await call("GET", `/v1/apps/det/machines/${m.id}/wait?state=started`)
    await clock.advanceBy(3_600_000)
    await call("POST", `/v1/apps/det/machines/${m.id}/suspend`)
    await clock.advanceBy(86_400_000)
    await call("POST", "/v1/apps/det/volumes", { name: "v", region: "lax", size_gb: 3 })
    await clock.advanceBy(86_400_000)
    return m.id as string
  }

  it("gives byte-identical state and bill for the same seed and requests", async () => {
    const a = await make({ rateLimits: false })
    const b = await make({ rateLimits: false })
    await session(a)
    await session(b)
    const dump = async (s: typeof a) => JSON.stringify((await s.call("GET", "/_sim/state")).json)
    assert.strictEqual(await dump(a), await dump(b))
    assert.strictEqual(JSON.stringify(a.sim.billing()), JSON.stringify(b.sim.billing()))
    assert.isAbove(a.sim.billing().totalMicroUsd, 0)
  })

  it("restarts from --data-dir losing nothing", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-test-"))
    try {
      const first = await make({ rateLimits: false, dataDir })
      const id = await session(first)
      const before = JSON.stringify((await first.call("GET", "/_sim/state")).json)
      const bill = JSON.stringify(first.sim.billing())
      await first.sim.close()
      assert.include(readFileSync(join(dataDir, "fly-simulator.json"), "utf8"), id)
      const second = await make({ rateLimits: false, dataDir })
      assert.strictEqual(JSON.stringify((await second.call("GET", "/_sim/state")).json), before)
      assert.strictEqual(JSON.stringify(second.sim.billing()), bill)
      // It carries on: the suspended machine resumes.
      await second.call("POST", `/v1/apps/det/machines/${id}/start`)
      const waited = await second.call("GET", `/v1/apps/det/machines/${id}/wait?state=started`)
      assert.strictEqual(waited.json.state, "started")
      await second.sim.close()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe("the process exec backend", () => {
  it("runs argv in the machine's rootfs; the mounted volume persists across stop/start, the rootfs does not", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-process-"))
    try {
      const sim = await FlySimulator.make({
        clock: new VirtualClock.RealClock(),
        tokens: [{ token }],
        exec: ExecBackend.processBackend(),
        dataDir,
        rateLimits: false,
        timing: { create: 1, firstImagePull: 1, bootFromStopped: 1, stop: 1 }
      })
      const model = sim.model
      model.createApp("proc", "personal")
      const v = model.createVolume("proc", { name: "data", region: "iad", sizeGb: 1, encrypted: true })
      const m = model.createMachine("proc", {
        region: "iad",
        config: { image: "i", mounts: [{ volume: v.id, path: "/data" }] }
      })
      await model.wait(m, ["started"], 5_000)
      const sh = (script: string) => model.execute(m, ["sh", "-c", script], 10)
      assert.strictEqual((await sh("echo kept > data/f && echo lost > g && pwd")).exitCode, 0)
      model.stop(m)
      await model.wait(m, ["stopped"], 5_000)
      model.start(m)
      await model.wait(m, ["started"], 5_000)
      const after = await sh("cat data/f; test -e g && echo rootfs-kept || echo rootfs-reset")
      assert.strictEqual(after.stdout, "kept\nrootfs-reset\n")
      assert.strictEqual(readFileSync(join(dataDir, "volumes", v.id, "f"), "utf8"), "kept\n")
      const timedOut = await model.execute(m, ["sleep", "5"], 1)
      assert.isTrue(timedOut.timedOut)
      await sim.close()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe("the virtual clock over HTTP", () => {
  it("moves only when /_sim/clock/advance is called, in process and over loopback", async () => {
    const { call, clock } = await make({ rateLimits: false })
    const advanced = await call("POST", "/_sim/clock/advance", { millis: 60_000 })
    assert.deepStrictEqual([advanced.status, advanced.json.nowMillis], [200, start + 60_000])
    assert.strictEqual(clock.now(), start + 60_000)

    const virtual = new VirtualClock.VirtualClock(start)
    const sim = await FlySimulator.make({ clock: virtual, tokens: [{ token }], rateLimits: false })
    const url = await sim.listen({ port: 0 })
    try {
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }
      await fetch(`${url}/v1/apps`, { method: "POST", headers, body: JSON.stringify({ app_name: "vc" }) })
      const created = (await (
        await fetch(`${url}/v1/apps/vc/machines`, {
          method: "POST",
          headers,
          body: JSON.stringify({ config: { image: "i" } })
        })
      ).json()) as { id: string }
      const state = async () =>
        (
          (await (await fetch(`${url}/v1/apps/vc/machines/${created.id}`, { headers })).json()) as {
            state: string
          }
        ).state
      assert.strictEqual(await state(), "starting")
      const moved = await fetch(`${url}/_sim/clock/advance`, {
        method: "POST",
        headers,
        body: JSON.stringify({ millis: 60_000 })
      })
      assert.strictEqual(moved.status, 200)
      assert.strictEqual(await state(), "started")
      assert.strictEqual(virtual.now(), start + 60_000)
    } finally {
      await sim.close()
    }
  })
})
