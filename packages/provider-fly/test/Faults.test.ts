/**
 * Sessions under faults: the simulator answers 429s and 5xx, loses answers, wakes slowly (a start that hangs past
 * the deadline) and runs out of capacity in one region. Every session's steps complete or fail with a typed
 * ComputeError, no step waits past the provider's deadline (virtual time), and no machine is left running that
 * no session holds.
 */
import { assert, describe, it } from "@effect/vitest"
import { ComputeError, Region, VirtualClock } from "@hangar/core"
import { FlySimulator } from "@hangar/fly-simulator"
import { Clock, Effect, Exit, Redacted } from "effect"
import * as FlyProvider from "../src/FlyProvider.js"

const token = "faults-token"
const deadlineMillis = 180_000

interface Step {
  readonly session: string
  readonly step: string
  readonly millis: number
  readonly error: string | undefined
}

describe("FlyProvider under injected faults", () => {
  it("every session completes or fails typed, within its deadline, and leaks no machine", async () => {
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const sim = await FlySimulator.make({
      clock,
      seed: 21,
      tokens: [{ token }],
      timing: { resumeFromSuspended: 20_000, bootFromStopped: 45_000 },
      faults: [
        {
          match: "^[A-Z]+ /v1/apps",
          status: 429,
          error: "rate limit exceeded",
          retryAfterSeconds: 2,
          probability: 0.08
        },
        { match: "^[A-Z]+ /v1/apps", status: 500, error: "internal error", probability: 0.05 },
        { match: "^[A-Z]+ /v1/apps", status: 503, error: "service unavailable", probability: 0.05 },
        {
          match: "^POST /v1/apps/[^/]+/(machines|volumes)$",
          status: 502,
          error: "bad gateway",
          afterHandler: true,
          probability: 0.2
        },
        // Slow wakes: the first two starts in iad hang well past the deadline (and then land), others sometimes
        // take a minute.
        {
          match: "^POST /v1/apps/[^/]+/machines/[0-9a-f]+/start$",
          region: "iad",
          latencyMs: 400_000,
          times: 2
        },
        { match: "^POST /v1/apps/[^/]+/machines/[0-9a-f]+/start$", latencyMs: 60_000, probability: 0.2 },
        // No capacity in syd for new machines, and sometimes not for a start either.
        {
          match: "^POST /v1/apps/[^/]+/machines$",
          region: "syd",
          kind: "insufficient-resources",
          probability: 1
        },
        {
          match: "^POST /v1/apps/[^/]+/machines/[0-9a-f]+/start$",
          region: "lhr",
          kind: "insufficient-memory",
          probability: 0.3
        }
      ]
    })
    const layer = FlyProvider.layer({
      token: Redacted.make(token),
      baseUrl: "http://fly-sim.internal",
      fetch: sim.fetch,
      regions: ["iad", "lhr", "syd"],
      autostop: "off",
      deadline: `${deadlineMillis} millis`
    })
    const [fly, machines] = await Effect.runPromise(
      Effect.provide(Effect.all([FlyProvider.FlyProvider, FlyProvider.FlyMachines]), layer)
    )
    const steps: Array<Step> = []
    const timed = <A>(session: string, step: string, effect: Effect.Effect<A, ComputeError.ComputeError>) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const exit = yield* Effect.exit(effect)
        const ended = yield* Clock.currentTimeMillis
        let error: string | undefined
        if (Exit.isFailure(exit)) {
          const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.isTrue(
            ComputeError.isComputeError(failure),
            `${session} ${step}: not a typed failure: ${String(exit.cause)}`
          )
          error = (failure as ComputeError.ComputeError)._tag
        }
        steps.push({ session, step, millis: ended - started, error })
        return exit
      })

    const sessionIds = new Map<string, string>()
    /** One session's life: create, a task, sleep, wake, another task, destroy; it stops at the first failure. */
    const life = (n: number) =>
      Effect.gen(function* () {
        const name = `s${n}`
        const region = (["iad", "lhr", "syd"] as const)[n % 3]!
        const created = yield* timed(
          name,
          "create",
          fly.create({
            taskId: `fault-${n}`,
            repository: `acme/repo-${n % 4}`,
            region: Region.make(region),
            size: n % 2 === 0 ? "dev" : "standard"
          })
        )
        if (Exit.isFailure(created)) return
        const id = created.value.id
        sessionIds.set(name, id)
        for (const [step, effect] of [
          ["executeTask", machines.executeTask(id, ["work", "30"])],
          ["allowSleep", machines.allowSleep(id)],
          ["ensureRunning", machines.ensureRunning(id)],
          ["executeTask", machines.executeTask(id, ["echo", "again"])],
          ["destroy", fly.destroy(id)]
        ] as const) {
          const exit = yield* timed(name, step, effect as Effect.Effect<unknown, ComputeError.ComputeError>)
          if (Exit.isFailure(exit)) return
          if (step === "destroy") sessionIds.delete(name)
        }
      })

    await Effect.runPromise(
      VirtualClock.drive(
        clock,
        Effect.zipRight(
          Effect.forEach(
            Array.from({ length: 12 }, (_, n) => n),
            life,
            { concurrency: "unbounded" }
          ),
          machines.awaitCleanups
        )
      )
    )

    // Every step ended within the deadline of virtual time.
    for (const s of steps)
      assert.isAtMost(s.millis, deadlineMillis, `${s.session} ${s.step} took ${s.millis} ms`)
    // The faults were felt: some steps failed, with the errors expected of them, and some sessions completed.
    const failures = steps.filter((s) => s.error !== undefined)
    const tags = new Set(failures.map((s) => s.error))
    assert.isTrue(tags.has("CapacityUnavailable"), `failures: ${[...tags].join(", ")}`)
    assert.isTrue(tags.has("Timeout"), `failures: ${[...tags].join(", ")}`)
    const completed = new Set(
      steps.filter((s) => s.step === "destroy" && s.error === undefined).map((s) => s.session)
    )
    assert.isAtLeast(completed.size, 3, "too few sessions completed for the test to mean anything")
    // syd has no capacity: no session there got a machine, and none is left behind.
    assert.isTrue(
      steps
        .filter((s) => s.step === "create" && Number(s.session.slice(1)) % 3 === 2)
        .every((s) => s.error !== undefined)
    )

    // No leak: the sessions that failed midway are still held by their callers, who destroy them; after that no
    // machine is started, and every machine left (asleep, from creates that failed) is one `list` shows.
    sim.faults.clear()
    for (const id of sessionIds.values()) {
      await Effect.runPromise(VirtualClock.drive(clock, fly.destroy(id)))
    }
    const listed = await Effect.runPromise(VirtualClock.drive(clock, fly.list()))
    const listedIds = new Set(listed.map((s) => s.metadata.machineId))
    for (const machine of sim.model.machines.values()) {
      const state = machine.state
      if (state === "destroyed") continue
      assert.notInclude(["started", "starting"], state, `machine ${machine.id} left ${state} with no session`)
      assert.isTrue(listedIds.has(machine.id), `machine ${machine.id} is not listed`)
    }
    await sim.close()
  }, 120_000)
})
