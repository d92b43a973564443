/**
 * fly-simulator benchmark (a program, not a test): run with `pnpm --filter @hangar/fly-simulator bench`.
 *
 * 1. Over loopback in one run (both through Node's fetch): requests per second of a create → start → wait → exec → stop → destroy cycle
 *    against the simulator, and of the same number of requests against a bare fastify route answering the same
 *    JSON; prints the ratio (target ≥ 0.5).
 * 2. In process on the virtual clock: N machines each woken W times a day for D days (start, a short exec,
 *    stop); prints transitions per wall second (target ≥ 200,000) and peak RSS (target < 300 MB).
 * 3. In process with `--data-dir` (a temporary directory): answered creates per second with 100 and with 3,000
 *    machines already there (the journal's cost should not grow: ratio near 1), beside the former way, the whole
 *    state rewritten (and here fsynced) after each create, at 3,000 machines.
 * `--only loopback|month|journal` runs one of them.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { VirtualClock } from "@hangar/core"
import Fastify from "fastify"
import * as FlySimulator from "../src/FlySimulator.js"
import * as FlyModel from "../src/model/FlyModel.js"
import * as Lifecycle from "../src/model/Lifecycle.js"
import * as Persistence from "../src/Persistence.js"

const { values } = parseArgs({
  options: {
    cycles: { type: "string", default: "200" },
    machines: { type: "string", default: "1000" },
    wakes: { type: "string", default: "100" },
    days: { type: "string", default: "30" },
    only: { type: "string" }
  }
})

const token = "bench"
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }

const loopback = async (cycles: number) => {
  const sim = await FlySimulator.make({
    clock: new VirtualClock.RealClock(),
    tokens: [{ token }],
    timing: Lifecycle.instantTiming
  })
  const base = await sim.listen({ port: 0 })
  const call = async (method: "GET" | "POST" | "DELETE", path: string, body?: unknown) => {
    const response = await fetch(`${base}/v1${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return (await response.json()) as { id?: string }
  }
  await call("POST", "/apps", { app_name: "bench" })
  let requests = 0
  const started = performance.now()
  for (let i = 0; i < cycles; i++) {
    const m = await call("POST", "/apps/bench/machines", { config: { image: "agent" }, skip_launch: true })
    const id = m.id!
    await call("POST", `/apps/bench/machines/${id}/start`)
    await call("GET", `/apps/bench/machines/${id}/wait?state=started`)
    await call("POST", `/apps/bench/machines/${id}/exec`, { command: ["echo", "hi"] })
    await call("POST", `/apps/bench/machines/${id}/stop`)
    await call("GET", `/apps/bench/machines/${id}/wait?state=stopped`)
    await call("DELETE", `/apps/bench/machines/${id}?force=true`)
    requests += 7
  }
  const simSeconds = (performance.now() - started) / 1000
  await sim.close()

  const bare = Fastify()
  const machine = {
    id: "0123456789abcd",
    name: "m",
    state: "started",
    region: "iad",
    instance_id: "X",
    config: { image: "agent" }
  }
  bare.all("/*", async () => machine)
  const bareBase = await bare.listen({ host: "127.0.0.1", port: 0 })
  const bareStarted = performance.now()
  for (let i = 0; i < requests; i++) {
    const response = await fetch(`${bareBase}/v1/apps/bench/machines`, {
      method: "POST",
      headers,
      body: JSON.stringify({ config: { image: "agent" } })
    })
    await response.json()
  }
  const bareSeconds = (performance.now() - bareStarted) / 1000
  await bare.close()
  const simRate = requests / simSeconds
  const bareRate = requests / bareSeconds
  console.log(
    `loopback: simulator ${simRate.toFixed(0)} req/s, bare fastify ${bareRate.toFixed(0)} req/s, ratio ${(simRate / bareRate).toFixed(2)} (target ≥ 0.5)`
  )
}

/**
 * Each machine is alone in its app, with a service whose autostop is "stop"; a wake is a request through the Fly
 * Proxy (`FlyModel.route`, what the HTTP proxy calls), which autostarts the machine and waits for it; the proxy's
 * autostop pass (every 5 simulated minutes) stops it once a pass has seen it idle.
 */
const month = async (machines: number, wakesPerDay: number, days: number) => {
  const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const sim = await FlySimulator.make({ clock, tokens: [{ token }] })
  const model = sim.model
  const apps: Array<string> = []
  for (let i = 0; i < machines; i++) {
    const app = `bench-${i}`
    model.createApp(app, "personal")
    model.createMachine(app, {
      config: { image: "agent", services: [{ internal_port: 8080, autostop: true, autostart: true }] },
      region: "iad",
      skipLaunch: true
    })
    apps.push(app)
  }
  const gap = 86_400_000 / wakesPerDay
  const end = clock.now() + days * 86_400_000
  let peakRss = process.memoryUsage().rss
  let served = 0
  let failed = 0
  const started = performance.now()
  apps.forEach((app, i) => {
    const wake = (at: number): void => {
      if (at >= end) return
      clock.schedule(at, () => {
        model.route(app, (result) => {
          if (result instanceof FlyModel.SimError) failed++
          else {
            served++
            model.release(result)
          }
        })
        wake(at + gap)
      })
    }
    wake(clock.now() + Math.floor((gap * i) / machines))
  })
  for (let day = 1; day <= days; day++)
    clock.schedule(clock.now() + day * 86_400_000 - 1, () => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
    })
  await clock.advanceTo(end)
  const seconds = (performance.now() - started) / 1000
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  const bill = sim.billing()
  const hours = (state: string) => ((bill.secondsByState[state] ?? 0) / 3600).toFixed(0)
  console.log(
    `virtual month: ${machines} machines × ${wakesPerDay} wakes/day × ${days} days through the proxy with autostop: ` +
      `${served} requests served, ${failed} failed, ${model.transitions} transitions in ${seconds.toFixed(1)} s wall = ` +
      `${Math.round(model.transitions / seconds)} transitions/s (target ≥ 200,000); peak RSS ${(peakRss / 1e6).toFixed(0)} MB ` +
      `(target < 300 MB); started ${hours("started")} h, stopped ${hours("stopped")} h; bill $${(bill.totalMicroUsd / 1e6).toFixed(2)}`
  )
  await sim.close()
}

/** Answered creates per second (in process, no socket) with `existing` machines there, durable before each answer. */
const durableCreates = async (existing: number, timed: number, rewriteWholeState: boolean) => {
  const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-bench-"))
  try {
    const sim = await FlySimulator.make({ tokens: [{ token }], rateLimits: false, dataDir })
    const create = () =>
      sim.server.inject({
        method: "POST",
        url: "/v1/apps/bench/machines",
        headers,
        payload: { config: { image: "agent" }, skip_launch: true }
      })
    sim.model.createApp("bench", "personal")
    for (let i = 0; i < existing; i++)
      sim.model.createMachine("bench", { config: { image: "agent" }, skipLaunch: true })
    const started = performance.now()
    for (let i = 0; i < timed; i++) {
      await create()
      if (rewriteWholeState) Persistence.writeSnapshot(sim.model, dataDir)
    }
    const rate = timed / ((performance.now() - started) / 1000)
    await sim.close()
    return rate
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const journal = async () => {
  const small = await durableCreates(100, 300, false)
  const large = await durableCreates(3_000, 300, false)
  const rewrite = await durableCreates(3_000, 100, true)
  console.log(
    `--data-dir creates: journal ${small.toFixed(0)}/s with 100 machines, ${large.toFixed(0)}/s with 3,000 ` +
      `(ratio ${(large / small).toFixed(2)}); whole state rewritten per create ${rewrite.toFixed(0)}/s with 3,000 ` +
      `(journal ÷ rewrite ${(large / rewrite).toFixed(1)})`
  )
}

const only = values.only
if (only === undefined || only === "loopback") await loopback(Number(values.cycles))
if (only === undefined || only === "month")
  await month(Number(values.machines), Number(values.wakes), Number(values.days))
if (only === undefined || only === "journal") await journal()
