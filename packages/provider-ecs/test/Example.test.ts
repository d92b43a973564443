import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { EcsSimulator } from "@hangar/ecs-simulator"
import { Effect } from "effect"
import { main } from "../examples/RunTask.js"

describe("README example", () => {
  it("runs a task on the simulator and prints its output, its cost and the cluster's", async () => {
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const sim = await EcsSimulator.make({ clock, seed: 1 })
    const endpoint = await sim.listen({ port: 0 })
    try {
      const lines = await main({
        endpoint,
        requestHandler: sim.requestHandler as never,
        clock,
        run: (effect) => Effect.runPromise(VirtualClock.drive(clock, effect)),
        print: () => undefined,
        work: "10 minutes"
      })
      console.log(lines.join("\n"))
      assert.strictEqual(lines.length, 4)
      assert.match(
        lines[0]!,
        /^session ecs-readme-\w+: running \(arn:aws:ecs:.*:task\/hangar-example\/\w+\)$/
      )
      assert.strictEqual(lines[1], "exit 0: hello from ECS")
      const session = /^session: (\d+) s running, \$([\d.]+)$/.exec(lines[2]!)
      const cluster = /^cluster: 1 instance\(s\), \$([\d.]+) so far \(\$([\d.]+) of it idle/.exec(lines[3]!)
      assert.isNotNull(session, lines[2])
      assert.isNotNull(cluster, lines[3])
      const micro = (text: string) => Math.round(Number(text) * 1e6)
      assert.isAtLeast(Number(session![1]), 600, "ten minutes of work and the exec")
      assert.strictEqual(micro(cluster![1]!), sim.billing().totalMicroUsd)
      // alone on the cluster, the session pays for the instance while it ran; the rest is idle without it
      assert.isAtMost(Math.abs(micro(session![2]!) + micro(cluster![2]!) - micro(cluster![1]!)), 2)
    } finally {
      await sim.close()
    }
  })
})
