import { assert, describe, it } from "@effect/vitest"
import { Money, Pricing, VirtualClock } from "@hangar/core"
import { DetachedJob } from "@hangar/core/protocols"
import { ExecBackend } from "@hangar/core/simulation"
import { FastCheck as fc } from "effect"
import * as FlySimulator from "../src/FlySimulator.js"

const token = "test-token"

/** Bodies no route accepts: not an object, or an object whose known fields have the wrong types. */
const invalidBody = fc.oneof(
  fc.string({ minLength: 1 }),
  fc.integer(),
  fc.boolean(),
  fc.array(fc.anything(), { minLength: 1 }),
  fc.record({
    app_name: fc.integer(),
    config: fc.oneof(fc.integer(), fc.record({ image: fc.integer() })),
    signal: fc.integer(),
    command: fc.constant("not-an-array"),
    ttl: fc.string(),
    name: fc.integer(),
    size_gb: fc.string(),
    snapshot_retention: fc.string(),
    value: fc.integer(),
    millis: fc.string(),
    match: fc.integer()
  })
)
const base = "http://fly-sim.internal/v1"

const setup = async (rateLimits = false, options: Partial<FlySimulator.Options> = {}) => {
  const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const sim = await FlySimulator.make({
    clock,
    seed: 7,
    tokens: [{ token }, { token: "scoped", apps: ["other"] }],
    rateLimits,
    ...options
  })
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await VirtualClock.runToCompletion(
      clock,
      sim.fetch(path.startsWith("/_sim") ? `http://fly-sim.internal${path}` : `${base}${path}`, {
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

describe("fly-simulator", () => {
  it("creates an app and a machine that boots, runs commands, suspends, resumes and is destroyed", async () => {
    const { call, clock } = await setup()
    assert.strictEqual(
      (await call("POST", "/apps", { app_name: "hangar-web", org_slug: "personal" })).status,
      201
    )
    const created = await call("POST", "/apps/hangar-web/machines", {
      region: "iad",
      config: { image: "hangar/agent:1", guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 } }
    })
    assert.strictEqual(created.status, 200)
    assert.match(created.json.id, /^[0-9a-f]{14}$/)
    const id = created.json.id
    const waited = await call("GET", `/apps/hangar-web/machines/${id}/wait?state=started&timeout=60`)
    assert.strictEqual(waited.json.state, "started")
    const exec = await call("POST", `/apps/hangar-web/machines/${id}/exec`, { command: ["echo", "hi"] })
    assert.deepStrictEqual([exec.json.stdout, exec.json.exit_code], ["hi\n", 0])
    const before = clock.now()
    const slept = await call("POST", `/apps/hangar-web/machines/${id}/exec`, {
      command: ["sleep", "30"],
      timeout: 60
    })
    assert.strictEqual(slept.json.exit_code, 0)
    assert.isAtLeast(clock.now() - before, 30_000)
    assert.strictEqual((await call("POST", `/apps/hangar-web/machines/${id}/suspend`)).status, 200)
    assert.strictEqual(
      (await call("GET", `/apps/hangar-web/machines/${id}/wait?state=suspended`)).json.state,
      "suspended"
    )
    const resumed = await call("POST", `/apps/hangar-web/machines/${id}/start`)
    assert.strictEqual(resumed.json.previous_state, "suspended")
    await call("GET", `/apps/hangar-web/machines/${id}/wait?state=started`)
    const events = await call("GET", `/apps/hangar-web/machines/${id}/events?limit=50`)
    const statuses = events.json.map((e: { status: string }) => e.status).reverse()
    assert.deepStrictEqual(statuses, [
      "created",
      "starting",
      "started",
      "suspending",
      "suspended",
      "starting",
      "started"
    ])
    assert.strictEqual((await call("POST", `/apps/hangar-web/machines/${id}/stop`)).status, 200)
    await call("GET", `/apps/hangar-web/machines/${id}/wait?state=stopped`)
    assert.strictEqual((await call("DELETE", `/apps/hangar-web/machines/${id}`)).status, 200)
    assert.strictEqual(
      (await call("GET", `/apps/hangar-web/machines/${id}/wait?state=destroyed`)).json.state,
      "destroyed"
    )
  })

  it("answers what Fly answers: 401 (also out of scope), 404, 409 name taken, 412 illegal start, 400 bad wait timeout, 408", async () => {
    const { call, sim } = await setup()
    const noAuth = await sim.fetch(`${base}/apps`)
    assert.strictEqual(noAuth.status, 401)
    assert.include(((await noAuth.json()) as { error: string }).error, "Bearer")
    const outOfScope = await call("GET", "/apps/x/machines", undefined, { authorization: "Bearer scoped" })
    assert.strictEqual(outOfScope.status, 401)
    assert.include(outOfScope.json.error, "not scoped to app x")
    const flyV1 = await call("GET", "/apps/other/machines", undefined, { authorization: "FlyV1 scoped" })
    assert.strictEqual(flyV1.status, 404, "a FlyV1 token in scope passes auth")
    assert.strictEqual((await call("GET", "/apps/missing")).status, 404)
    await call("POST", "/apps", { app_name: "a1" })
    const config = { image: "img" }
    const m = await call("POST", "/apps/a1/machines", { name: "one", config, skip_launch: true })
    assert.strictEqual(m.json.state, "created")
    assert.strictEqual((await call("POST", "/apps/a1/machines", { name: "one", config })).status, 409)
    assert.strictEqual((await call("POST", `/apps/a1/machines/${m.json.id}/suspend`)).status, 412)
    const badWait = await call("GET", `/apps/a1/machines/${m.json.id}/wait?timeout=90`)
    assert.strictEqual(badWait.status, 400)
    assert.include(badWait.json.error, "invalid_argument")
    assert.strictEqual(
      (await call("GET", `/apps/a1/machines/${m.json.id}/wait?state=started&timeout=2`)).status,
      408
    )
  })

  it("holds a lease: mutations without the nonce are refused, with it they pass", async () => {
    const { call } = await setup()
    await call("POST", "/apps", { app_name: "leased" })
    const m = await call("POST", "/apps/leased/machines", { config: { image: "img" }, skip_launch: true })
    const lease = await call("POST", `/apps/leased/machines/${m.json.id}/lease`, { ttl: 30 })
    assert.strictEqual(lease.status, 201)
    assert.strictEqual(lease.json.status, "success")
    const nonce = lease.json.data.nonce
    assert.strictEqual((await call("POST", `/apps/leased/machines/${m.json.id}/start`)).status, 409)
    assert.strictEqual(
      (await call("POST", `/apps/leased/machines/${m.json.id}/lease`, { ttl: 30 })).status,
      409
    )
    const started = await call("POST", `/apps/leased/machines/${m.json.id}/start`, undefined, {
      "fly-machine-lease-nonce": nonce
    })
    assert.strictEqual(started.status, 200)
    const released = await call("DELETE", `/apps/leased/machines/${m.json.id}/lease`, undefined, {
      "fly-machine-lease-nonce": nonce
    })
    assert.deepStrictEqual(released.json, { status: "success", data: { ok: true } })
  })

  it("volumes: encrypted by default, extend grows only, delete goes pending_destroy and stops billing", async () => {
    const { call, clock, sim } = await setup()
    await call("POST", "/apps", { app_name: "vols" })
    const v = await call("POST", "/apps/vols/volumes", { name: "workspace", region: "iad", size_gb: 10 })
    assert.isTrue(v.json.encrypted)
    assert.strictEqual(
      (await call("PUT", `/apps/vols/volumes/${v.json.id}/extend`, { size_gb: 5 })).status,
      400
    )
    assert.strictEqual(
      (await call("PUT", `/apps/vols/volumes/${v.json.id}/extend`, { size_gb: 20 })).json.volume.size_gb,
      20
    )
    await clock.advanceBy(86_400_000)
    const billedBefore = sim.billing().totalMicroUsd
    assert.strictEqual(
      (await call("DELETE", `/apps/vols/volumes/${v.json.id}`)).json.state,
      "pending_destroy"
    )
    await clock.advanceBy(86_400_000)
    assert.strictEqual(sim.billing().totalMicroUsd, billedBefore)
    assert.strictEqual(billedBefore, Money.billPerSecond(Pricing.flyVolumeRate(20), 86_400_000))
  })

  it("bad bodies and parameters get a 4xx naming the field, never a 5xx, and change nothing", async () => {
    const { call, sim } = await setup()
    await call("POST", "/apps", { app_name: "fuzz" })
    const m = await call("POST", "/apps/fuzz/machines", { config: { image: "img" }, skip_launch: true })
    const v = await call("POST", "/apps/fuzz/volumes", { name: "vol", region: "iad", size_gb: 2 })
    const routes: ReadonlyArray<readonly [string, string]> = [
      ["POST", "/apps"],
      ["POST", "/apps/fuzz/machines"],
      ["POST", `/apps/fuzz/machines/${m.json.id}`],
      ["POST", `/apps/fuzz/machines/${m.json.id}/exec`],
      ["POST", `/apps/fuzz/machines/${m.json.id}/stop`],
      ["POST", `/apps/fuzz/machines/${m.json.id}/lease`],
      ["POST", `/apps/fuzz/machines/${m.json.id}/signal`],
      ["POST", `/apps/fuzz/machines/${m.json.id}/metadata/key`],
      ["POST", "/apps/fuzz/volumes"],
      ["PUT", `/apps/fuzz/volumes/${v.json.id}`],
      ["PUT", `/apps/fuzz/volumes/${v.json.id}/extend`],
      ["POST", "/_sim/clock/advance"],
      ["POST", "/_sim/faults"]
    ]
    const badWord = fc.stringMatching(/^[a-z]{1,6}$/).filter((w) => w !== "true" && w !== "false")
    const badNumber = fc.oneof(
      badWord,
      fc.constantFrom("0", "-1", "61", "99", "1.5", "1e9"),
      fc.integer({ min: 61 }).map(String)
    )
    const queries = fc.oneof(
      badNumber.map((t) => ["GET", `/apps/fuzz/machines/${m.json.id}/wait?timeout=${t}`] as const),
      badWord.map((s) => ["GET", `/apps/fuzz/machines/${m.json.id}/wait?state=${s}`] as const),
      badNumber.map((l) => ["GET", `/apps/fuzz/machines/${m.json.id}/events?limit=${l}`] as const),
      badWord.map((b) => ["GET", `/apps/fuzz/machines?include_deleted=${b}`] as const),
      badWord.map((b) => ["DELETE", `/apps/fuzz/machines/${m.json.id}?force=${b}`] as const),
      badWord.map((t) => ["POST", `/apps/fuzz/machines/${m.json.id}/lease?ttl=${t}`] as const),
      badWord.map((id) => ["GET", `/apps/fuzz/machines/${id}`] as const),
      badWord.map((app) => ["GET", `/apps/${app}/machines`] as const),
      badWord.map((id) => ["GET", `/apps/fuzz/volumes/${id}`] as const)
    )
    const stateBefore = JSON.stringify(
      (await sim.server.inject({ url: "/_sim/state", headers: { authorization: `Bearer ${token}` } })).json()
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), invalidBody, async ([method, path], body) => {
        const response = await call(method, path, body)
        return response.status >= 400 && response.status < 500 && typeof response.json?.error === "string"
      }),
      { seed: 99, numRuns: 200 }
    )
    await fc.assert(
      fc.asyncProperty(queries, async ([method, path]) => {
        const response = await call(method, path)
        return response.status >= 400 && response.status < 500 && typeof response.json?.error === "string"
      }),
      { seed: 100, numRuns: 200 }
    )
    const stateAfter = JSON.stringify(
      (await sim.server.inject({ url: "/_sim/state", headers: { authorization: `Bearer ${token}` } })).json()
    )
    assert.strictEqual(stateAfter, stateBefore)
    const named = await call("POST", "/apps/fuzz/volumes", { name: "w", region: "iad", size_gb: "ten" })
    assert.include(named.json.error, "body.size_gb")
  })

  it("bills started time at the guest rate and stopped time at the rootfs rate, per second", async () => {
    const { call, clock, sim } = await setup()
    await call("POST", "/apps", { app_name: "bill" })
    const guest = { cpu_kind: "performance", cpus: 1, memory_mb: 2048 }
    const m = await call("POST", "/apps/bill/machines", { region: "lax", config: { image: "img", guest } })
    await call("GET", `/apps/bill/machines/${m.json.id}/wait?state=started`)
    await clock.advanceBy(3_600_000)
    await call("POST", `/apps/bill/machines/${m.json.id}/stop`)
    await call("GET", `/apps/bill/machines/${m.json.id}/wait?state=stopped`)
    await clock.advanceBy(86_400_000)
    const bill = sim.billing()
    assert.strictEqual(
      bill.totalMicroUsd,
      bill.lines.reduce((sum, line) => sum + line.costMicroUsd, 0)
    )
    const events = (await call("GET", `/apps/bill/machines/${m.json.id}/events?limit=50`)).json as Array<{
      status: string
      timestamp: number
    }>
    const at = (status: string) => events.find((e) => e.status === status)!.timestamp
    const rate = Pricing.flyGuestRate({ cpuKind: "performance", cpus: 1, memoryMb: 2048 }, "lax")
    const started = bill.lines.filter((l) => l.state === "started")
    assert.strictEqual(started.length, 1)
    assert.strictEqual(started[0]!.costMicroUsd, Money.billPerSecond(rate, at("stopping") - at("started")))
    const stopped = bill.lines.find((l) => l.state === "stopped")!
    assert.strictEqual(
      stopped.costMicroUsd,
      Money.billPerSecond(Pricing.flyRootfsRate(Pricing.defaultFlyRootfsGb), clock.now() - at("stopped"))
    )
  })

  it("injects faults: 429 with retry-after, capacity errors, region outages", async () => {
    const { call, sim } = await setup()
    await call("POST", "/apps", { app_name: "faulty" })
    sim.faults.add({
      match: "^POST /v1/apps/faulty/machines$",
      status: 429,
      error: "rate limit exceeded",
      retryAfterSeconds: 2,
      times: 1,
      probability: 1
    })
    const limited = await call("POST", "/apps/faulty/machines", { config: { image: "img" } })
    assert.strictEqual(limited.status, 429)
    assert.strictEqual(limited.headers.get("retry-after"), "2")
    sim.faults.add({
      match: "machines$",
      region: "syd",
      status: 412,
      error: "insufficient resources available to fulfill request",
      probability: 1
    })
    const outage = await call("POST", "/apps/faulty/machines", { region: "syd", config: { image: "img" } })
    assert.strictEqual(outage.status, 412)
    const healthy = await call("POST", "/apps/faulty/machines", { region: "iad", config: { image: "img" } })
    assert.strictEqual(healthy.status, 200)
    sim.faults.clear()
    const added = await sim.server.inject({
      method: "POST",
      url: "/_sim/faults",
      headers: { authorization: `Bearer ${token}` },
      payload: { match: "/start$", kind: "insufficient-memory", times: 1 }
    })
    assert.strictEqual(added.statusCode, 201)
    await call("POST", `/apps/faulty/machines/${healthy.json.id}/stop`)
    const refused = await call("POST", `/apps/faulty/machines/${healthy.json.id}/start`)
    assert.deepStrictEqual(
      [refused.status, refused.json.error],
      [
        409,
        "aborted: could not reserve resource for machine: insufficient memory available to fulfill request"
      ]
    )
    assert.strictEqual((await call("POST", `/apps/faulty/machines/${healthy.json.id}/start`)).status, 200)
  })

  it("a lost answer (afterHandler): the request acts, its answer is replaced by the error", async () => {
    const { call, sim } = await setup()
    await call("POST", "/apps", { app_name: "lossy" })
    sim.faults.add({
      match: "^POST /v1/apps/lossy/machines$",
      status: 503,
      error: "upstream connection reset",
      afterHandler: true,
      times: 1,
      probability: 1
    })
    const lost = await call("POST", "/apps/lossy/machines", { name: "only", config: { image: "img" } })
    assert.deepStrictEqual([lost.status, lost.json.error], [503, "upstream connection reset"])
    const listed = await call("GET", "/apps/lossy/machines")
    assert.deepStrictEqual(
      listed.json.map((m: { name: string }) => m.name),
      ["only"]
    )
    const again = await call("POST", "/apps/lossy/machines", { name: "only", config: { image: "img" } })
    assert.strictEqual(again.status, 409)
    // Failed answers are left alone, and the rule is spent.
    assert.strictEqual((await call("POST", "/apps/lossy/machines", { config: { image: "img" } })).status, 200)
  })

  it("exec deadline: a command past 30 s answers 408 deadline_exceeded at the deadline and runs on; the request timeout still ends it first", async () => {
    // A scripted backend that records what each command did once it ends, answered or not.
    const scripted = ExecBackend.scripted()
    const ended: Array<ExecBackend.ExecOutcome> = []
    const exec: ExecBackend.ExecBackend = {
      kind: "scripted",
      run: (request, clock) =>
        scripted.run(request, clock).then((outcome) => {
          ended.push(outcome)
          return outcome
        })
    }
    const { call, clock } = await setup(false, { exec })
    await call("POST", "/apps", { app_name: "deadline", org_slug: "personal" })
    const id = (await call("POST", "/apps/deadline/machines", { region: "iad", config: { image: "i" } })).json
      .id
    await call("GET", `/apps/deadline/machines/${id}/wait?state=started&timeout=60`)
    const exec1 = (body: unknown) => call("POST", `/apps/deadline/machines/${id}/exec`, body)

    const before = clock.now()
    const cut = await exec1({ command: ["work", "45"], timeout: 120 })
    assert.strictEqual(cut.status, 408)
    assert.match(cut.json.error, /^deadline_exceeded: /)
    assert.strictEqual(clock.now() - before, 30_000)
    assert.strictEqual(ended.length, 0, "the command is still running")
    await clock.advanceBy(15_000)
    assert.deepStrictEqual(
      ended.map((o) => [o.exitCode, o.stdout, o.durationMillis]),
      [[0, "worked 45s\n", 45_000]]
    )
    // Exactly 30 s is not past the deadline; the request's own timeout (≤ 30 s) ends the command first.
    assert.strictEqual((await exec1({ command: ["work", "30"], timeout: 60 })).json.exit_code, 0)
    const timedOut = await exec1({ command: ["work", "45"], timeout: 10 })
    assert.deepStrictEqual([timedOut.status, timedOut.json.exit_code], [200, 124])
    assert.strictEqual((await exec1({ command: ["work", "45"] })).json.exit_code, 124, "default timeout 30 s")
  })

  it("exec deadline: configurable; Hangar's detached-job scripts keep each exec under it and the job state per machine", async () => {
    const { call, clock } = await setup(false, { execDeadlineSeconds: 5 })
    await call("POST", "/apps", { app_name: "jobs", org_slug: "personal" })
    const id = (await call("POST", "/apps/jobs/machines", { region: "iad", config: { image: "i" } })).json.id
    await call("GET", `/apps/jobs/machines/${id}/wait?state=started&timeout=60`)
    const exec1 = (command: ReadonlyArray<string>) =>
      call("POST", `/apps/jobs/machines/${id}/exec`, { command, timeout: 60 })
    const cut = await exec1(["sleep", "6"])
    assert.strictEqual(cut.status, 408)
    assert.include(cut.json.error, "deadline of 5 s")

    const before = clock.now()
    const started = await exec1(
      DetachedJob.startCommand({
        jobId: "job-1",
        waitMillis: 4_000,
        limitSeconds: 0,
        command: ["work", "10"]
      })
    )
    assert.deepStrictEqual(DetachedJob.parse(started.json.stdout, started.json.stderr), { _tag: "Running" })
    const reports: Array<DetachedJob.Report | undefined> = []
    for (let i = 0; i < 5; i++) {
      const polled = await exec1(DetachedJob.pollCommand("job-1", 4_000))
      assert.strictEqual(polled.status, 200)
      const report = DetachedJob.parse(polled.json.stdout, polled.json.stderr)
      reports.push(report)
      if (report?._tag === "Done") break
    }
    assert.deepStrictEqual(
      reports.map((r) => r?._tag),
      ["Running", "Done"]
    )
    const last = reports[1]
    assert.deepStrictEqual(last?._tag === "Done" && [last.exitCode, last.stdout], [0, "worked 10s\n"])
    assert.strictEqual(clock.now() - before, 10_000)

    // A job lives in the machine's /tmp: a stop and a start from stopped lose it.
    const lost = await exec1(
      DetachedJob.startCommand({
        jobId: "job-2",
        waitMillis: 1_000,
        limitSeconds: 0,
        command: ["work", "60"]
      })
    )
    assert.strictEqual(DetachedJob.parse(lost.json.stdout, lost.json.stderr)?._tag, "Running")
    await call("POST", `/apps/jobs/machines/${id}/stop`)
    await call("GET", `/apps/jobs/machines/${id}/wait?state=stopped&timeout=60`)
    await call("POST", `/apps/jobs/machines/${id}/start`)
    await call("GET", `/apps/jobs/machines/${id}/wait?state=started&timeout=60`)
    const missing = await exec1(DetachedJob.pollCommand("job-2", 1_000))
    assert.deepStrictEqual(DetachedJob.parse(missing.json.stdout, missing.json.stderr), { _tag: "Missing" })
    const other = await exec1(["sh", "-c", "echo hi"])
    assert.strictEqual(other.json.exit_code, 127)
  })
})

describe("generated machine names", () => {
  it("never collide with a name in use: 3,000 unnamed creates in one app all succeed with distinct names", async () => {
    const sim = await FlySimulator.make({
      clock: new VirtualClock.VirtualClock(0),
      seed: 1,
      tokens: [{ token }]
    })
    sim.model.createApp("crowd", "personal")
    const names = new Set<string>()
    for (let i = 0; i < 3_000; i++)
      names.add(sim.model.createMachine("crowd", { config: { image: "i" }, skipLaunch: true }).name)
    assert.strictEqual(names.size, 3_000)
    await sim.close()
  })
})
