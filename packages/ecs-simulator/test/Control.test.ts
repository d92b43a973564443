import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DescribeTaskDefinitionCommand, ListTasksCommand, RunTaskCommand } from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { Money, PricingCatalog, VirtualClock } from "@hangar/core"
import { PricingFixtures } from "@hangar/core/testing"
import * as EcsSimulator from "../src/EcsSimulator.js"
import { live, setup } from "./Setup.js"

const json = (body: unknown) => ({
  headers: { "content-type": "application/json" },
  payload: JSON.stringify(body)
})

describe("/_sim control plane and data dir", () => {
  it("clock, billing, state, faults and reset over HTTP", async () => {
    const { sim, send } = await setup()
    const start = sim.clock.now()
    const advanced = await sim.server.inject({
      method: "POST",
      url: "/_sim/clock/advance",
      ...json({ millis: 3_600_000 })
    })
    assert.strictEqual(advanced.statusCode, 200)
    assert.strictEqual(advanced.json().nowMillis, start + 3_600_000)
    const bill = (await sim.server.inject({ method: "GET", url: "/_sim/billing" })).json()
    assert.strictEqual(bill.lines.length, 1)
    assert.strictEqual(bill.lines[0].billedSeconds, 3600)
    // t3.large $0.0832/h + 30 GiB gp3 at $0.08/GiB-month for one hour.
    assert.strictEqual(bill.lines[0].computeMicroUsd, 83_200)
    assert.strictEqual(bill.totalMicroUsd, bill.lines[0].computeMicroUsd + bill.lines[0].ebsMicroUsd)
    const added = await sim.server.inject({
      method: "POST",
      url: "/_sim/faults",
      ...json({ kind: "throttle", operation: "RunTask" })
    })
    assert.strictEqual(added.statusCode, 201)
    const listed = (await sim.server.inject({ method: "GET", url: "/_sim/faults" })).json()
    assert.strictEqual(listed.rules[0].kind, "throttle")
    const throttled = await send(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" })).catch(
      (e: Error) => e
    )
    assert.strictEqual((throttled as Error).name, "ThrottlingException")
    await sim.server.inject({ method: "DELETE", url: "/_sim/faults" })
    await send(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" }))
    const state = (await sim.server.inject({ method: "GET", url: "/_sim/state" })).json()
    assert.strictEqual(state.tasks.length, 1)
    assert.strictEqual(state.instances[0].availabilityZone.startsWith("us-east-1"), true)
    const reset = await sim.server.inject({ method: "POST", url: "/_sim/reset", ...json({ seed: 3 }) })
    assert.strictEqual(reset.statusCode, 200)
    assert.strictEqual(sim.model.clusters.size, 0)
    assert.strictEqual(sim.model.tasks.size, 0)
    assert.strictEqual(sim.faults.list().length, 0)
    // Timers scheduled before the reset do nothing afterwards.
    await (sim.clock as VirtualClock.VirtualClock).advanceBy(60 * 60_000)
    assert.strictEqual(sim.model.instances.size, 0)
  })

  it("Auto Scaling groups over HTTP: create, list, resize; bad bodies are 400s naming the field and change nothing", async () => {
    const { sim, virtual } = await setup({ min: 1, max: 4 })
    const created = await sim.server.inject({
      method: "POST",
      url: "/_sim/autoscaling-groups",
      ...json({ name: "gpu", instanceType: "g4dn.xlarge", min: 0, max: 2, desired: 0 })
    })
    assert.strictEqual(created.statusCode, 201)
    assert.match(
      created.json().arn,
      /^arn:aws:autoscaling:us-east-1:\d{12}:autoScalingGroup:.+:autoScalingGroupName\/gpu$/
    )
    const bad = [
      [{ name: "x", instanceType: "t9.huge", min: 0, max: 1, desired: 0 }, "instanceType"],
      [{ name: "x", instanceType: "t3.large", min: 2, max: 1, desired: 1 }, "min/desired/max"],
      [{ name: "x", instanceType: "t3.large", min: 0, max: 1 }, "desired"],
      [{ name: "x", instanceType: "t3.large", min: 0, max: 1, desired: 0, extra: 1 }, "extra"]
    ] as const
    for (const [body, field] of bad) {
      const response = await sim.server.inject({
        method: "POST",
        url: "/_sim/autoscaling-groups",
        ...json(body)
      })
      assert.strictEqual(response.statusCode, 400)
      assert.include(response.json().message, field)
    }
    assert.deepStrictEqual([...sim.model.groups.keys()], ["asg", "gpu"])
    const resized = await sim.server.inject({
      method: "PATCH",
      url: "/_sim/autoscaling-groups/asg",
      ...json({ min: 2, desired: 2 })
    })
    assert.strictEqual(resized.statusCode, 200)
    await virtual!.advanceBy(5 * 60_000)
    assert.strictEqual(live(sim).length, 2)
    for (const [url, body, field] of [
      ["/_sim/clock/advance", { millis: -1 }, "millis"],
      ["/_sim/faults", { kind: "az-outage" }, "zone"],
      ["/_sim/faults", { kind: "meteor" }, "kind"],
      ["/_sim/reset", { seed: "x" }, "seed"]
    ] as const) {
      const response = await sim.server.inject({ method: "POST", url, ...json(body) })
      assert.strictEqual(response.statusCode, 400, url)
      assert.include(response.json().message, field, url)
    }
    assert.strictEqual(sim.faults.list().length, 0)
    assert.throws(() => sim.faults.add({ kind: "latency" }), /latencyMs/)
  })

  it("--data-dir keeps configuration and the billing ledger across restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ecs-sim-"))
    try {
      const first = await setup({ dataDir: dir })
      await first.virtual!.advanceBy(3_600_000)
      const billedBefore = first.sim.billing().totalMicroUsd
      await first.sim.close()
      const clock = new VirtualClock.VirtualClock(first.virtual!.now())
      const second = await EcsSimulator.make({ clock, dataDir: dir, seed: 5 })
      const client = await import("@aws-sdk/client-ecs")
      const ecs = new client.ECSClient({
        region: "us-east-1",
        endpoint: "http://ecs-sim.internal",
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
        requestHandler: second.requestHandler,
        maxAttempts: 1
      })
      const definition = await VirtualClock.runToCompletion(
        clock,
        ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "agent" }))
      )
      assert.strictEqual(definition.taskDefinition?.cpu, "1024")
      const tasks = await VirtualClock.runToCompletion(
        clock,
        ecs.send(new ListTasksCommand({ cluster: "hangar" }))
      )
      assert.deepStrictEqual(tasks.taskArns, [])
      // The ledger carries the old instance; the group relaunched its minimum.
      assert.strictEqual(second.billing().lines.length, 2)
      assert.strictEqual(second.billing().totalMicroUsd >= billedBefore, true)
      assert.strictEqual(live(second).length, 1)
      await second.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("provisionCluster is all or nothing: a bad second group creates nothing", async () => {
    const { sim } = await setup()
    const groups = sim.model.groups.size
    assert.throws(
      () =>
        sim.provisionCluster("more", [
          { name: "ok", group: { name: "ok", instanceType: "t3.large", min: 0, max: 1, desired: 0 } },
          { name: "bad", group: { name: "bad", instanceType: "t9.huge", min: 0, max: 1, desired: 0 } }
        ]),
      /instanceType/
    )
    assert.throws(
      () =>
        sim.provisionCluster("more", [
          { name: "cp", group: { name: "fresh", instanceType: "t3.large", min: 0, max: 1, desired: 0 } }
        ]),
      /capacity provider cp exists/
    )
    assert.strictEqual(sim.model.groups.size, groups)
    assert.isFalse(sim.model.capacityProviders.has("ok"))
    assert.isFalse(sim.model.clusters.has("more"))
  })

  describe("a region's own prices", () => {
    const london = PricingFixtures.ec2EuWest2
    const rate = (key: string) => PricingCatalog.rate(london, key)

    it("bills at the catalog's rates (a test fixture's) and GET /_sim/billing names its region and sources", async () => {
      const { sim, virtual } = await setup({ region: "eu-west-2", pricing: london })
      await virtual!.advanceBy(3_600_000)
      const bill = (await sim.server.inject({ method: "GET", url: "/_sim/billing" })).json()
      assert.strictEqual(bill.lines.length, 1)
      const seconds = bill.lines[0].billedSeconds
      assert.isAtLeast(seconds, 3600)
      // Σ billed seconds × the fixture's t3.large rate, and 30 GiB of its gp3
      assert.strictEqual(bill.lines[0].computeMicroUsd, Money.costSeconds(rate("instance:t3.large"), seconds))
      assert.strictEqual(
        bill.lines[0].ebsMicroUsd,
        Money.costSeconds(Money.scale(rate("ebs:gp3"), 30), seconds)
      )
      assert.strictEqual(bill.totalMicroUsd, bill.lines[0].computeMicroUsd + bill.lines[0].ebsMicroUsd)
      assert.deepStrictEqual(
        { region: bill.pricing.region, catalogRegion: bill.pricing.catalogRegion, note: bill.pricing.note },
        { region: "eu-west-2", catalogRegion: "eu-west-2", note: undefined }
      )
      assert.deepStrictEqual(
        bill.pricing.prices.map((p: { key: string; usd: string; source: string }) => [
          p.key,
          p.usd,
          p.source
        ]),
        [
          ["instance:t3.large", "0.1000", "https://example.invalid/test-fixture"],
          ["ebs:gp3", "0.10", "https://example.invalid/test-fixture"]
        ]
      )
      assert.deepStrictEqual(sim.billing().pricing, bill.pricing)
      assert.isTrue(bill.lines[0].availabilityZone.startsWith("eu-west-2"))
      // c6i.large has a shape but no price in this catalog: refused, naming the field, in process and over HTTP
      assert.throws(
        () =>
          sim.createAutoScalingGroup({ name: "c6", instanceType: "c6i.large", min: 0, max: 1, desired: 0 }),
        /instanceType: no price "instance:c6i\.large" in the eu-west-2 pricing catalog/
      )
      const refused = await sim.server.inject({
        method: "POST",
        url: "/_sim/autoscaling-groups",
        ...json({ name: "c6", instanceType: "c6i.large", min: 0, max: 1, desired: 0 })
      })
      assert.strictEqual(refused.statusCode, 400)
      assert.include(refused.json().message, "instanceType")
      assert.deepStrictEqual([...sim.model.groups.keys()], ["asg"])
      await sim.close()
    })

    it("without a catalog given or shipped, a eu-central-1 simulator bills at us-east-1's prices and says so", async () => {
      const { sim, virtual } = await setup({ region: "eu-central-1" })
      await virtual!.advanceBy(3_600_000)
      const bill = (await sim.server.inject({ method: "GET", url: "/_sim/billing" })).json()
      assert.strictEqual(bill.pricing.region, "eu-central-1")
      assert.strictEqual(bill.pricing.catalogRegion, "us-east-1")
      assert.match(
        bill.pricing.note,
        /no pricing catalog for eu-central-1 was given or shipped: billed at us-east-1/
      )
      assert.strictEqual(bill.pricing.prices[0].key, "instance:t3.large")
      assert.strictEqual(bill.pricing.prices[0].usd, "0.0832")
      assert.match(bill.pricing.prices[0].source, /karpenter/)
      assert.strictEqual(bill.lines[0].computeMicroUsd, 83_200)
      // in us-east-1 without a catalog, no note
      const home = await setup()
      assert.deepStrictEqual(
        [home.sim.billing().pricing.catalogRegion, home.sim.billing().pricing.note],
        ["us-east-1", undefined]
      )
      await Promise.all([sim.close(), home.sim.close()])
    })

    it("a catalog for another region is refused at startup naming both; so is a data dir it cannot price", async () => {
      const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
      const error = await EcsSimulator.make({ clock, pricing: london }).catch((e: Error) => e)
      assert.instanceOf(error, PricingCatalog.InvalidCatalog)
      assert.match(
        (error as Error).message,
        /region: the catalog's prices are for eu-west-2, but the simulator's region is us-east-1/
      )
      await EcsSimulator.make({ clock, region: "eu-west-1", pricing: london }).then(
        () => assert.fail("a eu-west-2 catalog priced eu-west-1"),
        (e: Error) => assert.match(e.message, /eu-west-2.*eu-west-1/)
      )
      // in process too, a catalog is validated: a missing source or a negative price is named by its path
      const broken = JSON.parse(JSON.stringify(london))
      delete broken.prices[0].source
      broken.prices[1].usd = "-0.1"
      await EcsSimulator.make({ clock, region: "eu-west-2", pricing: broken }).then(
        () => assert.fail("a broken catalog was accepted"),
        (e: Error) => assert.match(e.message, /^pricing: .*prices\.0\.source: is missing.*prices\.1\.usd: /)
      )
      // --data-dir keeps working with a region's catalog; a catalog without the group's type cannot load it
      const dir = mkdtempSync(join(tmpdir(), "ecs-sim-"))
      try {
        const first = await setup({ dataDir: dir, region: "eu-west-2", pricing: london })
        await first.virtual!.advanceBy(3_600_000)
        const billed = first.sim.billing().totalMicroUsd
        await first.sim.close()
        const again = await EcsSimulator.make({
          clock: new VirtualClock.VirtualClock(first.virtual!.now()),
          dataDir: dir,
          seed: 5,
          region: "eu-west-2",
          pricing: london
        })
        assert.strictEqual(
          again.billing().lines[0]!.computeMicroUsd + again.billing().lines[0]!.ebsMicroUsd,
          billed
        )
        await again.close()
        const [first0, ...others] = london.prices
        const noT3Large: PricingCatalog.PricingCatalog = {
          ...london,
          prices: [first0, ...others.filter((p) => p.key !== "instance:t3.large")]
        }
        await EcsSimulator.make({ clock, dataDir: dir, region: "eu-west-2", pricing: noT3Large }).then(
          () => assert.fail("a data dir with t3.large loaded without its price"),
          (e: Error) => assert.match(e.message, /groups\.0\.instanceType: no price "instance:t3\.large"/)
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
})
