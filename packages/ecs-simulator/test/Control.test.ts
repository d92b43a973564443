import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DescribeTaskDefinitionCommand, ListTasksCommand, RunTaskCommand } from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import * as Cli from "../src/Cli.js"
import * as EcsSimulator from "../src/EcsSimulator.js"
import { live, setup } from "./Setup.js"

const json = (body: unknown) => ({
  headers: { "content-type": "application/json" },
  payload: JSON.stringify(body)
})

describe("/_sim control plane, data dir and CLI flags", () => {
  it("clock, billing, state, faults and reset over HTTP", async () => {
    const { sim, send } = await setup()
    const start = sim.clock.now()
    const advanced = await sim.server.inject({
      method: "POST",
      url: "/_sim/clock/advance",
      ...json({ millis: 3_600_000 })
    })
    assert.strictEqual(advanced.statusCode, 200)
    assert.strictEqual(advanced.json().nowMillis, start + 3_600_000)
    const bill = (await sim.server.inject({ method: "GET", url: "/_sim/billing" })).json()
    assert.strictEqual(bill.lines.length, 1)
    assert.strictEqual(bill.lines[0].billedSeconds, 3600)
    // t3.large $0.0832/h + 30 GiB gp3 at $0.08/GiB-month for one hour.
    assert.strictEqual(bill.lines[0].computeMicroUsd, 83_200)
    assert.strictEqual(bill.totalMicroUsd, bill.lines[0].computeMicroUsd + bill.lines[0].ebsMicroUsd)
    const added = await sim.server.inject({
      method: "POST",
      url: "/_sim/faults",
      ...json({ kind: "throttle", operation: "RunTask" })
    })
    assert.strictEqual(added.statusCode, 201)
    const listed = (await sim.server.inject({ method: "GET", url: "/_sim/faults" })).json()
    assert.strictEqual(listed.rules[0].kind, "throttle")
    const throttled = await send(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" })).catch(
      (e: Error) => e
    )
    assert.strictEqual((throttled as Error).name, "ThrottlingException")
    await sim.server.inject({ method: "DELETE", url: "/_sim/faults" })
    await send(new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" }))
    const state = (await sim.server.inject({ method: "GET", url: "/_sim/state" })).json()
    assert.strictEqual(state.tasks.length, 1)
    assert.strictEqual(state.instances[0].availabilityZone.startsWith("us-east-1"), true)
    const reset = await sim.server.inject({ method: "POST", url: "/_sim/reset", ...json({ seed: 3 }) })
    assert.strictEqual(reset.statusCode, 200)
    assert.strictEqual(sim.model.clusters.size, 0)
    assert.strictEqual(sim.model.tasks.size, 0)
    assert.strictEqual(sim.faults.list().length, 0)
    // Timers scheduled before the reset do nothing afterwards.
    await (sim.clock as VirtualClock.VirtualClock).advanceBy(60 * 60_000)
    assert.strictEqual(sim.model.instances.size, 0)
  })

  it("Auto Scaling groups over HTTP: create, list, resize; bad bodies are 400s naming the field and change nothing", async () => {
    const { sim, virtual } = await setup({ min: 1, max: 4 })
    const created = await sim.server.inject({
      method: "POST",
      url: "/_sim/autoscaling-groups",
      ...json({ name: "gpu", instanceType: "g4dn.xlarge", min: 0, max: 2, desired: 0 })
    })
    assert.strictEqual(created.statusCode, 201)
    assert.match(
      created.json().arn,
      /^arn:aws:autoscaling:us-east-1:\d{12}:autoScalingGroup:.+:autoScalingGroupName\/gpu$/
    )
    const bad = [
      [{ name: "x", instanceType: "t9.huge", min: 0, max: 1, desired: 0 }, "instanceType"],
      [{ name: "x", instanceType: "t3.large", min: 2, max: 1, desired: 1 }, "min/desired/max"],
      [{ name: "x", instanceType: "t3.large", min: 0, max: 1 }, "desired"],
      [{ name: "x", instanceType: "t3.large", min: 0, max: 1, desired: 0, extra: 1 }, "extra"]
    ] as const
    for (const [body, field] of bad) {
      const response = await sim.server.inject({
        method: "POST",
        url: "/_sim/autoscaling-groups",
        ...json(body)
      })
      assert.strictEqual(response.statusCode, 400)
      assert.include(response.json().message, field)
    }
    assert.deepStrictEqual([...sim.model.groups.keys()], ["asg", "gpu"])
    const resized = await sim.server.inject({
      method: "PATCH",
      url: "/_sim/autoscaling-groups/asg",
      ...json({ min: 2, desired: 2 })
    })
    assert.strictEqual(resized.statusCode, 200)
    await virtual!.advanceBy(5 * 60_000)
    assert.strictEqual(live(sim).length, 2)
    for (const [url, body, field] of [
      ["/_sim/clock/advance", { millis: -1 }, "millis"],
      ["/_sim/faults", { kind: "az-outage" }, "zone"],
      ["/_sim/faults", { kind: "meteor" }, "kind"],
      ["/_sim/reset", { seed: "x" }, "seed"]
    ] as const) {
      const response = await sim.server.inject({ method: "POST", url, ...json(body) })
      assert.strictEqual(response.statusCode, 400, url)
      assert.include(response.json().message, field, url)
    }
    assert.strictEqual(sim.faults.list().length, 0)
    assert.throws(() => sim.faults.add({ kind: "latency" }), /latencyMs/)
  })

  it("--data-dir keeps configuration and the billing ledger across restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ecs-sim-"))
    try {
      const first = await setup({ dataDir: dir })
      await first.virtual!.advanceBy(3_600_000)
      const billedBefore = first.sim.billing().totalMicroUsd
      await first.sim.close()
      const clock = new VirtualClock.VirtualClock(first.virtual!.now())
      const second = await EcsSimulator.make({ clock, dataDir: dir, seed: 5 })
      const client = await import("@aws-sdk/client-ecs")
      const ecs = new client.ECSClient({
        region: "us-east-1",
        endpoint: "http://ecs-sim.internal",
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
        requestHandler: second.requestHandler,
        maxAttempts: 1
      })
      const definition = await VirtualClock.runToCompletion(
        clock,
        ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "agent" }))
      )
      assert.strictEqual(definition.taskDefinition?.cpu, "1024")
      const tasks = await VirtualClock.runToCompletion(
        clock,
        ecs.send(new ListTasksCommand({ cluster: "hangar" }))
      )
      assert.deepStrictEqual(tasks.taskArns, [])
      // The ledger carries the old instance; the group relaunched its minimum.
      assert.strictEqual(second.billing().lines.length, 2)
      assert.strictEqual(second.billing().totalMicroUsd >= billedBefore, true)
      assert.strictEqual(live(second).length, 1)
      await second.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("CLI flags: defaults, every flag, and clear errors naming the flag", () => {
    const defaults = Cli.parse([])
    assert.deepStrictEqual(
      [defaults.host, defaults.port, defaults.seed, defaults.clockName],
      ["127.0.0.1", 4281, 1, "real"]
    )
    const all = Cli.parse([
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--seed",
      "7",
      "--clock",
      "virtual",
      "--exec",
      "process",
      "--access-key",
      "A",
      "--access-key",
      "B",
      "--data-dir",
      "/tmp/x"
    ])
    assert.strictEqual(all.options.seed, 7)
    assert.strictEqual(all.options.clock?.mode, "virtual")
    assert.strictEqual(all.options.exec?.kind, "process")
    assert.deepStrictEqual(all.options.accessKeys, ["A", "B"])
    assert.strictEqual(all.options.dataDir, "/tmp/x")
    assert.throws(() => Cli.parse(["--port", "99999"]), /--port/)
    assert.throws(() => Cli.parse(["--clock", "sundial"]), /--clock/)
    assert.throws(() => Cli.parse(["--data-dir", ""]), /--data-dir/)
    assert.throws(() => Cli.parse(["--bogus"]), /bogus/)
  })
})
