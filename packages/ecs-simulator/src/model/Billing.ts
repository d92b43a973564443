/**
 * EC2 billing from instance lifetimes (launch → termination, or now): per second with the 60-second minimum
 * per launch, plus the EBS gp3 root volume over the same lifetime, with core's `Pricing` and the model's
 * catalog (its region's own when one was given, else us-east-1's, which `pricing` then says). Never by ticking.
 */
import { Pricing } from "@hangar/core"
import type { EcsModel } from "./EcsModel.js"

export interface Line {
  readonly instanceId: string
  readonly instanceType: string
  readonly cluster: string
  readonly state: "running" | "terminated"
  readonly availabilityZone: string
  readonly launchedAt: number
  readonly terminatedAt?: number
  readonly billedSeconds: number
  readonly computeMicroUsd: number
  readonly ebsMicroUsd: number
}

/** Whose prices the bill uses, and where each was read. */
export type PricingReport = Pricing.Ec2PricingReport

export interface Bill {
  readonly asOfMillis: number
  readonly pricing: PricingReport
  readonly lines: ReadonlyArray<Line>
  readonly totalMicroUsd: number
  readonly byInstanceType: Readonly<Record<string, number>>
  readonly byState: Readonly<Record<string, number>>
  readonly byCluster: Readonly<Record<string, number>>
  readonly instanceHours: number
}

export const compute = (model: EcsModel): Bill => {
  const now = model.clock.now()
  const lines: Array<Line> = []
  for (const instance of model.instances.values()) {
    const end = instance.terminatedAt ?? now
    const lifetime = end - instance.launchedAt
    const cost = Pricing.ec2InstanceCost(
      instance.instanceType,
      lifetime,
      model.rootVolumeGib,
      model.pricing.catalog
    )
    lines.push({
      instanceId: instance.id,
      instanceType: instance.instanceType,
      cluster: instance.cluster,
      state: instance.state === "terminated" ? "terminated" : "running",
      availabilityZone: instance.availabilityZone,
      launchedAt: instance.launchedAt,
      ...(instance.terminatedAt === undefined ? {} : { terminatedAt: instance.terminatedAt }),
      billedSeconds: Math.max(Pricing.ec2MinimumSeconds, Math.ceil(lifetime / 1000)),
      computeMicroUsd: cost.compute,
      ebsMicroUsd: cost.ebs
    })
  }
  const byInstanceType: Record<string, number> = {}
  const byState: Record<string, number> = {}
  const byCluster: Record<string, number> = {}
  let total = 0
  let seconds = 0
  for (const line of lines) {
    const cost = line.computeMicroUsd + line.ebsMicroUsd
    total += cost
    seconds += line.billedSeconds
    byInstanceType[line.instanceType] = (byInstanceType[line.instanceType] ?? 0) + cost
    byState[line.state] = (byState[line.state] ?? 0) + cost
    byCluster[line.cluster] = (byCluster[line.cluster] ?? 0) + cost
  }
  return {
    asOfMillis: now,
    pricing: Pricing.ec2PricingReport(
      model.pricing,
      lines.map((l) => l.instanceType)
    ),
    lines,
    totalMicroUsd: total,
    byInstanceType,
    byState,
    byCluster,
    instanceHours: seconds / 3600
  }
}
