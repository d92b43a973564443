import { assert, describe, it } from "@effect/vitest"
import * as Money from "../src/Money.js"
import * as Pricing from "../src/Pricing.js"
import * as PricingCatalog from "../src/PricingCatalog.js"
import { PricingFixtures } from "../src/testing/index.js"

const thirtyDays = 30 * 86_400_000

describe("Pricing", () => {
  it("prices Fly presets from CPUs plus extra RAM, per 30 days", () => {
    const month = (size: keyof typeof Pricing.flyGuestBySize, region = "iad") =>
      Money.cost(Pricing.flyGuestRate(Pricing.flyGuestBySize[size], region), thirtyDays)
    // shared-cpu-1x with 512 MB and 1 GB: 2.02 + 0.25 or 0.75 GB × $5
    assert.strictEqual(month("dev"), 3_270_000)
    assert.strictEqual(month("standard"), 5_770_000)
    assert.strictEqual(month("performance"), 32_190_000)
    assert.strictEqual(month("high-perf"), 64_380_000)
    assert.strictEqual(month("dev", "lax"), 3_927_270)
    // shared-cpu-1x with 1 GB: 2.02 + 0.75 GB × $5
    assert.strictEqual(
      Money.cost(Pricing.flyGuestRate({ cpuKind: "shared", cpus: 1, memoryMb: 1024 }, "iad"), thirtyDays),
      5_770_000
    )
  })

  it("sizes a shared Fly machine for the sessions it holds: each gets the preset's CPUs and memory", () => {
    assert.deepStrictEqual(Pricing.flyGuestForSessions("standard", 1), Pricing.flyGuestBySize.standard)
    assert.deepStrictEqual(Pricing.flyGuestForSessions("standard", 3), {
      cpuKind: "shared",
      cpus: 3,
      memoryMb: 3072
    })
    // Fly's largest shared machine has 8 CPUs; performance-2x sessions fit 8 to a 16-CPU machine.
    assert.strictEqual(Pricing.flyGuestForSessions("standard", 20).cpus, 8)
    assert.strictEqual(Pricing.flyGuestForSessions("high-perf", 20).cpus, 16)
    assert.deepStrictEqual(Pricing.flyGuestForSessions("dev", 0), Pricing.flyGuestBySize.dev)
    // ECS gives each session the same vCPUs (1024 units a CPU) and memory
    for (const size of ["dev", "standard", "performance", "high-perf"] as const) {
      assert.strictEqual(Pricing.ecsTaskBySize[size].cpu, Pricing.flyGuestBySize[size].cpus * 1024)
      assert.strictEqual(Pricing.ecsTaskBySize[size].memoryMib, Pricing.flyGuestBySize[size].memoryMb)
    }
  })

  it("bills Fly states: guest while running, rootfs while asleep, nothing once destroyed", () => {
    assert.strictEqual(Pricing.flyStateBilling("started"), "guest")
    assert.strictEqual(Pricing.flyStateBilling("starting"), "guest")
    assert.strictEqual(Pricing.flyStateBilling("suspended"), "rootfs")
    assert.strictEqual(Pricing.flyStateBilling("stopped"), "rootfs")
    assert.strictEqual(Pricing.flyStateBilling("destroyed"), "none")
    assert.strictEqual(Money.cost(Pricing.flyRootfsRate(1), 10 * 86_400_000), 50_000)
  })

  it("bills an EC2 instance per second with the 60-second minimum, EBS included", () => {
    const short = Pricing.ec2InstanceCost("t3.medium", 5_000)
    assert.strictEqual(short.compute, Money.costSeconds(Pricing.ec2InstanceRate("t3.medium"), 60))
    const hour = Pricing.ec2InstanceCost("t3.medium", 3_600_000, 30)
    assert.strictEqual(hour.compute, 41_600)
    assert.strictEqual(hour.ebs, Money.cost(Pricing.ebsRate(30), 3_600_000))
    for (const type of Object.keys(Pricing.ec2InstanceTypes))
      assert.isAbove(Pricing.ec2InstanceCost(type, 1).compute, 0)
  })

  it("an EC2 catalog names its region; with none given or shipped, another region is billed at us-east-1's and says so", () => {
    assert.strictEqual(PricingCatalog.ec2.region, "us-east-1")
    const own = Pricing.ec2Pricing("us-east-1")
    assert.strictEqual(own.catalog, PricingCatalog.ec2)
    assert.isUndefined(own.note)
    const shipped = Pricing.ec2Pricing("eu-west-2")
    assert.deepStrictEqual([shipped.catalogRegion, shipped.note], ["eu-west-2", undefined])
    const frankfurt = Pricing.ec2Pricing("eu-central-1")
    assert.deepStrictEqual([frankfurt.region, frankfurt.catalogRegion], ["eu-central-1", "us-east-1"])
    assert.match(frankfurt.note!, /no pricing catalog for eu-central-1.*us-east-1/)
    const given = Pricing.ec2Pricing("eu-west-2", PricingFixtures.ec2EuWest2)
    assert.deepStrictEqual([given.catalogRegion, given.note], ["eu-west-2", undefined])
    // t3.large at the fixture's $0.1000/h and 30 GiB at $0.10/GiB per 730 h, for one hour
    const hour = Pricing.ec2InstanceCost("t3.large", 3_600_000, 30, given.catalog)
    assert.strictEqual(hour.compute, 100_000)
    assert.strictEqual(hour.ebs, Money.cost(Money.rate("3", "730-hours"), 3_600_000))
    for (const p of PricingFixtures.ec2EuWest2.prices) {
      assert.strictEqual(p.source, "https://example.invalid/test-fixture")
      assert.strictEqual(p.note, "test fixture, not a real price")
    }
  })

  it("ships sourced, dated EC2 prices for every region a scenario uses, and refuses a missing one by region and key", () => {
    for (const [fly, aws] of Object.entries(Pricing.awsRegionOf)) {
      const pricing = Pricing.ec2PricingStrict(fly, [
        "instance:t3.medium",
        "ebs:gp3",
        "ipv4:public",
        "efs:standard",
        "transfer:internet-out"
      ])
      assert.strictEqual(pricing.region, aws)
      for (const p of pricing.catalog.prices) {
        assert.match(p.source, /^https:\/\//)
        assert.match(p.asOf, /^\d{4}-\d{2}-\d{2}$/)
      }
    }
    // London's t3.large is its own price, not us-east-1's
    assert.notDeepEqual(
      Pricing.ec2InstanceRate("t3.large", Pricing.ec2PricingStrict("lhr").catalog),
      Pricing.ec2InstanceRate("t3.large")
    )
    assert.throws(
      () => Pricing.ec2PricingStrict("lhr", ["instance:m6i.large"]),
      /no price "instance:m6i\.large" for eu-west-2/
    )
    assert.throws(() => Pricing.ec2PricingStrict("fra", ["ebs:gp3"]), /for fra in the shipped EC2 catalogs/)
  })

  it("refuses a catalog for another region naming both, and one that cannot bill EC2", () => {
    assert.throws(
      () => Pricing.ec2Pricing("eu-west-1", PricingFixtures.ec2EuWest2, "the simulator's region"),
      /region: the catalog's prices are for eu-west-2, but the simulator's region is eu-west-1/
    )
    const { region: _, ...regionless } = PricingFixtures.ec2EuWest2
    assert.throws(() => Pricing.ec2Pricing("eu-west-2", regionless), /region: is missing/)
    assert.throws(() => Pricing.ec2Pricing("us-east-1", PricingCatalog.fly), /provider: expected "ec2"/)
    const [first, ...rest] = PricingFixtures.ec2EuWest2.prices
    const noEbs: PricingCatalog.PricingCatalog = {
      ...PricingFixtures.ec2EuWest2,
      prices: [first, ...rest.filter((p) => p.key !== "ebs:gp3")]
    }
    assert.throws(() => Pricing.ec2Pricing("eu-west-2", noEbs), /ebs:gp3/)
    const london = Pricing.ec2Pricing("eu-west-2", PricingFixtures.ec2EuWest2)
    assert.isUndefined(Pricing.ec2Unpriced("t3.large", london))
    assert.match(Pricing.ec2Unpriced("c6i.large", london)!, /no price "instance:c6i\.large" in the eu-west-2/)
    assert.match(Pricing.ec2Unpriced("z9.huge", london)!, /expected one of/)
    assert.deepStrictEqual(
      Pricing.ec2PriceSources(london.catalog, ["t3.large", "t3.large"]).map((p) => [p.key, p.usd]),
      [
        ["instance:t3.large", "0.1000"],
        ["ebs:gp3", "0.10"]
      ]
    )
  })

  it("a user catalog from JSON is validated, every bad field named by its path", () => {
    const json = JSON.parse(JSON.stringify(PricingFixtures.ec2EuWest2))
    assert.deepStrictEqual(
      PricingCatalog.parseJson(JSON.stringify(json), "x.json"),
      PricingFixtures.ec2EuWest2
    )
    const broken = structuredClone(json)
    delete broken.prices[0].source
    delete broken.prices[1].asOf
    broken.prices[2].usd = "-0.12"
    broken.prices[3].usd = 0.7
    broken.prices[4].asOf = "2026-02-30"
    broken.region = "London"
    const error = (() => {
      try {
        PricingCatalog.parse(broken, "eu.json")
      } catch (e) {
        return e as PricingCatalog.InvalidCatalog
      }
      return assert.fail("a broken catalog was accepted")
    })()
    assert.instanceOf(error, PricingCatalog.InvalidCatalog)
    assert.deepStrictEqual(error.issues.map((i) => i.path).sort(), [
      "prices.0.source",
      "prices.1.asOf",
      "prices.2.usd",
      "prices.3.usd",
      "prices.4.asOf",
      "region"
    ])
    assert.match(error.message, /^eu\.json: /)
    assert.match(error.message, /prices\.2\.usd: a non-negative decimal/)
    assert.match(error.message, /prices\.4\.asOf: a calendar date/)
    assert.match(error.message, /region: an AWS region code/)
    const twice = structuredClone(json)
    twice.prices[1].key = twice.prices[0].key
    assert.throws(
      () => PricingCatalog.parse(twice),
      /prices\.1\.key: "instance:t3\.medium" is already the key of prices\.0/
    )
    assert.throws(() => PricingCatalog.parseJson("{ not json", "eu.json"), /eu\.json: \(catalog\): not JSON/)
  })
})
