/**
 * The exact optimum against an exhaustive search written here, independently of Optimum.ts: every partition of
 * each repository's tasks into machines (chains of non-overlapping tasks in arrival order) and every platform for
 * each machine, each gap priced from the `Platform` fields directly. fast-check is effect's (3.23.2, pinned by
 * the lockfile); the seeds are fixed and fast-check prints the seed and path of a failing case.
 */
import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Optimum from "../src/Optimum.js"
import * as Oracle from "../src/Oracle.js"
import { Platforms, traceOf } from "./fixtures.js"

const platforms = [Platforms.fly(), Platforms.ecs()]

// ---------------------------------------------------------------------------------------------------------------
// The exhaustive search
// ---------------------------------------------------------------------------------------------------------------

/** λ per second of wait, or undefined for the clairvoyant model (just-in-time wakes, no wait). */
type Lambda = number | undefined

const newMachineCost = (p: Oracle.Platform, task: Oracle.TraceTask, lambda: Lambda) =>
  p.runMicroUsdPerSecond(task) * p.createBilledSeconds + (lambda === undefined ? 0 : lambda * p.createSeconds)

const idleCost = (p: Oracle.Platform, next: Oracle.TraceTask, gapMillis: number, lambda: Lambda) => {
  const seconds = gapMillis / 1000
  const running = p.runMicroUsdPerSecond(next)
  const options = [running * seconds]
  for (const s of p.sleepStates) {
    if (lambda === undefined && seconds < s.wakeSeconds) continue
    const waitCost = lambda === undefined ? 0 : lambda * s.wakeSeconds
    options.push(s.microUsdPerSecond(next) * seconds + running * s.wakeBilledSeconds + waitCost)
  }
  return Math.min(...options)
}

interface Chain {
  readonly platform: Oracle.Platform
  readonly freeAt: number
}

/** The cheapest schedule of one repository's tasks (in arrival order), over every partition and platform. */
const exhaustive = (tasks: ReadonlyArray<Oracle.TraceTask>, lambda: Lambda): number => {
  const search = (i: number, chains: ReadonlyArray<Chain>): number => {
    if (i === tasks.length) return 0
    const task = tasks[i]!
    const end = task.arrivalMillis + task.durationMillis
    let best = Number.POSITIVE_INFINITY
    for (const p of platforms) {
      if (!p.feasible(task)) continue
      const busy = p.runMicroUsdPerSecond(task) * (task.durationMillis / 1000)
      best = Math.min(
        best,
        newMachineCost(p, task, lambda) + busy + search(i + 1, [...chains, { platform: p, freeAt: end }])
      )
    }
    chains.forEach((chain, c) => {
      if (!chain.platform.feasible(task) || chain.freeAt > task.arrivalMillis) return
      const busy = chain.platform.runMicroUsdPerSecond(task) * (task.durationMillis / 1000)
      const rest = chains.map((other, o) => (o === c ? { platform: other.platform, freeAt: end } : other))
      best = Math.min(
        best,
        idleCost(chain.platform, task, task.arrivalMillis - chain.freeAt, lambda) + busy + search(i + 1, rest)
      )
    })
    return best
  }
  return search(0, [])
}

const exhaustiveTrace = (trace: ReadonlyArray<Oracle.TraceTask>, lambda: Lambda): number => {
  const byRepository = new Map<string, Array<Oracle.TraceTask>>()
  for (const task of trace)
    byRepository.set(task.repository, [...(byRepository.get(task.repository) ?? []), task])
  let total = 0
  for (const tasks of byRepository.values())
    total += exhaustive(
      [...tasks].sort((a, b) => a.arrivalMillis - b.arrivalMillis || a.taskId.localeCompare(b.taskId)),
      lambda
    )
  return total
}

// ---------------------------------------------------------------------------------------------------------------
// Small traces: overlaps, gaps from seconds to days, every size, some GPU tasks
// ---------------------------------------------------------------------------------------------------------------

const seconds = fc.oneof(
  fc.integer({ min: 0, max: 600 }),
  fc.integer({ min: 0, max: 4 * 3_600 }),
  fc.integer({ min: 0, max: 3 * 86_400 })
)

const smallTrace = (maxLength: number) =>
  fc
    .array(
      fc.record({
        repository: fc.constantFrom("a", "b"),
        arrival: seconds,
        duration: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 7_200 })),
        size: fc.constantFrom(
          "dev" as const,
          "standard" as const,
          "performance" as const,
          "high-perf" as const
        ),
        requiresGpu: fc.integer({ min: 0, max: 4 }).map((n) => n === 0)
      }),
      { minLength: 1, maxLength }
    )
    .map((tasks): ReadonlyArray<Oracle.TraceTask> => traceOf(tasks))

/** Equal to the micro-dollar: the two sums differ only by floating-point rounding. */
const equalToTheMicroDollar = (a: number, b: number) => Math.abs(a - b) < 1e-3

describe("exact optimum", () => {
  it("equals the exhaustive search on 1,200 small traces (clairvoyant)", () => {
    fc.assert(
      fc.property(smallTrace(8), (trace) =>
        equalToTheMicroDollar(
          Optimum.optimum(trace, platforms).costMicroUsd,
          exhaustiveTrace(trace, undefined)
        )
      ),
      { seed: 1812, numRuns: 1_200 }
    )
  })

  it("equals the exhaustive search on 600 small traces with waiting charged (wait-aware)", () => {
    fc.assert(
      fc.property(smallTrace(7), fc.constantFrom(0, 278, 16_667), (trace, lambda) =>
        equalToTheMicroDollar(
          Optimum.optimum(trace, platforms, { waitMicroUsdPerSecond: lambda }).costMicroUsd,
          exhaustiveTrace(trace, lambda)
        )
      ),
      { seed: 1813, numRuns: 600 }
    )
  })

  it("Oracle-0 ≤ exact ≤ Oracle-1, and exact ≤ wait-aware, on larger traces", () => {
    fc.assert(
      fc.property(smallTrace(60), (trace) => {
        const exact = Optimum.optimum(trace, platforms).costMicroUsd
        const waitAware = Optimum.optimum(trace, platforms, { waitMicroUsdPerSecond: 16_667 })
        return (
          Oracle.oracle0(trace, platforms) <= exact + 1e-6 &&
          exact <= Oracle.oracle1(trace, platforms).costMicroUsd + 1e-6 &&
          exact <= waitAware.costMicroUsd + 1e-6 &&
          equalToTheMicroDollar(
            waitAware.costMicroUsd,
            waitAware.moneyMicroUsd + 16_667 * waitAware.waitSeconds
          )
        )
      }),
      { seed: 1814, numRuns: 200 }
    )
  })

  it("destroys and re-creates a Fly machine across a day's gap, where Oracle-1 stops it", () => {
    const task = (taskId: string, arrivalMillis: number): Oracle.TraceTask => ({
      taskId,
      repository: "web",
      region: "iad",
      arrivalMillis,
      durationMillis: 300_000,
      size: "dev",
      requiresGpu: false
    })
    const trace = [task("a", 0), task("b", 86_400_000)]
    const fly = Platforms.fly()
    const run = fly.runMicroUsdPerSecond(trace[0]!)
    const result = Optimum.optimum(trace, platforms)
    assert.closeTo(result.costMicroUsd, 2 * run * (fly.createBilledSeconds + 300), 1e-6)
    assert.strictEqual(result.machinesCreated, 2)
    assert.strictEqual(result.platformByTask.get("b"), "fly")
    assert.isAbove(Oracle.oracle1(trace, platforms).costMicroUsd, result.costMicroUsd)
  })

  it("refuses a platform whose wake is billed for less than it takes, naming the field", () => {
    const fly = Platforms.fly()
    const odd: Oracle.Platform = {
      ...fly,
      sleepStates: [{ ...fly.sleepStates[0]!, wakeBilledSeconds: 0, wakeSeconds: 5 }]
    }
    assert.throws(() => Optimum.optimum([], [odd]), /wakeBilledSeconds/)
    assert.throws(
      () => Optimum.optimum([], platforms, { waitMicroUsdPerSecond: -1 }),
      /waitMicroUsdPerSecond/
    )
  })
})
