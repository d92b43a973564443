/**
 * How the bench describes the two providers to routing policies when it routes a trace analytically (the
 * `policies` command). These mirror what FlyProvider and EcsProvider declare.
 */
import { Capabilities, type RoutingPolicy, type TaskSpec } from "@hangar/core"

const regions = ["iad", "lhr", "nrt", "syd", "lax", "sjc", "ams", "fra", "sin"] as unknown as readonly [
  Capabilities.Capabilities["regions"][number],
  ...Array<Capabilities.Capabilities["regions"][number]>
]

export const fly: RoutingPolicy.Candidate = {
  provider: "fly" as TaskSpec.ProviderId,
  available: true,
  capabilities: new Capabilities.Capabilities({
    regions,
    sizes: ["dev", "standard", "performance", "high-perf"],
    unsupported: { gpu: "Fly deprecated GPUs (2026-02-11)" },
    startLatencySeconds: { cold: 2, warm: 0.5 }
  })
}

export const ecs: RoutingPolicy.Candidate = {
  provider: "ecs" as TaskSpec.ProviderId,
  available: true,
  capabilities: new Capabilities.Capabilities({
    regions,
    sizes: ["dev", "standard", "performance", "high-perf"],
    unsupported: {
      sleep: "ECS tasks do not sleep: stopping releases the compute, the workspace volume stays",
      suspend: "ECS tasks do not sleep: stopping releases the compute, the workspace volume stays",
      edge: "ECS runs in AWS regions, not at the edge"
    },
    startLatencySeconds: { cold: 150, warm: 10 }
  })
}

export const both: ReadonlyArray<RoutingPolicy.Candidate> = [fly, ecs]
