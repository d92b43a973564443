import { RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { Money, PricingCatalog, VirtualClock } from "@hangar/core"
import { PricingFixtures } from "@hangar/core/testing"
import { FastCheck as fc } from "effect"
import * as EcsSimulator from "../src/EcsSimulator.js"
import { setup } from "./Setup.js"

const Sizes = fc.tuple(fc.constantFrom(256, 512, 1024, 2048), fc.constantFrom(512, 1024, 2048, 4096))

/** A random workload: each step registers a size, runs a task, maybe stops an older one, then time passes. */
const Steps = fc.array(fc.tuple(Sizes, fc.boolean(), fc.integer({ min: 5_000, max: 20 * 60_000 })), {
  minLength: 1,
  maxLength: 20
})

describe("properties of the capacity model", () => {
  it("placement never over-commits an instance and scale-in never removes an instance with tasks", async () => {
    await fc.assert(
      fc.asyncProperty(Steps, fc.integer({ min: 1, max: 1000 }), async (steps, seed) => {
        const { send, sim, virtual } = await setup({ min: 1, max: 3, seed })
        const arns: Array<string> = []
        const withTasks = new Map<string, number>()
        const check = () => {
          for (const instance of sim.model.instances.values()) {
            let cpu = 0
            let memory = 0
            for (const arn of instance.tasks) {
              cpu += sim.model.tasks.get(arn)!.definition.cpu
              memory += sim.model.tasks.get(arn)!.definition.memory
            }
            if (cpu > instance.cpu || memory > instance.memory) return false
            if (cpu !== instance.reservedCpu || memory !== instance.reservedMemory) return false
            // A terminated instance had no task on it when it went.
            if (
              instance.state === "terminated" &&
              (instance.tasks.size > 0 || withTasks.get(instance.id) === instance.terminatedAt)
            )
              return false
            if (instance.tasks.size > 0) withTasks.set(instance.id, sim.model.clock.now())
          }
          // No task ever lost its host: only empty instances were scaled in.
          for (const task of sim.model.tasks.values()) if (task.stopCode === "TerminationNotice") return false
          return true
        }
        for (const [i, [[cpu, memory], stop, wait]] of steps.entries()) {
          await send(
            new RegisterTaskDefinitionCommand({
              family: `f${i}`,
              cpu: String(cpu),
              memory: String(memory),
              containerDefinitions: [{ name: "c", image: "x" }]
            })
          )
          const r = await send<{ tasks: Array<{ taskArn: string }> }>(
            new RunTaskCommand({ cluster: "hangar", taskDefinition: `f${i}` })
          )
          arns.push(...r.tasks.map((t) => t.taskArn))
          if (stop && arns.length > 1)
            await send(new StopTaskCommand({ cluster: "hangar", task: arns.shift()! }))
          if (!check()) return false
          // Step through the wait a minute at a time, checking at each scaling evaluation.
          for (let t = 0; t < wait; t += 60_000) {
            await virtual!.advanceBy(Math.min(60_000, wait - t))
            if (!check()) return false
          }
        }
        await sim.close()
        return true
      }),
      { seed: 12, numRuns: 12 }
    )
  })

  it("a PROVISIONING task either runs once capacity arrives or stops with a reason", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        async (count, max, shortfall, seed) => {
          const { send, sim, virtual } = await setup({ min: 0, max: Math.max(1, max), seed })
          if (shortfall) sim.faults.add({ kind: "capacity", probability: 0.7 })
          const r = await send<{ tasks: Array<{ taskArn: string; lastStatus: string }> }>(
            new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", count })
          )
          if (!r.tasks.every((t) => t.lastStatus === "PROVISIONING")) return false
          await virtual!.advanceBy(40 * 60_000)
          for (const { taskArn } of r.tasks) {
            const task = sim.model.tasks.get(taskArn)!
            const ran = task.startedAt !== undefined && task.instance !== undefined
            const stoppedWithReason =
              task.lastStatus === "STOPPED" &&
              task.stopCode === "TaskFailedToStart" &&
              (task.stoppedReason ?? "").includes("capacity")
            if (ran === stoppedWithReason) return false
            if (!ran && task.lastStatus !== "STOPPED") return false
          }
          await sim.close()
          return true
        }
      ),
      { seed: 21, numRuns: 20 }
    )
  })

  /**
   * Launches one instance per lifetime and ends each at its lifetime; the bill must be Σ billed seconds × the
   * catalog's instance and gp3 rates, with the 60-second minimum, exactly.
   */
  const billsExactly = (
    instanceTypes: ReadonlyArray<string>,
    catalog: PricingCatalog.PricingCatalog,
    options: Pick<EcsSimulator.Options, "region" | "pricing">,
    seed: number
  ) =>
    fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...instanceTypes),
        fc.array(fc.integer({ min: 0, max: 4 * 3_600_000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 1000 }),
        async (instanceType, lifetimes, simSeed) => {
          const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
          const sim = await EcsSimulator.make({ clock, seed: simSeed, ...options })
          const group = sim.model.createAutoScalingGroup({
            name: "g",
            instanceType,
            min: 0,
            max: 10,
            desired: 0
          })
          sim.model.createCapacityProvider("p", group.arn, 100, false)
          sim.model.createCluster("c")
          sim.model.putClusterCapacityProviders("c", ["p"], [{ capacityProvider: "p" }])
          // Launch one instance per lifetime, then shrink the group at each lifetime's end.
          sim.model.updateAutoScalingGroup("g", { desired: lifetimes.length, max: 10 })
          await clock.advanceBy(0)
          const ids = [...sim.model.instances.keys()]
          const sorted = [...lifetimes].sort((a, b) => a - b)
          for (const [n, at] of sorted.entries()) {
            await clock.advanceTo(Date.UTC(2026, 0, 1) + at)
            sim.model.updateAutoScalingGroup("g", { desired: lifetimes.length - n - 1 })
          }
          await clock.advanceBy(30 * 60_000)
          const bill = sim.billing()
          const instanceRate = PricingCatalog.rate(catalog, `instance:${instanceType}`)
          const ebsRate = Money.scale(PricingCatalog.rate(catalog, "ebs:gp3"), 30)
          let expected = 0
          for (const id of ids) {
            const i = sim.model.instances.get(id)!
            const seconds = Math.max(60, Math.ceil(((i.terminatedAt ?? clock.now()) - i.launchedAt) / 1000))
            expected += Money.costSeconds(instanceRate, seconds) + Money.costSeconds(ebsRate, seconds)
          }
          const actual = ids
            .map((id) => sim.model.instances.get(id)!)
            .map((i) => i.terminatedAt! - i.launchedAt)
            .sort((a, b) => a - b)
          await sim.close()
          return (
            JSON.stringify(actual) === JSON.stringify(sorted) &&
            ids.length === lifetimes.length &&
            bill.lines.length === lifetimes.length &&
            bill.totalMicroUsd === expected &&
            bill.lines.every((l) => l.billedSeconds >= 60) &&
            bill.pricing.catalogRegion === catalog.region &&
            bill.pricing.prices.map((p) => p.key).join() === `instance:${instanceType},ebs:gp3`
          )
        }
      ),
      { seed, numRuns: 40 }
    )

  it("the bill equals Σ instance-seconds × rate with the 60 s minimum, exactly", () =>
    billsExactly(["t3.medium", "t3.large", "m6i.large", "g4dn.xlarge"], PricingCatalog.ec2, {}, 33))

  it("in eu-west-2 with its own catalog (a test fixture), the bill is Σ instance-seconds × that catalog's rates", () =>
    billsExactly(
      ["t3.medium", "t3.large", "m6i.large", "g4dn.xlarge"],
      PricingFixtures.ec2EuWest2,
      { region: "eu-west-2", pricing: PricingFixtures.ec2EuWest2 },
      34
    ))

  it("two runs with one seed are identical", async () => {
    const run = async () => {
      const { send, sim, virtual } = await setup({ min: 0, max: 4, seed: 9 })
      await send(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", count: 5 }))
      await virtual!.advanceBy(60 * 60_000)
      const out = JSON.stringify([
        sim.billing(),
        [...sim.model.tasks.values()].map((t) => [t.arn, t.lastStatus, t.startedAt])
      ])
      await sim.close()
      return out
    }
    assert.strictEqual(await run(), await run())
  })
})
