/**
 * EC2 billing from instance lifetimes (launch → termination, or now): per second with the 60-second minimum
 * per launch, plus the EBS gp3 root volume and (when the model gives instances one) the public IPv4 address over
 * the same lifetime, and the repositories' workspaces (EFS storage of each access point from creation to
 * deletion), with core's `Pricing` and the model's catalog (its region's own when one was given, else
 * us-east-1's, which `pricing` then says). Never by ticking.
 */
import { Money, Pricing } from "@hangar/core"
import type { EcsModel } from "./EcsModel.js"
import { repositoryOf } from "./Workspaces.js"

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
  /** The instance's public IPv4 address (0 when the model gives instances none). */
  readonly ipv4MicroUsd: number
}

/** One repository workspace's storage (an EFS access point) over its life. */
export interface WorkspaceLine {
  readonly accessPointId: string
  readonly repository: string
  readonly storedGb: number
  readonly createdAt: number
  readonly deletedAt?: number
  readonly costMicroUsd: number
}

/** What the bill is made of, in micro-dollars: every component a team pays for on ECS on EC2. */
export type Components = {
  readonly compute: number
  readonly rootDisk: number
  readonly publicIpv4: number
  readonly workspaceStorage: number
}

/** Whose prices the bill uses, and where each was read. */
export type PricingReport = Pricing.Ec2PricingReport

export interface Bill {
  readonly asOfMillis: number
  readonly pricing: PricingReport
  readonly lines: ReadonlyArray<Line>
  readonly workspaces: ReadonlyArray<WorkspaceLine>
  readonly components: Components
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
      ebsMicroUsd: cost.ebs,
      ipv4MicroUsd: model.publicIpv4
        ? Money.billPerSecond(Pricing.ipv4Rate(model.pricing.catalog), lifetime, Pricing.ec2MinimumSeconds)
        : 0
    })
  }
  const workspaces = workspaceLines(model, now)
  const byInstanceType: Record<string, number> = {}
  const byState: Record<string, number> = {}
  const byCluster: Record<string, number> = {}
  let total = 0
  let seconds = 0
  const components = { compute: 0, rootDisk: 0, publicIpv4: 0, workspaceStorage: 0 }
  for (const line of lines) {
    const cost = line.computeMicroUsd + line.ebsMicroUsd + line.ipv4MicroUsd
    components.compute += line.computeMicroUsd
    components.rootDisk += line.ebsMicroUsd
    components.publicIpv4 += line.ipv4MicroUsd
    total += cost
    seconds += line.billedSeconds
    byInstanceType[line.instanceType] = (byInstanceType[line.instanceType] ?? 0) + cost
    byState[line.state] = (byState[line.state] ?? 0) + cost
    byCluster[line.cluster] = (byCluster[line.cluster] ?? 0) + cost
  }
  for (const w of workspaces) {
    components.workspaceStorage += w.costMicroUsd
    total += w.costMicroUsd
  }
  return {
    asOfMillis: now,
    pricing: Pricing.ec2PricingReport(
      model.pricing,
      lines.map((l) => l.instanceType),
      [...(model.publicIpv4 ? ["ipv4:public"] : []), ...(workspaces.length > 0 ? ["efs:standard"] : [])]
    ),
    lines,
    workspaces,
    components,
    totalMicroUsd: total,
    byInstanceType,
    byState,
    byCluster,
    instanceHours: seconds / 3600
  }
}

/** Each workspace access point's EFS storage, per second from creation to deletion (or now). */
const workspaceLines = (model: EcsModel, now: number): Array<WorkspaceLine> =>
  [...model.workspaces.accessPoints.values()].map((ap) => {
    const end = ap.deletedAt ?? now
    return {
      accessPointId: ap.id,
      repository: repositoryOf(ap) ?? "",
      storedGb: ap.storedGb,
      createdAt: ap.createdAt,
      ...(ap.deletedAt === undefined ? {} : { deletedAt: ap.deletedAt }),
      costMicroUsd: Money.billPerSecond(
        Pricing.efsRate(ap.storedGb, model.pricing.catalog),
        end - ap.createdAt
      )
    }
  })
