import { Capabilities, type RoutingPolicy, type TaskSpec } from "@hangar/core"
import { Conformance, FakeProvider } from "@hangar/core/testing"
import { EcsCostModel } from "@hangar/provider-ecs"
import { FlyCostModel } from "@hangar/provider-fly"
import { Effect, FastCheck as fc } from "effect"
import * as Oracle from "../src/Oracle.js"

export const flyCapabilities = new Capabilities.Capabilities({
  regions: ["iad", "lhr", "nrt", "syd"] as never,
  sizes: ["dev", "standard", "performance", "high-perf"],
  unsupported: { gpu: "Fly deprecated GPUs" },
  startLatencySeconds: { cold: 2, warm: 0.5 }
})

export const ecsCapabilities = new Capabilities.Capabilities({
  regions: ["iad", "lhr", "nrt", "syd"] as never,
  sizes: ["dev", "standard", "performance", "high-perf"],
  unsupported: {
    sleep: "ECS tasks do not sleep",
    suspend: "ECS tasks do not sleep",
    edge: "ECS runs in AWS regions only"
  },
  startLatencySeconds: { cold: 150, warm: 10 }
})

export const candidates = (
  available: { fly?: boolean; ecs?: boolean } = {}
): ReadonlyArray<RoutingPolicy.Candidate> => [
  {
    provider: "fly" as TaskSpec.ProviderId,
    capabilities: flyCapabilities,
    costModel: FlyCostModel.make(),
    available: available.fly ?? true
  },
  {
    provider: "ecs" as TaskSpec.ProviderId,
    capabilities: ecsCapabilities,
    costModel: EcsCostModel.make(),
    available: available.ecs ?? true
  }
]

let counter = 0
export const taskInput = fc
  .record({
    repository: fc.constantFrom("acme/webapp", "acme/backend", "acme/ml", "solo"),
    region: fc.constantFrom("iad", "lhr", "nrt", "syd", "edge"),
    size: fc.constantFrom("dev", "standard", "performance", "high-perf"),
    requiresGpu: fc.boolean(),
    expectedDurationSeconds: fc.option(fc.integer({ min: 1, max: 7200 }), { nil: undefined }),
    preferredProvider: fc.option(fc.constantFrom("fly", "ecs"), { nil: undefined })
  })
  .map((t) => ({
    taskId: `t-${++counter}`,
    ...t,
    ...(t.expectedDurationSeconds === undefined ? { expectedDurationSeconds: undefined } : {})
  }))

/** A fly-like and an ecs-like fake provider, built through core's real `make`. */
export const fakes = (options: { flyFull?: () => boolean; ecsFull?: () => boolean } = {}) =>
  Effect.all({
    fly: FakeProvider.make({
      id: "fly",
      regions: ["iad", "lhr", "nrt", "syd"],
      unsupported: { gpu: "Fly deprecated GPUs" },
      startSeconds: 2,
      ...(options.flyFull ? { capacityExhausted: options.flyFull } : {}),
      retry: { maxRetries: 1, baseDelay: "10 millis" }
    }),
    ecs: FakeProvider.make({
      id: "ecs",
      regions: ["iad", "lhr", "nrt", "syd"],
      unsupported: { suspend: "ECS tasks do not sleep", edge: "ECS runs in AWS regions only" },
      startSeconds: 30,
      ...(options.ecsFull ? { capacityExhausted: options.ecsFull } : {}),
      retry: { maxRetries: 1, baseDelay: "10 millis" }
    })
  })

export const drive = Conformance.testClockTime.drive

/** Generated task records as oracle trace tasks in region iad, with ids t0, t1, …; times in whole seconds. */
export const traceOf = (
  tasks: ReadonlyArray<{
    readonly repository: string
    readonly arrival: number
    readonly duration: number
    readonly size: "dev" | "standard" | "performance" | "high-perf"
    readonly requiresGpu: boolean
  }>
) =>
  tasks.map((t, i) => ({
    taskId: `t${i}`,
    repository: t.repository,
    region: "iad",
    arrivalMillis: t.arrival * 1000,
    durationMillis: t.duration * 1000,
    size: t.size,
    requiresGpu: t.requiresGpu
  }))

/** Fly and ECS as the oracle sees them: from each plugin's declared cost model and capabilities. */
export const Platforms = {
  fly: () =>
    Oracle.platformOf({
      id: "fly" as TaskSpec.ProviderId,
      capabilities: flyCapabilities,
      costModel: FlyCostModel.make()
    }),
  ecs: () =>
    Oracle.platformOf({
      id: "ecs" as TaskSpec.ProviderId,
      capabilities: ecsCapabilities,
      costModel: EcsCostModel.make()
    })
}
