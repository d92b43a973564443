import { assert, describe, it } from "@effect/vitest"
import { type PricingCatalog, VirtualClock } from "@hangar/core"
import { PricingFixtures } from "@hangar/core/testing"
import { Effect, FastCheck as fc } from "effect"
import { startSimulator, withCluster } from "./Setup.js"

const TaskIds = fc.constantFrom("a", "b", "c", "d")

type Command =
  | { readonly kind: "create"; readonly taskId: string; readonly size: "dev" | "performance" | "high-perf" }
  | { readonly kind: "createGpu"; readonly taskId: string }
  /** A create whose RunTask response is lost (or that ECS answers with a 500 first): the provider retries. */
  | { readonly kind: "retriedCreate"; readonly taskId: string; readonly fault: "lost" | "500" }
  | { readonly kind: "execute"; readonly taskId: string }
  | { readonly kind: "release"; readonly taskId: string }
  | { readonly kind: "start"; readonly taskId: string }
  | { readonly kind: "destroy"; readonly taskId: string }
  | { readonly kind: "wait"; readonly minutes: number }

const Commands = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant("create" as const),
      taskId: TaskIds,
      size: fc.constantFrom("dev" as const, "performance" as const, "high-perf" as const)
    }),
    fc.record({ kind: fc.constant("createGpu" as const), taskId: TaskIds }),
    fc.record({
      kind: fc.constant("retriedCreate" as const),
      taskId: TaskIds,
      fault: fc.constantFrom("lost" as const, "500" as const)
    }),
    fc.record({ kind: fc.constant("execute" as const), taskId: TaskIds }),
    fc.record({ kind: fc.constant("release" as const), taskId: TaskIds }),
    fc.record({ kind: fc.constant("start" as const), taskId: TaskIds }),
    fc.record({ kind: fc.constant("destroy" as const), taskId: TaskIds }),
    {
      arbitrary: fc.record({ kind: fc.constant("wait" as const), minutes: fc.integer({ min: 1, max: 90 }) }),
      weight: 3
    }
  ),
  { minLength: 6, maxLength: 20, size: "medium" }
)

/** Runs one command sequence; returns a description of the first broken invariant, or undefined. */
const run = async (
  commands: ReadonlyArray<Command>,
  seed: number,
  prices: { readonly region?: string; readonly pricing?: PricingCatalog.PricingCatalog } = {}
): Promise<string | undefined> => {
  const { clock, sim, provider, dropResponses } = await startSimulator({ seed, max: 3, ...prices })
  try {
    const ecs = await Effect.runPromise(
      Effect.provide(
        withCluster,
        provider("cp", { gpuCapacityProvider: "gpu", retry: { maxRetries: 3, baseDelay: "1 second" } })
      )
    )
    const attempt = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.runPromise(Effect.either(VirtualClock.drive(clock, effect)))
    /** Sessions the caller holds as running (created or started, not released or destroyed). */
    const held = new Set<string>()
    for (const [step, command] of commands.entries()) {
      const where = `step ${step} ${JSON.stringify(command)}`
      const sessionId = "taskId" in command ? `ecs-${command.taskId}` : ""
      switch (command.kind) {
        case "create":
        case "createGpu":
        case "retriedCreate": {
          if (command.kind === "retriedCreate") {
            if (command.fault === "lost") dropResponses("RunTask")
            else sim.faults.add({ operation: "RunTask", type: "ServerException", status: 500, times: 1 })
          }
          const created = await attempt(
            ecs.create({
              taskId: command.taskId,
              repository: `acme/${command.taskId}`,
              ...(command.kind === "create" ? { size: command.size } : {}),
              ...(command.kind === "createGpu" ? { requiresGpu: true } : {})
            })
          )
          if (created._tag === "Right") {
            // A create for a task id already released answers with its session as it was (core idempotency);
            // it holds compute only if the session's task runs.
            const task = await attempt(ecs.get(sessionId))
            if (task._tag === "Right" && task.right.status === "running") held.add(sessionId)
          }
          sim.faults.clear()
          break
        }
        case "execute": {
          const result = await attempt(ecs.exec(sessionId, ["echo", command.taskId]))
          if (
            held.has(sessionId) &&
            (result._tag === "Left" || result.right.stdout !== `${command.taskId}\n`)
          )
            return `${where}: a running session's exec failed: ${JSON.stringify(result)}`
          break
        }
        case "release": {
          const released = await attempt(ecs.sleep(sessionId))
          if (released._tag === "Right") held.delete(sessionId)
          break
        }
        case "start": {
          const started = await attempt(ecs.start(sessionId))
          if (started._tag === "Right") held.add(sessionId)
          break
        }
        case "destroy": {
          const destroyed = await attempt(ecs.destroy(sessionId))
          if (destroyed._tag === "Right") held.delete(sessionId)
          break
        }
        case "wait":
          await clock.advanceBy(command.minutes * 60_000)
          break
      }
      const live = [...sim.model.tasks.values()].filter((t) => t.lastStatus !== "STOPPED")
      const perSession = new Map<string, number>()
      for (const task of live) {
        const owner = task.tags.find((t) => t.key === "hangar:session")?.value
        if (owner === undefined || !held.has(owner))
          return `${where}: task ${task.arn} (${task.lastStatus}) runs for ${owner ?? "no session"}, held: ${[...held]}`
        perSession.set(owner, (perSession.get(owner) ?? 0) + 1)
      }
      for (const [owner, count] of perSession)
        if (count > 1) return `${where}: ${count} tasks run for ${owner}`
      const cost = await attempt(ecs.clusterCost())
      const bill = sim.billing().totalMicroUsd
      if (cost._tag === "Left") return `${where}: clusterCost failed: ${cost.left.message}`
      if (cost.right.totalMicroUsd !== bill)
        return `${where}: clusterCost ${cost.right.totalMicroUsd} µ$ but the simulator billed ${bill} µ$`
    }
    return undefined
  } finally {
    await sim.close()
  }
}

/** Checks the property over `numRuns` random sequences, printing fast-check's seed and path on failure. */
const check = async (
  seed: number,
  numRuns: number,
  prices: { readonly region?: string; readonly pricing?: PricingCatalog.PricingCatalog } = {}
) => {
  const result = await fc.check(
    fc.asyncProperty(Commands, fc.integer({ min: 1, max: 1000 }), async (commands, simSeed) => {
      const broken = await run(commands, simSeed, prices)
      if (broken !== undefined) throw new Error(broken)
    }),
    { seed, numRuns }
  )
  if (result.failed) {
    console.error(`property failed with fast-check seed ${seed}; counterexample:`, result.counterexample)
    assert.fail(
      `seed ${seed}, path ${result.counterexample === null ? "" : result.counterexamplePath}: ${String(result.errorInstance)}`
    )
  }
  assert.strictEqual(result.numRuns, numRuns)
}

describe("properties of the provider on the simulator", () => {
  it("any sequence of create / execute / release / start / destroy: no task without a session, one task per task id, clusterCost = the bill", async () => {
    await check(20261202, 25)
  }, 120_000)

  it("in eu-west-2, both given its catalog (a test fixture): clusterCost = the bill at every step", async () => {
    await check(20261203, 8, { region: "eu-west-2", pricing: PricingFixtures.ec2EuWest2 })
  }, 120_000)
})
