/**
 * Property test (fast-check commands) of FlyProvider and FlyMachines against the simulator in-process, on a
 * virtual clock, with Fly's rate limits on and seeded faults (429s, 5xx before the handler, and lost answers
 * after it): random createSession / executeTask / allowSleep / ensureRunning / destroy over random repositories,
 * regions and sizes. After every command: at most one machine per repository and region, a machine allowed to
 * sleep is not started unless a task of it is active, every failure is a typed ComputeError. At the end: every
 * machine the simulator holds is one the provider returned or lists, and the provider's cost equals the bill.
 */
import { assert, describe, it } from "@effect/vitest"
import { ComputeError, type ComputeProvider, Region, type TaskResult, VirtualClock } from "@hangar/core"
import { FlySimulator } from "@hangar/fly-simulator"
import { Effect, Either, FastCheck as fc, Redacted } from "effect"
import * as FlyProvider from "../src/FlyProvider.js"

const token = "property-token"
const repositories = ["acme/web", "beta/tool"] as const
const regions = ["iad", "syd"] as const
const sizes = ["dev", "standard", "high-perf"] as const
const errorTags = new Set([
  "SessionNotFound",
  "CapacityUnavailable",
  "RateLimited",
  "ProviderUnavailable",
  "InvalidRequest",
  "Unauthorized",
  "Unsupported",
  "Timeout"
])

type Key = `${(typeof repositories)[number]}@${(typeof regions)[number]}`

interface Model {
  /** The session of each repository and region, once a create returned it. */
  readonly sessions: Map<Key, string>
  /** Sessions whose last lifecycle command was a successful allowSleep (tasks since then sleep it again). */
  readonly asleep: Set<string>
  /** Every session id a create ever returned. */
  readonly seen: Set<string>
  tasks: number
}

interface Real {
  readonly clock: VirtualClock.VirtualClock
  readonly sim: FlySimulator.Simulator
  readonly fly: ComputeProvider.ComputeProvider
  readonly machines: FlyProvider.Machines
  readonly run: <A>(effect: Effect.Effect<A, ComputeError.ComputeError>) => Promise<Either.Either<A, unknown>>
}

const machineOf = (sessionId: string) => sessionId.split("/")[1] ?? ""

/** A failure must be one of core's typed errors, never a defect or a raw exception. */
const assertTyped = (error: unknown, what: string) => {
  assert.isTrue(ComputeError.isComputeError(error), `${what} failed with an untyped error: ${String(error)}`)
  assert.isTrue(errorTags.has((error as { _tag: string })._tag), `${what}: unknown tag`)
}

/** At most one live machine per repository (app) and region; asleep sessions' machines are not started. */
const checkInvariants = (m: Model, r: Real) => {
  const live = new Map<string, Array<string>>()
  for (const machine of r.sim.model.machines.values()) {
    const state = machine.state
    if (state === "destroyed" || state === "destroying") continue
    const key = `${machine.app}@${machine.region}`
    live.set(key, [...(live.get(key) ?? []), machine.id])
  }
  for (const [key, ids] of live) assert.isAtMost(ids.length, 1, `two machines for ${key}: ${ids.join(", ")}`)
  for (const sessionId of m.asleep) {
    const machine = r.sim.model.machines.get(machineOf(sessionId))
    if (machine === undefined || machine.state === "destroyed") continue
    assert.isTrue(
      r.machines.activeTasks(sessionId) > 0 || ["stopped", "suspended"].includes(machine.state),
      `${sessionId} was allowed to sleep but is ${machine.state} with no active task`
    )
  }
}

const keyOf = (repository: string, region: string) => `${repository}@${region}` as Key

class Create implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly repository: (typeof repositories)[number],
    readonly region: (typeof regions)[number],
    readonly size: (typeof sizes)[number],
    readonly twice: boolean
  ) {}
  check = () => true
  async run(m: Model, r: Real): Promise<void> {
    const key = keyOf(this.repository, this.region)
    const task = (n: number) =>
      r.fly.create({
        taskId: `t${n}`,
        repository: this.repository,
        region: Region.make(this.region),
        size: this.size
      })
    const first = ++m.tasks
    const second = ++m.tasks
    // Twice: two tasks of the same repository and region at once share one machine.
    const outcomes = this.twice
      ? await r.run(Effect.all([Effect.either(task(first)), Effect.either(task(second))], { concurrency: 2 }))
      : await r.run(Effect.map(Effect.either(task(first)), (one) => [one]))
    assert.isTrue(Either.isRight(outcomes))
    if (Either.isLeft(outcomes)) return
    const sessions = outcomes.right.flatMap((o) => (Either.isRight(o) ? [o.right] : []))
    for (const o of outcomes.right) if (Either.isLeft(o)) assertTyped(o.left, "create")
    await r.run(r.machines.awaitCleanups)
    if (sessions.length === 0) {
      // A failed create may have woken the machine and put it back to sleep: its state is not predicted.
      const known = m.sessions.get(key)
      if (known !== undefined) m.asleep.delete(known)
      return
    }
    const ids = new Set(sessions.map((s) => s.id))
    assert.strictEqual(ids.size, 1, "two tasks of one repository and region got different machines")
    const session = sessions[0]!
    assert.strictEqual(session.status, "running")
    assert.strictEqual(session.region, Region.make(this.region))
    m.sessions.set(key, session.id)
    m.seen.add(session.id)
    m.asleep.delete(session.id)
    assert.strictEqual(r.sim.model.machines.get(machineOf(session.id))?.state, "started")
  }
  toString = () => `create ${this.repository} ${this.region} ${this.size}${this.twice ? " ×2" : ""}`
}

abstract class OnSession implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly repository: (typeof repositories)[number],
    readonly region: (typeof regions)[number]
  ) {}
  check = (m: Readonly<Model>) => m.sessions.has(keyOf(this.repository, this.region))
  session = (m: Model) => m.sessions.get(keyOf(this.repository, this.region))!
  abstract run(m: Model, r: Real): Promise<void>
}

class Execute extends OnSession {
  constructor(
    repository: (typeof repositories)[number],
    region: (typeof regions)[number],
    readonly seconds: number,
    /** Ask for sleep while the task runs: it must wait for the task, then happen. */
    readonly allowSleepDuring: boolean
  ) {
    super(repository, region)
  }
  override async run(m: Model, r: Real): Promise<void> {
    const id = this.session(m)
    const task = r.machines.executeTask(id, ["work", String(this.seconds)])
    type Outcome = readonly [
      Either.Either<TaskResult.TaskResult, ComputeError.ComputeError>,
      Either.Either<unknown, ComputeError.ComputeError> | undefined
    ]
    const outcome: Either.Either<Outcome, unknown> = this.allowSleepDuring
      ? await r.run(
          Effect.all(
            [
              Effect.either(task),
              Effect.either(Effect.zipRight(Effect.sleep("1 second"), r.machines.allowSleep(id)))
            ],
            { concurrency: 2 }
          )
        )
      : await r.run(Effect.map(Effect.either(task), (one) => [one, undefined] as const))
    assert.isTrue(Either.isRight(outcome))
    if (Either.isLeft(outcome)) return
    const [result, allowed] = outcome.right
    if (Either.isLeft(result)) assertTyped(result.left, "executeTask")
    else assert.strictEqual(result.right.exitCode, 0, "the machine was put to sleep under its task")
    if (allowed !== undefined) {
      if (Either.isRight(allowed)) m.asleep.add(id)
      else {
        assertTyped(allowed.left, "allowSleep")
        m.asleep.delete(id)
      }
    }
    assert.strictEqual(r.machines.activeTasks(id), 0)
  }
  override toString = () =>
    `executeTask ${this.repository} ${this.region} work ${this.seconds}${this.allowSleepDuring ? " + allowSleep" : ""}`
}

class AllowSleep extends OnSession {
  override async run(m: Model, r: Real): Promise<void> {
    const id = this.session(m)
    const outcome = await r.run(r.machines.allowSleep(id))
    if (Either.isRight(outcome)) {
      m.asleep.add(id)
      assert.include(["suspended", "stopped"], outcome.right.status)
    } else {
      assertTyped(outcome.left, "allowSleep")
      m.asleep.delete(id)
    }
  }
  override toString = () => `allowSleep ${this.repository} ${this.region}`
}

class EnsureRunning extends OnSession {
  override async run(m: Model, r: Real): Promise<void> {
    const id = this.session(m)
    m.asleep.delete(id)
    const outcome = await r.run(r.machines.ensureRunning(id))
    if (Either.isRight(outcome)) {
      assert.strictEqual(outcome.right.status, "running")
      assert.strictEqual(r.sim.model.machines.get(machineOf(id))?.state, "started")
    } else assertTyped(outcome.left, "ensureRunning")
  }
  override toString = () => `ensureRunning ${this.repository} ${this.region}`
}

class Destroy extends OnSession {
  override async run(m: Model, r: Real): Promise<void> {
    const id = this.session(m)
    const outcome = await r.run(r.fly.destroy(id))
    if (Either.isRight(outcome)) {
      m.sessions.delete(keyOf(this.repository, this.region))
      m.asleep.delete(id)
      assert.strictEqual(r.sim.model.machines.get(machineOf(id))?.state, "destroyed")
    } else assertTyped(outcome.left, "destroy")
  }
  override toString = () => `destroy ${this.repository} ${this.region}`
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly millis: number) {}
  check = () => true
  async run(_m: Model, r: Real): Promise<void> {
    await r.clock.advanceBy(this.millis)
  }
  toString = () => `advance ${this.millis} ms`
}

const repository = fc.constantFrom(...repositories)
const region = fc.constantFrom(...regions)
const create = fc
  .tuple(repository, region, fc.constantFrom(...sizes), fc.boolean())
  .map(([a, b, c, d]) => new Create(a, b, c, d))
const commands = fc.commands(
  [
    create,
    create,
    fc
      .tuple(repository, region, fc.integer({ min: 0, max: 120 }), fc.boolean())
      .map(([a, b, c, d]) => new Execute(a, b, c, d)),
    fc.tuple(repository, region).map(([a, b]) => new AllowSleep(a, b)),
    fc.tuple(repository, region).map(([a, b]) => new EnsureRunning(a, b)),
    fc.tuple(repository, region).map(([a, b]) => new Destroy(a, b)),
    fc.integer({ min: 1_000, max: 3_600_000 }).map((ms) => new Advance(ms))
  ],
  { maxCommands: 24 }
)

/** Transient faults: 429s and 5xx before the handler, and answers lost after a mutation was carried out. */
const faultRules = (level: number) => [
  {
    match: "^[A-Z]+ /v1/apps",
    status: 429,
    error: "rate limit exceeded",
    retryAfterSeconds: 1,
    probability: level
  },
  { match: "^[A-Z]+ /v1/apps", status: 503, error: "service unavailable", probability: level },
  {
    match:
      "^(POST /v1/apps/[^/]+/(machines|volumes)|POST /v1/apps/[^/]+/machines/[0-9a-f]+/(start|stop|suspend|lease)|DELETE /v1/apps/[^/]+/machines/[0-9a-f]+)$",
    status: 502,
    error: "bad gateway: connection reset after the request was sent",
    afterHandler: true,
    probability: level * 3
  }
]

const seed = 20261202

describe("FlyProvider against the simulator, random command sequences", () => {
  it(`keeps one machine per repository and region, sleeps only idle machines, bills what it reports (fast-check seed ${seed})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        commands,
        fc.integer({ min: 1, max: 1_000 }),
        fc.constantFrom(0, 0.05, 0.15),
        async (cmds, simSeed, level) => {
          const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
          const sim = await FlySimulator.make({
            clock,
            seed: simSeed,
            tokens: [{ token }],
            faults: faultRules(level)
          })
          const layer = FlyProvider.layer({
            token: Redacted.make(token),
            baseUrl: "http://fly-sim.internal",
            fetch: sim.fetch,
            regions: [...regions],
            autostop: "off"
          })
          const [fly, machines] = await Effect.runPromise(
            Effect.provide(Effect.all([FlyProvider.FlyProvider, FlyProvider.FlyMachines]), layer)
          )
          const run: Real["run"] = (effect) =>
            Effect.runPromise(VirtualClock.drive(clock, Effect.either(effect)))
          const real: Real = { clock, sim, fly, machines, run }
          const model: Model = { sessions: new Map(), asleep: new Set(), seen: new Set(), tasks: 0 }
          try {
            await fc.asyncModelRun(() => ({ model, real }), cmds)
            checkInvariants(model, real)
            // The end: no faults; every machine the simulator holds is one the provider returned or lists
            // (nothing leaked), destroyed here so no cost accrues, then the provider's cost is the bill.
            sim.faults.clear()
            const listed = await run(fly.list())
            assert.isTrue(Either.isRight(listed))
            const listedIds = Either.isRight(listed) ? listed.right.map((s) => s.id) : []
            const all = new Set([...model.seen, ...listedIds])
            for (const machine of sim.model.machines.values()) {
              assert.isTrue(all.has(`${machine.app}/${machine.id}`), `machine ${machine.id} leaked`)
            }
            for (const id of listedIds) assert.isTrue(Either.isRight(await run(fly.destroy(id))))
            let cost = 0
            for (const id of all) {
              const usage = await run(fly.usage(id))
              assert.isTrue(Either.isRight(usage), `usage of ${id}`)
              if (Either.isRight(usage)) cost += usage.right.costMicroUsd
            }
            const bill = sim.billing()
            const billed = Object.values(bill.byMachine).reduce((a, b) => a + b, 0)
            assert.strictEqual(cost, billed, "the provider's cost is not the simulator's bill")
          } finally {
            await sim.close()
          }
        }
      ),
      { seed, numRuns: 40 }
    )
  }, 120_000)
})
