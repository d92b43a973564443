import { assert, describe, it } from "@effect/vitest"
import { Money, Pricing, PricingCatalog, VirtualClock } from "@hangar/core"
import { PricingFixtures } from "@hangar/core/testing"
import { Cause, Effect, Exit } from "effect"
import * as ClusterCost from "../src/ClusterCost.js"
import { startSimulator, withCluster } from "./Setup.js"

const hour = 3_600_000

describe("clusterCost", () => {
  it.effect("equals the simulator's bill through scale-out, scale-in and idle; periods add up", () =>
    Effect.gen(function* () {
      const { clock, sim, provider, drive } = yield* Effect.promise(() =>
        startSimulator({ instanceType: "t3.medium", min: 1, max: 3 })
      )
      const ecs = yield* Effect.provide(withCluster, provider())
      const billed = () => sim.billing().byCluster.hangar ?? 0
      const start = clock.now()
      const sessions = yield* drive(
        Effect.all(
          [1, 2, 3].map((n) =>
            ecs.create({ taskId: `c-${n}`, repository: `acme/r${n}`, size: "performance" })
          ),
          { concurrency: "unbounded" }
        )
      )
      assert.isAtLeast(sim.model.instances.size, 2, "three performance tasks need more than one t3.medium")
      const busy = yield* drive(ecs.clusterCost())
      assert.strictEqual(busy.totalMicroUsd, billed())
      assert.isTrue(busy.instances.every((i) => i.source === "attributes"))
      yield* Effect.promise(() => clock.advanceBy(hour))
      const middle = clock.now()
      assert.strictEqual((yield* drive(ecs.clusterCost())).totalMicroUsd, billed())
      for (const s of sessions) yield* drive(ecs.sleep(s.id))
      yield* Effect.promise(() => clock.advanceBy(hour))
      const scaledIn = yield* drive(ecs.clusterCost())
      assert.isAbove(
        [...sim.model.instances.values()].filter((i) => i.state === "terminated").length,
        0,
        "the extra instances were scaled in"
      )
      assert.isTrue(scaledIn.instances.some((i) => i.terminatedAt !== undefined))
      assert.strictEqual(scaledIn.totalMicroUsd, billed())
      // (start, middle] + (middle, now] is the whole bill
      const before = yield* drive(ecs.clusterCost({ to: middle }))
      const after = yield* drive(ecs.clusterCost({ from: middle }))
      assert.strictEqual(before.totalMicroUsd + after.totalMicroUsd, billed())
      assert.strictEqual(
        (yield* drive(ecs.clusterCost({ from: new Date(start - 1) }))).totalMicroUsd,
        billed()
      )
      // everything is accounted for once: reserved + idle while sessions ran + idle while none ran
      const parts =
        scaledIn.reservedMicroUsd + scaledIn.attributedIdleMicroUsd + scaledIn.unattributedIdleMicroUsd
      assert.isAtMost(Math.abs(parts - scaledIn.totalMicroUsd), 2)
      assert.isAbove(scaledIn.unattributedIdleMicroUsd, 0, "an hour with no session left idle capacity")
      // sessions' usage is their reserved share plus the idle capacity kept while they ran
      const usages = yield* drive(Effect.forEach(sessions, (s) => ecs.usage(s.id)))
      const sum = usages.reduce((total, u) => total + u.costMicroUsd, 0)
      assert.isAtMost(
        Math.abs(sum - (scaledIn.reservedMicroUsd + scaledIn.attributedIdleMicroUsd)),
        usages.length + 2
      )
      for (const u of usages) assert.isAtLeast(u.seconds.running, 3_599)
    })
  )

  it.effect(
    "a session alone on the cluster is charged the whole instance while it runs, nothing while stopped",
    () =>
      Effect.gen(function* () {
        const { clock, provider, drive } = yield* Effect.promise(() => startSimulator({ min: 1, max: 1 }))
        const ecs = yield* Effect.provide(withCluster, provider())
        const session = yield* drive(ecs.create({ taskId: "alone", repository: "acme/a", size: "dev" }))
        // past the instance's 60-second minimum, which was billed at its launch (before any session ran)
        yield* Effect.promise(() => clock.advanceBy(60_000))
        const u0 = yield* drive(ecs.usage(session.id))
        yield* Effect.promise(() => clock.advanceBy(hour))
        const u1 = yield* drive(ecs.usage(session.id))
        // a t3.large and its 30 GiB root volume for an hour: $0.0832 + 30 × $0.08 / 730
        const instanceHour =
          Pricing.ec2InstanceCost("t3.large", hour).compute + Pricing.ec2InstanceCost("t3.large", hour).ebs
        assert.isAtMost(Math.abs(u1.costMicroUsd - u0.costMicroUsd - instanceHour), 2)
        yield* drive(ecs.sleep(session.id))
        const u2 = yield* drive(ecs.usage(session.id))
        yield* Effect.promise(() => clock.advanceBy(hour))
        const u3 = yield* drive(ecs.usage(session.id))
        assert.strictEqual(u3.costMicroUsd, u2.costMicroUsd)
        const cost = yield* drive(ecs.clusterCost())
        assert.isAbove(cost.unattributedIdleMicroUsd, instanceHour - 10)
      })
  )
})

describe("clusterCost with a region's own prices", () => {
  const london = PricingFixtures.ec2EuWest2

  it.effect(
    "both given eu-west-2's catalog (a test fixture), clusterCost equals the bill at exactly its rates",
    () =>
      Effect.gen(function* () {
        const { clock, sim, provider, drive } = yield* Effect.promise(() =>
          startSimulator({ instanceType: "t3.medium", min: 1, max: 3, region: "eu-west-2", pricing: london })
        )
        const ecs = yield* Effect.provide(withCluster, provider())
        const sessions = yield* drive(
          Effect.all(
            [1, 2, 3].map((n) =>
              ecs.create({ taskId: `eu-${n}`, repository: `acme/r${n}`, size: "performance" })
            ),
            { concurrency: "unbounded" }
          )
        )
        yield* Effect.promise(() => clock.advanceBy(hour))
        for (const s of sessions) yield* drive(ecs.sleep(s.id))
        yield* Effect.promise(() => clock.advanceBy(hour))
        const cost = yield* drive(ecs.clusterCost())
        // Σ billed seconds (60 s minimum) × the fixture's rates, computed here from the simulator's instances
        let expected = 0
        for (const i of sim.model.instances.values()) {
          const seconds = Math.max(60, Math.ceil(((i.terminatedAt ?? clock.now()) - i.launchedAt) / 1000))
          expected +=
            Money.costSeconds(PricingCatalog.rate(london, `instance:${i.instanceType}`), seconds) +
            Money.costSeconds(Money.scale(PricingCatalog.rate(london, "ebs:gp3"), 30), seconds)
        }
        assert.isAbove(sim.model.instances.size, 1)
        assert.strictEqual(sim.billing().totalMicroUsd, expected)
        assert.strictEqual(cost.totalMicroUsd, expected)
        assert.deepStrictEqual(cost.pricing, sim.billing().pricing)
        assert.deepStrictEqual([cost.pricing.region, cost.pricing.catalogRegion], ["eu-west-2", "eu-west-2"])
        assert.isUndefined(cost.pricing.note)
        assert.isTrue(cost.pricing.prices.every((p) => p.source === "https://example.invalid/test-fixture"))
        // the same instances at us-east-1's prices would cost something else
        const usEast = [...sim.model.instances.values()].reduce((sum, i) => {
          const c = Pricing.ec2InstanceCost(i.instanceType, (i.terminatedAt ?? clock.now()) - i.launchedAt)
          return sum + c.compute + c.ebs
        }, 0)
        assert.notStrictEqual(cost.totalMicroUsd, usEast)
      })
  )

  it.effect(
    "without a catalog given or shipped, eu-central-1 is costed at us-east-1's prices and the report says so",
    () =>
      Effect.gen(function* () {
        const { clock, sim, provider } = yield* Effect.promise(() =>
          startSimulator({ region: "eu-central-1" })
        )
        const ecs = yield* Effect.provide(withCluster, provider())
        yield* Effect.promise(() => clock.advanceBy(hour))
        const cost = yield* VirtualClock.drive(clock, ecs.clusterCost())
        assert.strictEqual(cost.totalMicroUsd, sim.billing().totalMicroUsd)
        assert.deepStrictEqual(
          [cost.pricing.region, cost.pricing.catalogRegion],
          ["eu-central-1", "us-east-1"]
        )
        assert.match(
          cost.pricing.note!,
          /no pricing catalog for eu-central-1 was given or shipped: billed at us-east-1/
        )
        assert.deepStrictEqual(cost.pricing, sim.billing().pricing)
      })
  )

  it.effect(
    "a catalog for another region is refused naming both; an instance type it does not price is InvalidRequest",
    () =>
      Effect.gen(function* () {
        // The simulator is in eu-west-2 (the region the provider signs for: ECS state is regional), billing at
        // us-east-1's prices relabelled for it (a test catalog), which price c6i.large.
        const { provider, sim, clock } = yield* Effect.promise(() =>
          startSimulator({
            instanceType: "c6i.large",
            region: "eu-west-2",
            pricing: { ...PricingCatalog.ec2, region: "eu-west-2" }
          })
        )
        const refused = yield* Effect.exit(
          Effect.provide(withCluster, provider("cp", { awsRegion: "us-east-1", pricing: london }))
        )
        assert.isTrue(Exit.isFailure(refused))
        if (Exit.isFailure(refused)) {
          const defect = Cause.squash(refused.cause)
          assert.instanceOf(defect, PricingCatalog.InvalidCatalog)
          assert.match(
            (defect as Error).message,
            /region: the catalog's prices are for eu-west-2, but awsRegion is us-east-1/
          )
        }
        // eu-west-2's catalog has no c6i.large: the cluster's cost cannot be priced, and says why
        const ecs = yield* Effect.provide(
          withCluster,
          provider("cp", { awsRegion: "eu-west-2", pricing: london })
        )
        const error = yield* Effect.flip(VirtualClock.drive(clock, ecs.clusterCost()))
        assert.strictEqual(error._tag, "InvalidRequest")
        assert.include(error.message, "instanceType")
        assert.include(error.message, 'no price "instance:c6i.large" in the eu-west-2 pricing catalog')
        yield* Effect.promise(() => sim.close())
      })
  )
})

describe("ClusterCost.attribute", () => {
  const instance = (over: Partial<ClusterCost.InstanceLifetime> = {}): ClusterCost.InstanceLifetime => ({
    containerInstanceArn: "ci-1",
    ec2InstanceId: "i-1",
    instanceType: "t3.large",
    launchedAt: 0,
    terminatedAt: undefined,
    cpu: 2048,
    memory: 7987,
    source: "attributes",
    ...over
  })
  const task = (over: Partial<ClusterCost.TaskInterval>): ClusterCost.TaskInterval => ({
    sessionId: "s",
    taskArn: "t",
    containerInstanceArn: "ci-1",
    startedAt: 0,
    stoppedAt: undefined,
    cpu: 512,
    memory: 1024,
    ...over
  })

  it("splits an instance by reserved share, idle by reserved cost among the sessions running", () => {
    const result = ClusterCost.attribute(
      [instance()],
      [task({ sessionId: "a", taskArn: "ta", cpu: 512 }), task({ sessionId: "b", taskArn: "tb", cpu: 1536 })],
      0,
      hour,
      30
    )
    const a = result.bySession.get("a")!
    const b = result.bySession.get("b")!
    assert.closeTo(b / a, 3, 1e-9)
    assert.closeTo(a + b, result.totalMicroUsd, 1e-6)
    assert.strictEqual(result.unattributedIdleMicroUsd, 0)
  })

  it("the 60-second minimum is billed at the launch instant, the rest second by second", () => {
    const i = instance({ launchedAt: 1_000, terminatedAt: 91_500 })
    const minimum = Pricing.ec2InstanceCost("t3.large", 60_000)
    assert.strictEqual(ClusterCost.billedBy(i, 999, 30), 0)
    assert.strictEqual(ClusterCost.billedBy(i, 1_000, 30), minimum.compute + minimum.ebs)
    assert.strictEqual(ClusterCost.billedBy(i, 61_000, 30), minimum.compute + minimum.ebs)
    const whole = ClusterCost.billedBy(i, 5 * hour, 30)
    const lifetime = Pricing.ec2InstanceCost("t3.large", 91_000) // 90.5 s billed as 91
    assert.strictEqual(whole, lifetime.compute + lifetime.ebs)
    assert.strictEqual(ClusterCost.attribute([i], [], 0, hour, 30).totalMicroUsd, whole)
    assert.strictEqual(
      ClusterCost.attribute([i], [], 999, 1_000, 30).totalMicroUsd,
      minimum.compute + minimum.ebs
    )
    assert.strictEqual(
      ClusterCost.attribute([i], [], 1_000, hour, 30).totalMicroUsd,
      whole - minimum.compute - minimum.ebs
    )
    assert.strictEqual(ClusterCost.attribute([i], [], 91_500, hour, 30).totalMicroUsd, 0)
  })
})
