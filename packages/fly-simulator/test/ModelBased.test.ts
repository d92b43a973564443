/**
 * Model-based property test: random sequences of API calls on one machine with a mounted volume, run through the
 * simulator's routes on a virtual clock and checked against a pure reference model after every call.
 */
import { assert, describe, it } from "@effect/vitest"
import { Money, Pricing, VirtualClock } from "@hangar/core"
import { FastCheck as fc } from "effect"
import * as FlySimulator from "../src/FlySimulator.js"

type Settled = "created" | "started" | "stopped" | "suspended" | "destroyed"

interface Reference {
  state: Settled
  nonce: string | undefined
  volumeFile: string | undefined
  rootfsFile: string | undefined
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON checked field by field
type Json = any

interface Real {
  readonly sim: FlySimulator.Simulator
  readonly clock: VirtualClock.VirtualClock
  readonly id: string
  readonly call: (
    method: string,
    path: string,
    body?: unknown,
    nonce?: string
  ) => Promise<{ status: number; json: Json }>
}

const app = "/apps/prop/machines"
const legalTransitions = new Set([
  "created>starting",
  "created>stopping",
  "created>destroying",
  "created>created",
  "starting>started",
  "starting>stopping",
  "starting>destroying",
  "started>stopping",
  "started>suspending",
  "started>starting",
  "started>destroying",
  "suspending>suspended",
  "suspending>starting",
  "suspended>starting",
  "suspended>stopping",
  "suspended>destroying",
  "stopping>stopped",
  "stopped>starting",
  "stopped>destroying",
  "stopped>stopped",
  "destroying>destroyed"
])

/** The official state diagram's legal starting states of each action (written out here, not imported). */
const allowedFrom: Record<"start" | "stop" | "suspend", ReadonlyArray<Settled>> = {
  start: ["created", "stopped", "suspended"],
  stop: ["created", "started", "suspended"],
  suspend: ["started"]
}

/** Waits until the machine is settled (a non-transient state). */
const settle = async (r: Real) => {
  const waited = await r.call("GET", `${app}/${r.id}/wait?state=settled&timeout=60`)
  assert.strictEqual(waited.status, 200)
}

/** A mutating action whose outcome the reference predicts from the lifecycle table and the lease. */
class Act implements fc.AsyncCommand<Reference, Real> {
  constructor(
    readonly action: "start" | "stop" | "suspend" | "destroy",
    readonly withNonce: boolean
  ) {}
  check = (m: Readonly<Reference>) => m.state !== "destroyed"
  async run(m: Reference, r: Real): Promise<void> {
    const nonce = this.withNonce ? m.nonce : undefined
    const response =
      this.action === "destroy"
        ? await r.call("DELETE", `${app}/${r.id}?force=true`, undefined, nonce)
        : await r.call("POST", `${app}/${r.id}/${this.action}`, undefined, nonce)
    const noop =
      (this.action === "start" && m.state === "started") ||
      (this.action === "stop" && m.state === "stopped") ||
      (this.action === "suspend" && m.state === "suspended")
    const leased = m.nonce !== undefined && nonce !== m.nonce
    const legal = this.action === "destroy" || allowedFrom[this.action].includes(m.state)
    if (noop) {
      assert.strictEqual(response.status, 200)
    } else if (leased) {
      // A leased machine cannot be mutated without its nonce.
      assert.strictEqual(response.status, 409, JSON.stringify(response.json))
    } else if (!legal) {
      assert.strictEqual(response.status, 412, JSON.stringify(response.json))
    } else {
      assert.strictEqual(response.status, 200, JSON.stringify(response.json))
      await settle(r)
      if (this.action === "start") {
        if (m.state === "stopped") m.rootfsFile = undefined // a start from stopped resets the rootfs
        m.state = "started"
      } else if (this.action === "stop") m.state = "stopped"
      else if (this.action === "suspend") m.state = "suspended"
      else m.state = "destroyed"
    }
  }
  toString = () => `${this.action}${this.withNonce ? "+nonce" : ""}`
}

class Advance implements fc.AsyncCommand<Reference, Real> {
  constructor(readonly millis: number) {}
  check = () => true
  async run(_m: Reference, r: Real): Promise<void> {
    await r.clock.advanceBy(this.millis)
  }
  toString = () => `advance ${this.millis}`
}

class Lease implements fc.AsyncCommand<Reference, Real> {
  check = (m: Readonly<Reference>) => m.state !== "destroyed" && m.nonce === undefined
  async run(m: Reference, r: Real): Promise<void> {
    const response = await r.call("POST", `${app}/${r.id}/lease`, { ttl: 86_400 })
    assert.strictEqual(response.status, 201)
    m.nonce = response.json.data.nonce
    const again = await r.call("POST", `${app}/${r.id}/lease`, { ttl: 10 })
    assert.strictEqual(again.status, 409)
  }
  toString = () => "lease"
}

class Release implements fc.AsyncCommand<Reference, Real> {
  check = (m: Readonly<Reference>) => m.state !== "destroyed" && m.nonce !== undefined
  async run(m: Reference, r: Real): Promise<void> {
    assert.strictEqual((await r.call("DELETE", `${app}/${r.id}/lease`, undefined, "wrong")).status, 409)
    assert.strictEqual((await r.call("DELETE", `${app}/${r.id}/lease`, undefined, m.nonce)).status, 200)
    m.nonce = undefined
  }
  toString = () => "release"
}

class Write implements fc.AsyncCommand<Reference, Real> {
  constructor(
    readonly onVolume: boolean,
    readonly text: string
  ) {}
  check = (m: Readonly<Reference>) => m.state === "started"
  async run(m: Reference, r: Real): Promise<void> {
    const path = this.onVolume ? "/data/note" : "/etc/note"
    const response = await r.call("POST", `${app}/${r.id}/exec`, { command: ["write", path, this.text] })
    assert.strictEqual(response.json.exit_code, 0)
    if (this.onVolume) m.volumeFile = this.text
    else m.rootfsFile = this.text
  }
  toString = () => `write ${this.onVolume ? "volume" : "rootfs"} ${this.text}`
}

class Read implements fc.AsyncCommand<Reference, Real> {
  constructor(readonly onVolume: boolean) {}
  check = (m: Readonly<Reference>) => m.state === "started"
  async run(m: Reference, r: Real): Promise<void> {
    const path = this.onVolume ? "/data/note" : "/etc/note"
    const response = await r.call("POST", `${app}/${r.id}/exec`, { command: ["cat", path] })
    const expected = this.onVolume ? m.volumeFile : m.rootfsFile
    // Volume data survives stop/start and suspend/resume; the rootfs survives all but a start from stopped.
    if (expected === undefined) assert.strictEqual(response.json.exit_code, 1)
    else assert.deepStrictEqual([response.json.exit_code, response.json.stdout], [0, expected])
  }
  toString = () => `read ${this.onVolume ? "volume" : "rootfs"}`
}

/** The invariants checked after every run: one state, legal transitions, ordered events, an exact bill. */
const checkInvariants = async (m: Reference, r: Real) => {
  const machine = await r.call("GET", `${app}/${r.id}`)
  assert.strictEqual(machine.json.state, m.state)
  const listed = (await r.call("GET", `${app}?include_deleted=true`)).json as Array<{
    id: string
    state: string
  }>
  assert.deepStrictEqual(
    listed.map((x) => [x.id, x.state]),
    [[r.id, m.state]]
  )
  const events = (await r.call("GET", `${app}/${r.id}/events?limit=50`)).json as Array<{
    status: string
    timestamp: number
  }>
  const oldestFirst = [...events].reverse()
  for (let i = 1; i < oldestFirst.length; i++) {
    assert.isAtMost(oldestFirst[i - 1]!.timestamp, oldestFirst[i]!.timestamp)
    const step = `${oldestFirst[i - 1]!.status}>${oldestFirst[i]!.status}`
    assert.isTrue(legalTransitions.has(step), `illegal transition ${step}`)
  }
  if (events.length < 50) {
    // Recompute the bill from the events: Σ over intervals of the state's rate × whole seconds, exactly.
    const now = r.clock.now()
    const guestRate = Pricing.flyGuestRate(Pricing.flyGuestBySize.dev, "iad")
    const rootfsRate = Pricing.flyRootfsRate(Pricing.defaultFlyRootfsGb)
    const expected: Record<string, number> = {}
    for (let i = 0; i < oldestFirst.length; i++) {
      const e = oldestFirst[i]!
      const millis = (oldestFirst[i + 1]?.timestamp ?? now) - e.timestamp
      const billing = Pricing.flyStateBilling(e.status)
      if (millis <= 0 || billing === "none") continue
      expected[e.status] =
        (expected[e.status] ?? 0) + Money.billPerSecond(billing === "guest" ? guestRate : rootfsRate, millis)
    }
    const bill = r.sim.billing()
    const machineLines = bill.lines.filter((l) => l.kind === "machine")
    assert.deepStrictEqual(Object.fromEntries(machineLines.map((l) => [l.state, l.costMicroUsd])), expected)
    assert.strictEqual(
      bill.totalMicroUsd,
      bill.lines.reduce((t, l) => t + l.costMicroUsd, 0)
    )
  }
}

const commands = fc.commands(
  [
    fc
      .tuple(
        fc.constantFrom("start", "start", "stop", "stop", "suspend", "suspend", "destroy") as fc.Arbitrary<
          Act["action"]
        >,
        fc.boolean()
      )
      .map(([action, withNonce]) => new Act(action, withNonce)),
    fc.integer({ min: 1, max: 7_200_000 }).map((ms) => new Advance(ms)),
    fc.constant(new Lease()),
    fc.constant(new Release()),
    fc.tuple(fc.boolean(), fc.stringMatching(/^[a-z]{1,8}$/)).map(([v, t]) => new Write(v, t)),
    fc.boolean().map((v) => new Read(v))
  ],
  { maxCommands: 30, size: "max" }
)

describe("the simulator against a pure reference model", () => {
  it("keeps its invariants over random call sequences", async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
        // The reference keeps a destroyed machine for good; the simulator forgets it after its retention.
        const sim = await FlySimulator.make({
          clock,
          seed: 11,
          tokens: [{ token: "t" }],
          rateLimits: false,
          destroyedRetentionMillis: Number.MAX_SAFE_INTEGER
        })
        const call: Real["call"] = async (method, path, body, nonce) => {
          const response = await VirtualClock.runToCompletion(
            clock,
            sim.fetch(`http://fly-sim.internal/v1${path}`, {
              method,
              headers: {
                authorization: "Bearer t",
                "content-type": "application/json",
                ...(nonce === undefined ? {} : { "fly-machine-lease-nonce": nonce })
              },
              ...(body === undefined ? {} : { body: JSON.stringify(body) })
            })
          )
          const text = await response.text()
          return { status: response.status, json: text.length > 0 ? JSON.parse(text) : undefined }
        }
        await call("POST", "/apps", { app_name: "prop" })
        const volume = await call("POST", "/apps/prop/volumes", { name: "data", region: "iad", size_gb: 1 })
        const created = await call("POST", app, {
          region: "iad",
          skip_launch: true,
          config: { image: "agent", mounts: [{ volume: volume.json.id, path: "/data" }] }
        })
        const real: Real = { sim, clock, id: created.json.id, call }
        const reference: Reference = {
          state: "created",
          nonce: undefined,
          volumeFile: undefined,
          rootfsFile: undefined
        }
        try {
          await fc.asyncModelRun(() => ({ model: reference, real }), cmds)
          await checkInvariants(reference, real)
        } finally {
          await sim.close()
        }
      }),
      { seed: 20261128, numRuns: 250 }
    )
  })
})
