/** fly-sim in process on a virtual clock, and a FlyProvider (with its Fly operations) against it, for tests. */
import { type ComputeProvider, VirtualClock } from "@hangar/core"
import { FlySimulator } from "@hangar/fly-simulator"
import { Effect, Redacted } from "effect"
import * as FlyProvider from "../src/FlyProvider.js"

export interface Simulated {
  readonly clock: VirtualClock.VirtualClock
  readonly sim: FlySimulator.Simulator
  readonly fly: ComputeProvider.ComputeProvider
  readonly machines: FlyProvider.Machines
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
}

export const onSimulator = async (
  seed: number,
  token: string,
  options: Partial<Omit<FlyProvider.Options, "flyToml">> = {},
  /** The transport the provider uses, given the simulator (default: its in-process fetch). */
  fetchOf: (sim: FlySimulator.Simulator) => typeof fetch = (sim) => sim.fetch
): Promise<Simulated> => {
  const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const sim = await FlySimulator.make({ clock, seed, tokens: [{ token }] })
  const [fly, machines] = await Effect.runPromise(
    Effect.provide(
      Effect.all([FlyProvider.FlyProvider, FlyProvider.FlyMachines]),
      FlyProvider.layer({
        token: Redacted.make(token),
        baseUrl: "http://fly-sim.internal",
        fetch: fetchOf(sim),
        regions: ["iad", "lhr", "syd"],
        autostop: "off",
        ...options
      })
    )
  )
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(VirtualClock.drive(clock, effect))
  return { clock, sim, fly, machines, run }
}
