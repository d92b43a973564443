import { ProviderRegistry, VirtualClock } from "@hangar/core"
import { EcsSimulator } from "@hangar/ecs-simulator"
import { FlySimulator } from "@hangar/fly-simulator"
import { EcsProvider } from "@hangar/provider-ecs"
import { FlyProvider } from "@hangar/provider-fly"
import { Layer, Redacted } from "effect"

/** Both simulators on one virtual clock, and a registry of both real providers pointed at them. */
export const bothSimulators = async (seed = 1) => {
  const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const fly = await FlySimulator.make({
    clock,
    seed,
    tokens: [{ token: "t" }],
    regions: ["iad", "lhr", "syd"]
  })
  const ecs = await EcsSimulator.make({ clock, seed })
  await ecs.listen({ port: 0 })
  ecs.provisionCluster("hangar", [
    { name: "cp", group: { name: "asg", instanceType: "t3.large", min: 1, max: 3, desired: 1 } },
    { name: "gpu", group: { name: "gpu", instanceType: "g4dn.xlarge", min: 0, max: 1, desired: 0 } }
  ])
  const providers = ProviderRegistry.layer(FlyProvider.FlyProvider, EcsProvider.EcsProvider).pipe(
    Layer.provide(
      Layer.merge(
        FlyProvider.layer({
          token: Redacted.make("t"),
          baseUrl: "http://fly-sim.internal",
          fetch: fly.fetch,
          clock,
          regions: ["iad", "lhr", "syd"],
          autostop: "off",
          retry: { maxRetries: 2, baseDelay: "100 millis" }
        }),
        EcsProvider.layer({
          cluster: "hangar",
          capacityProviderStrategy: [{ capacityProvider: "cp" }],
          gpuCapacityProvider: "gpu",
          endpoint: "http://ecs-sim.internal",
          requestHandler: ecs.requestHandler as never,
          credentials: { accessKeyId: "a", secretAccessKey: "b" },
          clock,
          regions: ["iad", "lhr", "syd"],
          retry: { maxRetries: 2, baseDelay: "100 millis" }
        })
      )
    )
  )
  /** Machines started and tasks running that no session record owns. */
  const running = () => ({
    machines: [...fly.model.machines.values()].filter((m) => m.state === "started" || m.state === "starting")
      .length,
    tasks: [...ecs.model.tasks.values()].filter((t) => t.lastStatus !== "STOPPED").length
  })
  return { clock, fly, ecs, providers, running }
}
