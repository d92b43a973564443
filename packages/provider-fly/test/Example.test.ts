import { assert, describe, it } from "@effect/vitest"
import { Money, VirtualClock } from "@hangar/core"
import { FlySimulator } from "@hangar/fly-simulator"
import { Effect, Redacted } from "effect"
import { main } from "../examples/RunTask.js"
import * as FlyProvider from "../src/FlyProvider.js"

describe("README example", () => {
  it("creates a session on fly-sim, runs a command, lets the machine sleep and prints its cost", async () => {
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const sim = await FlySimulator.make({ clock, seed: 1, tokens: [{ token: "demo" }] })
    const lines = await main({
      layer: FlyProvider.layer({
        token: Redacted.make("demo"),
        baseUrl: "http://fly-sim.internal",
        fetch: sim.fetch
      }),
      run: (effect) => Effect.runPromise(VirtualClock.drive(clock, effect)),
      print: () => undefined
    })
    console.log(lines.join("\n"))
    assert.strictEqual(lines.length, 5)
    const session = /^session (hangar-acme-webapp\/[0-9a-f]{14}) is running in iad$/.exec(lines[0]!)
    assert.isNotNull(session, lines[0])
    assert.match(lines[1]!, /^exit 0: hello from a Fly machine \(\d+ ms\)$/)
    assert.strictEqual(lines[2], "after the task the machine is suspended")
    assert.strictEqual(lines[3], "tunnel endpoint ws://fly-sim.internal/_proxy/hangar-acme-webapp/ws")
    const usage = /^running ([\d.]+) s, asleep ([\d.]+) s, cost so far \$([\d.]+)$/.exec(lines[4]!)
    assert.isNotNull(usage, lines[4])
    assert.isAbove(Number(usage![1]), 0, "the machine ran to boot and run the command")
    // The printed cost is the session's usage, the simulator's bill for its machine so far.
    const machineId = session![1]!.split("/")[1]!
    const billed = sim.billing().byMachine[machineId]
    assert.isAbove(billed ?? 0, 0)
    assert.strictEqual(`$${usage![3]}`, Money.format(Money.microUsd(billed ?? 0), 6))
  })
})
