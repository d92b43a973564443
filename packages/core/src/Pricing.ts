/**
 * The billing formulas both sides of every comparison share: what a Fly machine of a given guest costs per
 * second in each state, and what an EC2 instance and its EBS root volume cost. Simulators bill with these and
 * providers, policies and the bench estimate with them, so their numbers agree by construction.
 */
import { Schema } from "effect"
import * as Money from "./Money.js"
import * as PricingCatalog from "./PricingCatalog.js"
import type { SizePreset } from "./SizePreset.js"

export interface FlyGuest {
  readonly cpuKind: "shared" | "performance"
  readonly cpus: number
  readonly memoryMb: number
}

/** RAM included with one CPU of each kind, in MB. */
export const includedMemoryMbPerCpu = { shared: 256, performance: 2048 } as const

/**
 * The size presets on Fly. Each gives a session the same nominal vCPUs and memory as the preset's ECS task
 * (`ecsTaskBySize`), so both sides do equal work: dev and standard are one shared vCPU (Fly's smallest CPU; ECS
 * reserves a whole vCPU, 1024 units, for it) with 512 MB and 1 GB; performance and high-perf are Fly's
 * performance CPUs with 2 and 4 GB.
 */
export const flyGuestBySize: Readonly<Record<SizePreset, FlyGuest>> = {
  dev: { cpuKind: "shared", cpus: 1, memoryMb: 512 },
  standard: { cpuKind: "shared", cpus: 1, memoryMb: 1024 },
  performance: { cpuKind: "performance", cpus: 1, memoryMb: 2048 },
  "high-perf": { cpuKind: "performance", cpus: 2, memoryMb: 4096 }
}

/**
 * A machine that holds `sessions` concurrent sessions of `size`, sized for them: that many of the preset's CPUs
 * and memory (Fly allows up to 8 shared or 16 performance CPUs), so each session gets what it would alone.
 */
export const flyGuestForSessions = (size: SizePreset, sessions: number): FlyGuest => {
  const one = flyGuestBySize[size]
  const most = Math.floor((one.cpuKind === "shared" ? 8 : 16) / one.cpus)
  const k = Math.max(1, Math.min(Math.floor(sessions), most))
  return { cpuKind: one.cpuKind, cpus: one.cpus * k, memoryMb: one.memoryMb * k }
}

/** Fly's regional multiplier, 1 where the catalog has none. */
export const flyRegionMarkup = (region: string, catalog = PricingCatalog.fly): string =>
  PricingCatalog.ratio(catalog, `region-markup:${region}`)

/** A started machine: CPUs of its kind plus RAM beyond what they include, times the region's markup. */
export const flyGuestRate = (guest: FlyGuest, region: string, catalog = PricingCatalog.fly): Money.Rate =>
  PricingCatalog.cachedRate(
    catalog,
    `guest:${guest.cpuKind}/${guest.cpus}/${guest.memoryMb}/${region}`,
    () => {
      const cpu = Money.scale(PricingCatalog.rate(catalog, `cpu:${guest.cpuKind}`), guest.cpus)
      const extraMb = Math.max(0, guest.memoryMb - includedMemoryMbPerCpu[guest.cpuKind] * guest.cpus)
      const memory = Money.scale(
        Money.scale(PricingCatalog.rate(catalog, "memory:additional"), extraMb),
        "0.0009765625" // 1/1024: MB → GB, exact
      )
      return Money.scale(Money.addRates(cpu, memory), flyRegionMarkup(region, catalog))
    }
  )

/** A stopped or suspended machine pays for its root filesystem only. */
export const flyRootfsRate = (rootfsGb: number, catalog = PricingCatalog.fly): Money.Rate =>
  Money.scale(PricingCatalog.rate(catalog, "rootfs:stopped"), rootfsGb)

/**
 * The agent image's root filesystem, GB, which a stopped or suspended machine pays for when its config sets no
 * size: a Debian base with Node 20, Python 3, git, build tools and the agent CLIs is about 2.5–3 GB unpacked
 * (node:20-bookworm alone is about 1.1 GB), so 3 GB, not the 1 GB of a minimal image.
 */
export const defaultFlyRootfsGb = 3

export const flyVolumeRate = (sizeGb: number, catalog = PricingCatalog.fly): Money.Rate =>
  Money.scale(PricingCatalog.rate(catalog, "volume"), sizeGb)

/**
 * The states of a Fly Machine (the Machines API state diagram), one schema for the simulator and the plugin. The
 * simulator models the first ten; the API also reports the transient states after them.
 */
export const FlyMachineState = Schema.Literal(
  "created",
  "starting",
  "started",
  "stopping",
  "stopped",
  "suspending",
  "suspended",
  "destroying",
  "destroyed",
  "failed",
  "creating",
  "restarting",
  "updating",
  "replacing",
  "launch_failed"
)
export type FlyMachineState = typeof FlyMachineState.Type

/** Fly machine states billed at the guest rate; created, stopped and suspended pay rootfs; destroyed nothing. */
export const flyStateBilling = (state: string): "guest" | "rootfs" | "none" =>
  state === "created" || state === "stopped" || state === "suspended"
    ? "rootfs"
    : state === "destroying" || state === "destroyed"
      ? "none"
      : "guest"

export interface Ec2InstanceType {
  readonly name: string
  readonly vcpus: number
  readonly memoryMib: number
  readonly gpus: number
}

/** Instance types of the EC2 catalog with their shape (from the AWS instance type pages). */
export const ec2InstanceTypes: Readonly<Record<string, Ec2InstanceType>> = {
  "t3.medium": { name: "t3.medium", vcpus: 2, memoryMib: 4096, gpus: 0 },
  "t3.large": { name: "t3.large", vcpus: 2, memoryMib: 8192, gpus: 0 },
  "t3.xlarge": { name: "t3.xlarge", vcpus: 4, memoryMib: 16384, gpus: 0 },
  "m6i.large": { name: "m6i.large", vcpus: 2, memoryMib: 8192, gpus: 0 },
  "m7i.large": { name: "m7i.large", vcpus: 2, memoryMib: 8192, gpus: 0 },
  "c6i.large": { name: "c6i.large", vcpus: 2, memoryMib: 4096, gpus: 0 },
  "t4g.medium": { name: "t4g.medium", vcpus: 2, memoryMib: 4096, gpus: 0 },
  "t4g.large": { name: "t4g.large", vcpus: 2, memoryMib: 8192, gpus: 0 },
  "m6g.large": { name: "m6g.large", vcpus: 2, memoryMib: 8192, gpus: 0 },
  "c6g.large": { name: "c6g.large", vcpus: 2, memoryMib: 4096, gpus: 0 },
  "m7g.large": { name: "m7g.large", vcpus: 2, memoryMib: 8192, gpus: 0 },
  "c7g.large": { name: "c7g.large", vcpus: 2, memoryMib: 4096, gpus: 0 },
  "g4dn.xlarge": { name: "g4dn.xlarge", vcpus: 4, memoryMib: 16384, gpus: 1 }
}

/** ECS task sizes for the presets (CPU units of 1/1024 vCPU, MiB): the Fly guests' vCPUs and memory. */
export const ecsTaskBySize: Readonly<
  Record<SizePreset, { readonly cpu: number; readonly memoryMib: number }>
> = {
  dev: { cpu: 1024, memoryMib: 512 },
  standard: { cpu: 1024, memoryMib: 1024 },
  performance: { cpu: 1024, memoryMib: 2048 },
  "high-perf": { cpu: 2048, memoryMib: 4096 }
}

export const ec2InstanceRate = (instanceType: string, catalog = PricingCatalog.ec2): Money.Rate =>
  PricingCatalog.rate(catalog, `instance:${instanceType}`)

export const ebsRate = (sizeGib: number, catalog = PricingCatalog.ec2): Money.Rate =>
  Money.scale(PricingCatalog.rate(catalog, "ebs:gp3"), sizeGib)

/** EC2 Linux bills per second with a 60-second minimum per launch (so does EBS). */
export const ec2MinimumSeconds = 60

/** Default EBS root volume of the ECS-optimized AMI, GiB. */
export const defaultEbsRootGib = 30

/** What one EC2 instance costs over its lifetime (compute and root volume), billed per second with the minimum. */
export const ec2InstanceCost = (
  instanceType: string,
  lifetimeMillis: number,
  rootGib = defaultEbsRootGib,
  catalog = PricingCatalog.ec2
): { readonly compute: Money.MicroUsd; readonly ebs: Money.MicroUsd } => ({
  compute: Money.billPerSecond(ec2InstanceRate(instanceType, catalog), lifetimeMillis, ec2MinimumSeconds),
  ebs: Money.billPerSecond(ebsRate(rootGib, catalog), lifetimeMillis, ec2MinimumSeconds)
})

/** The region whose prices `PricingCatalog.ec2` holds. */
export const defaultEc2Region = PricingCatalog.ec2.region ?? "us-east-1"

/** A public IPv4 address on an instance for `millis` (per second, as the instance). */
export const ipv4Rate = (catalog = PricingCatalog.ec2): Money.Rate =>
  PricingCatalog.rate(catalog, "ipv4:public")

/** EFS Standard storage of `sizeGb` stored. */
export const efsRate = (sizeGb: number, catalog = PricingCatalog.ec2): Money.Rate =>
  Money.scale(PricingCatalog.rate(catalog, "efs:standard"), sizeGb)

/** The AWS region ECS runs in for a Fly-named region (ECS is regional; these are the regions a scenario uses). */
export const awsRegionOf: Readonly<Record<string, string>> = {
  iad: "us-east-1",
  lhr: "eu-west-2",
  nrt: "ap-northeast-1",
  syd: "ap-southeast-2"
}

/** Fly's egress region group of a region (its price key). */
export const flyEgressKey = (region: string): string =>
  ["nrt", "syd", "sin", "hkg", "bom", "gru", "scl", "gig", "eze"].includes(region)
    ? "egress:apac"
    : "egress:na-eu"

/** Why `keys` cannot all be priced from `catalog` for `region`, naming the region and the first missing key. */
export class MissingPrice extends Error {
  override readonly name = "MissingPrice"
  constructor(
    readonly region: string,
    readonly key: string,
    readonly catalogName: string
  ) {
    super(`no price "${key}" for ${region} in ${catalogName}: the scenario cannot be priced there`)
  }
}

/**
 * The shipped EC2 prices of `region` (a Fly region name is mapped to its AWS region), refusing, with the region
 * and key named, a region the repository has no catalog for or one that lacks any of `keys`. Unlike
 * `ec2Pricing`, it never falls back to another region's prices.
 */
export const ec2PricingStrict = (region: string, keys: ReadonlyArray<string> = []): Ec2Pricing => {
  const aws = awsRegionOf[region] ?? region
  const catalog = PricingCatalog.ec2ByRegion.get(aws)
  if (catalog === undefined)
    throw new MissingPrice(aws, "ebs:gp3", "the shipped EC2 catalogs (none for this region)")
  for (const key of keys)
    if (PricingCatalog.find(catalog, key) === undefined)
      throw new MissingPrice(aws, key, `data/ec2-pricing${aws === defaultEc2Region ? "" : `-${aws}`}.json`)
  return { catalog, region: aws, catalogRegion: aws }
}

/** Which EC2 prices bill a region, and whether they are its own. */
export interface Ec2Pricing {
  readonly catalog: PricingCatalog.PricingCatalog
  /** The region being billed. */
  readonly region: string
  /** The region whose prices the catalog holds. */
  readonly catalogRegion: string
  /** Set when the prices are not the billed region's own (no catalog was given for it). */
  readonly note?: string
}

/** The instance types the catalog prices (keys `instance:<type>`). */
export const ec2PricedTypes = (catalog: PricingCatalog.PricingCatalog): Array<string> =>
  catalog.prices.flatMap((p) => (p.key.startsWith("instance:") ? [p.key.slice("instance:".length)] : []))

/**
 * The EC2 prices for `region`: `catalog` if given, which must be an EC2 catalog naming that region and pricing
 * the gp3 root volume (else `InvalidCatalog`, naming the field and, for a region mismatch, both regions); with
 * none, the shipped us-east-1 catalog, with a note when `region` is another one. `whose` names the region in
 * messages ("the simulator's region", "awsRegion").
 */
export const ec2Pricing = (
  region: string,
  catalog?: PricingCatalog.PricingCatalog,
  whose = "the region billed"
): Ec2Pricing => {
  if (catalog === undefined) {
    const shipped = PricingCatalog.ec2ByRegion.get(region)
    return shipped !== undefined
      ? { catalog: shipped, region, catalogRegion: region }
      : {
          catalog: PricingCatalog.ec2,
          region,
          catalogRegion: defaultEc2Region,
          note:
            `no pricing catalog for ${region} was given or shipped: billed at ${defaultEc2Region} on-demand prices; ` +
            "give a catalog of this region's prices to bill at them"
        }
  }
  const issues: Array<PricingCatalog.Issue> = []
  if (catalog.provider !== "ec2")
    issues.push({ path: "provider", message: `expected "ec2" for EC2 prices, got "${catalog.provider}"` })
  if (catalog.region === undefined)
    issues.push({ path: "region", message: `is missing: name the region whose prices these are (${region})` })
  else if (catalog.region !== region)
    issues.push({
      path: "region",
      message: `the catalog's prices are for ${catalog.region}, but ${whose} is ${region}`
    })
  if (PricingCatalog.find(catalog, "ebs:gp3") === undefined)
    issues.push({ path: "prices", message: 'no "ebs:gp3" price (the EBS root volume every instance pays)' })
  if (issues.length > 0) throw new PricingCatalog.InvalidCatalog("pricing catalog", issues)
  return { catalog, region, catalogRegion: region }
}

/** Why `instanceType` cannot be billed with `pricing` (no shape known, or no price in its catalog), if so. */
export const ec2Unpriced = (instanceType: string, pricing: Ec2Pricing): string | undefined => {
  if (ec2InstanceTypes[instanceType] === undefined)
    return `expected one of ${Object.keys(ec2InstanceTypes).join(", ")}, got "${instanceType}"`
  if (PricingCatalog.find(pricing.catalog, `instance:${instanceType}`) === undefined)
    return (
      `no price "instance:${instanceType}" in the ${pricing.catalogRegion} pricing catalog ` +
      `(it prices ${ec2PricedTypes(pricing.catalog).join(", ") || "no instance type"})`
    )
  return undefined
}

/** A price as a bill reports it: what, how much, and where and when it was read. */
export interface PriceSource {
  readonly key: string
  readonly usd: string
  readonly per: string
  readonly source: string
  readonly asOf: string
  readonly note?: string
}

/** The catalog prices a bill of `instanceTypes` uses (each instance type's, and the gp3 root volume's). */
export const ec2PriceSources = (
  catalog: PricingCatalog.PricingCatalog,
  instanceTypes: Iterable<string>,
  /** Other prices the bill used (public IPv4, EFS storage). */
  extraKeys: ReadonlyArray<string> = []
): Array<PriceSource> =>
  [...[...new Set(instanceTypes)].sort().map((t) => `instance:${t}`), "ebs:gp3", ...extraKeys].flatMap(
    (key) => {
      const p = PricingCatalog.find(catalog, key)
      return p === undefined
        ? []
        : [
            {
              key,
              usd: p.usd,
              per: p.per,
              source: p.source,
              asOf: p.asOf,
              ...(p.note === undefined ? {} : { note: p.note })
            }
          ]
    }
  )

/** Whose prices a bill of EC2 instances uses, and where each was read (simulator and provider report the same). */
export interface Ec2PricingReport {
  /** The region billed. */
  readonly region: string
  /** The region whose prices the bill uses: `region` with its own catalog, else us-east-1. */
  readonly catalogRegion: string
  /** Set when the prices are not the region's own. */
  readonly note?: string
  /** The prices the bill uses (each instance type billed, and the gp3 root volume), with source and date. */
  readonly prices: ReadonlyArray<PriceSource>
}

export const ec2PricingReport = (
  pricing: Ec2Pricing,
  instanceTypes: Iterable<string>,
  extraKeys: ReadonlyArray<string> = []
): Ec2PricingReport => ({
  region: pricing.region,
  catalogRegion: pricing.catalogRegion,
  ...(pricing.note === undefined ? {} : { note: pricing.note }),
  prices: ec2PriceSources(pricing.catalog, instanceTypes, extraKeys)
})

/** One constant-state interval of a Fly machine and what it costs. */
export interface FlyInterval {
  readonly state: string
  readonly fromMillis: number
  readonly toMillis: number
  readonly billedSeconds: number
  readonly costMicroUsd: Money.MicroUsd
}

/**
 * A Fly machine's bill from its state changes (oldest first, each `{ status, timestamp }` as the events API
 * reports them), up to `nowMillis`: guest-billed states at the guest rate, created/stopped/suspended at the
 * rootfs rate, each interval billed per second. The simulator bills with this and the provider estimates with
 * it, from the same events.
 */
export const flyIntervals = (
  guest: FlyGuest,
  region: string,
  rootfsGb: number,
  changes: ReadonlyArray<{ readonly status: string; readonly timestamp: number }>,
  nowMillis: number
): Array<FlyInterval> => {
  const guestRate = flyGuestRate(guest, region)
  const rootfsRate = flyRootfsRate(rootfsGb)
  const intervals: Array<FlyInterval> = []
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!
    const to = Math.min(changes[i + 1]?.timestamp ?? nowMillis, nowMillis)
    const billing = flyStateBilling(change.status)
    const millis = to - change.timestamp
    if (billing === "none" || millis <= 0) continue
    intervals.push({
      state: change.status,
      fromMillis: change.timestamp,
      toMillis: to,
      billedSeconds: Math.ceil(millis / 1000),
      costMicroUsd: Money.billPerSecond(billing === "guest" ? guestRate : rootfsRate, millis)
    })
  }
  return intervals
}
