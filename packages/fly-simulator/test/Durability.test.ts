/**
 * kill -9 durability: the simulator runs from dist/main.js in a child process on 127.0.0.1 with --data-dir, a
 * burst of writes goes at it from several concurrent clients, and it is killed with SIGKILL after a seeded number
 * of answered writes while others are in flight. Restarted on the same directory, every answered write must be
 * there: machines, volumes, metadata values, the virtual clock's time, and a bill no smaller than one answered.
 * (turbo builds dist before this package's tests.)
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { SeededRandom } from "../src/model/Random.js"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const token = "durability-token"
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }

const start = (dataDir: string) =>
  new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [main, "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--token", token].concat([
        "--clock",
        "virtual",
        "--rate-limits",
        "off",
        "--seed",
        "4"
      ]),
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let out = ""
    let err = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]
      if (url !== undefined) resolve({ child, url })
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.on("exit", (code) => reject(new Error(`fly-sim exited with ${code}: ${err}${out}`)))
  })

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

interface Acknowledged {
  readonly machines: Array<string>
  readonly volumes: Array<string>
  readonly metadata: Array<readonly [string, string]>
  clockMillis: number
  billMicroUsd: number
}

const count = (a: Acknowledged) => a.machines.length + a.volumes.length + a.metadata.length

/** One client's loop: seeded writes until the simulator dies, recording what was answered with a 2xx. */
const client = async (url: string, random: SeededRandom, acked: Acknowledged, first: string, id: number) => {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { ok: response.ok, json: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {} }
  }
  for (let n = 0; ; n++) {
    const pick = random.next()
    try {
      if (pick < 0.35) {
        const created = await call("POST", "/v1/apps/dur/machines", {
          config: { image: "img:1", guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 } },
          skip_launch: random.next() < 0.3
        })
        if (created.ok) acked.machines.push(created.json.id as string)
      } else if (pick < 0.65) {
        const key = `k${id}-${n}`
        const value = random.hex(8)
        const set = await call("POST", `/v1/apps/dur/machines/${first}/metadata/${key}`, { value })
        if (set.ok) acked.metadata.push([key, value])
      } else if (pick < 0.75) {
        const volume = await call("POST", "/v1/apps/dur/volumes", {
          name: `v${id}_${n}`,
          region: "iad",
          size_gb: 1
        })
        if (volume.ok) acked.volumes.push(volume.json.id as string)
      } else if (pick < 0.9) {
        const moved = await call("POST", "/_sim/clock/advance", {
          millis: 1 + Math.floor(random.next() * 600_000)
        })
        if (moved.ok) acked.clockMillis = Math.max(acked.clockMillis, moved.json.nowMillis as number)
      } else {
        const bill = await call("GET", "/_sim/billing")
        if (bill.ok) acked.billMicroUsd = Math.max(acked.billMicroUsd, bill.json.totalMicroUsd as number)
      }
    } catch {
      return
    }
  }
}

describe("an acknowledged write survives kill -9", () => {
  it("kills the simulator at seeded points of a write burst; after a restart every answered write is there", async () => {
    const seed = 909
    const random = new SeededRandom(seed)
    const trials = 6
    let checked = 0
    let lost = 0
    for (let trial = 0; trial < trials; trial++) {
      const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-kill-"))
      let running: ChildProcess | undefined
      try {
        const first = await start(dataDir)
        running = first.child
        const setup = async (method: string, path: string, body: unknown) =>
          (
            await fetch(`${first.url}${path}`, { method, headers, body: JSON.stringify(body) })
          ).json() as Promise<{
            id: string
          }>
        await setup("POST", "/v1/apps", { app_name: "dur" })
        const anchor = (await setup("POST", "/v1/apps/dur/machines", { config: { image: "img:1" } })).id
        const acked: Acknowledged = {
          machines: [anchor],
          volumes: [],
          metadata: [],
          clockMillis: 0,
          billMicroUsd: 0
        }
        const killAfter = 5 + Math.floor(random.next() * 60)
        const clients = [0, 1, 2, 3].map((id) =>
          client(first.url, new SeededRandom(seed * 31 + trial * 7 + id), acked, anchor, id)
        )
        while (count(acked) < killAfter) await new Promise((resolve) => setTimeout(resolve, 1))
        await killed(first.child)
        await Promise.all(clients)

        const second = await start(dataDir)
        running = second.child
        const get = async (path: string) => {
          const response = await fetch(`${second.url}${path}`, { headers })
          return { status: response.status, json: (await response.json()) as Record<string, unknown> }
        }
        const machines = (await get("/v1/apps/dur/machines?include_deleted=true")).json as unknown as Array<{
          id: string
        }>
        const ids = new Set(machines.map((m) => m.id))
        const volumes = new Set(
          ((await get("/v1/apps/dur/volumes")).json as unknown as Array<{ id: string }>).map((v) => v.id)
        )
        const metadata = (await get(`/v1/apps/dur/machines/${anchor}/metadata`)).json
        for (const id of acked.machines) if (!ids.has(id)) lost++
        for (const id of acked.volumes) if (!volumes.has(id)) lost++
        for (const [key, value] of acked.metadata) if (metadata[key] !== value) lost++
        const clock = (await get("/_sim/clock")).json.nowMillis as number
        if (clock < acked.clockMillis) lost++
        const bill = (await get("/_sim/billing")).json.totalMicroUsd as number
        if (bill < acked.billMicroUsd) lost++
        checked += count(acked) + 2
        assert.strictEqual((await get("/_sim/state")).status, 200)
        assert.isAtLeast(count(acked), killAfter)
      } finally {
        if (running !== undefined) await killed(running)
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
    console.log(
      `fly-sim kill -9 (seed ${seed}): ${trials} trials, ${checked} acknowledged writes checked, lost ${lost}`
    )
    assert.strictEqual(lost, 0, `seed ${seed}`)
    assert.isAtLeast(checked, trials * 7)
  })
})
