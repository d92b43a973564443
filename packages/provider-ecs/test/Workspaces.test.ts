/**
 * A repository's workspace persists on ECS without leaking: whatever sequence of sessions runs, every workspace
 * the provider made is one repository's (an EFS access point tagged with it, one per repository, reused by its
 * later and concurrent sessions) or deleted, and with EBS scratch volumes every volume RunTask asks for is
 * deleted with its task.
 */
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { Workspaces } from "@hangar/ecs-simulator"
import { Effect, FastCheck as fc } from "effect"
import { startSimulator, withCluster } from "./Setup.js"

const fileSystemId = "fs-0123456789abcdef0"

const Step = fc.oneof(
  fc.record({
    kind: fc.constant("create" as const),
    taskId: fc.constantFrom("a", "b", "c", "d", "e"),
    repository: fc.constantFrom("acme/api", "acme/web", "acme/docs")
  }),
  fc.record({ kind: fc.constant("release" as const), taskId: fc.constantFrom("a", "b", "c", "d", "e") }),
  fc.record({ kind: fc.constant("destroy" as const), taskId: fc.constantFrom("a", "b", "c", "d", "e") }),
  fc.record({ kind: fc.constant("wait" as const), minutes: fc.integer({ min: 1, max: 60 }) })
)

/** Runs the steps; returns what is wrong with the workspaces afterwards, or undefined. */
const run = async (
  steps: ReadonlyArray<typeof Step extends fc.Arbitrary<infer T> ? T : never>,
  efs: boolean
) => {
  const { clock, sim, provider, requests } = await startSimulator({ max: 4 })
  sim.provisionFileSystem(fileSystemId)
  try {
    const ecs = await Effect.runPromise(
      Effect.provide(withCluster, provider("cp", efs ? { workspace: { kind: "efs", fileSystemId } } : {}))
    )
    const attempt = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.runPromise(Effect.either(VirtualClock.drive(clock, effect)))
    const used = new Set<string>()
    for (const step of steps) {
      if (step.kind === "create") {
        const created = await attempt(ecs.create({ taskId: step.taskId, repository: step.repository }))
        if (created._tag === "Right") used.add(created.right.repository)
      } else if (step.kind === "release") await attempt(ecs.sleep(`ecs-${step.taskId}`))
      else if (step.kind === "destroy") await attempt(ecs.destroy(`ecs-${step.taskId}`))
      else await clock.advanceBy(step.minutes * 60_000)
    }
    const made = [...sim.model.workspaces.accessPoints.values()]
    if (!efs) {
      if (made.length > 0) return `EBS mode made ${made.length} access points`
      for (const r of requests.filter((q) => q.operation === "RunTask")) {
        const volumes = (r.body.volumeConfigurations ?? []) as Array<{
          managedEBSVolume: { terminationPolicy?: { deleteOnTermination: boolean } }
        }>
        if (volumes.some((v) => v.managedEBSVolume.terminationPolicy?.deleteOnTermination !== true))
          return `a RunTask asked ECS to keep its volume after the task: ${JSON.stringify(volumes)}`
      }
      return undefined
    }
    const owners = made.map((ap) => (ap.deletedAt === undefined ? Workspaces.repositoryOf(ap) : "(deleted)"))
    for (const [i, owner] of owners.entries())
      if (owner === undefined || (owner !== "(deleted)" && !used.has(owner)))
        return `access point ${made[i]!.id} is no repository's workspace (owner ${owner})`
    const live = owners.filter((o) => o !== "(deleted)")
    if (new Set(live).size !== live.length) return `a repository has two workspaces: ${live.join(", ")}`
    if (live.length !== used.size)
      return `${used.size} repositories had sessions but ${live.length} workspaces exist`
    // Every RunTask of the repository's sessions mounted its workspace, none asked for a volume of its own.
    for (const r of requests.filter((q) => q.operation === "RunTask"))
      if (r.body.volumeConfigurations !== undefined)
        return "an EFS session's RunTask asked for a volume of its own"
    return undefined
  } finally {
    await sim.close()
  }
}

describe("workspaces on the simulator", () => {
  for (const efs of [true, false])
    it(`any sequence of sessions leaves every workspace attached, a repository's, or deleted (${efs ? "EFS access points" : "EBS scratch"})`, async () => {
      const seed = efs ? 20261206 : 20261207
      const result = await fc.check(
        fc.asyncProperty(fc.array(Step, { minLength: 1, maxLength: 14 }), async (steps) => {
          const broken = await run(steps, efs)
          if (broken !== undefined) throw new Error(broken)
        }),
        { seed, numRuns: efs ? 15 : 6 }
      )
      if (result.failed)
        assert.fail(
          `seed ${seed}, path ${result.counterexamplePath ?? ""}: ${String(result.errorInstance)} (counterexample ${JSON.stringify(result.counterexample)})`
        )
    }, 120_000)

  it("a concurrent session of a repository mounts the same workspace, through its own task", async () => {
    const { clock, sim, provider, requests } = await startSimulator({ max: 4 })
    sim.provisionFileSystem(fileSystemId)
    try {
      const ecs = await Effect.runPromise(
        Effect.provide(withCluster, provider("cp", { workspace: { kind: "efs", fileSystemId } }))
      )
      const both = await Effect.runPromise(
        VirtualClock.drive(
          clock,
          Effect.all(
            [
              ecs.create({ taskId: "one", repository: "acme/api" }),
              ecs.create({ taskId: "two", repository: "acme/api" })
            ],
            { concurrency: 2 }
          )
        )
      )
      assert.notStrictEqual(both[0].metadata.taskArn, both[1].metadata.taskArn)
      assert.strictEqual(sim.model.workspaces.describe(fileSystemId).length, 1)
      const definitions = requests
        .filter((q) => q.operation === "RegisterTaskDefinition")
        .map((q) => JSON.stringify(q.body.volumes))
      assert.isAbove(definitions.length, 0)
      for (const volumes of definitions)
        assert.include(volumes, sim.model.workspaces.describe(fileSystemId)[0]!.id)
    } finally {
      await sim.close()
    }
  })
})
