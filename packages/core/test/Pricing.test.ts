import { assert, describe, it } from "@effect/vitest"
import * as Money from "../src/Money.js"
import * as Pricing from "../src/Pricing.js"

const thirtyDays = 30 * 86_400_000

describe("Pricing", () => {
  it("prices Fly presets from CPUs plus extra RAM, per 30 days", () => {
    const month = (size: keyof typeof Pricing.flyGuestBySize, region = "iad") =>
      Money.cost(Pricing.flyGuestRate(Pricing.flyGuestBySize[size], region), thirtyDays)
    assert.strictEqual(month("dev"), 2_020_000)
    assert.strictEqual(month("standard"), 4_040_000)
    assert.strictEqual(month("performance"), 32_190_000)
    assert.strictEqual(month("high-perf"), 64_380_000)
    assert.strictEqual(month("dev", "lax"), 2_424_000)
    // shared-cpu-1x with 1 GB: 2.02 + 0.75 GB × $5
    assert.strictEqual(
      Money.cost(Pricing.flyGuestRate({ cpuKind: "shared", cpus: 1, memoryMb: 1024 }, "iad"), thirtyDays),
      5_770_000
    )
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
})
