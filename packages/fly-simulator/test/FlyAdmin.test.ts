import { createRequire } from "node:module"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import * as FlySimulator from "../src/FlySimulator.js"

// fly-admin has no exports map, so the Client with a configurable apiUrl comes from its deep path.
const require = createRequire(import.meta.url)
const { default: Client } = require("fly-admin/dist/client") as {
  default: new (
    token: string,
    options: { apiUrl: string }
  ) => {
    App: { createApp: (p: unknown) => Promise<unknown>; getApp: (name: string) => Promise<{ name: string }> }
    Machine: {
      createMachine: (p: unknown) => Promise<{ id: string; state: string }>
      startMachine: (p: unknown) => Promise<unknown>
      stopMachine: (p: unknown) => Promise<unknown>
      waitMachine: (p: unknown) => Promise<{ ok: boolean }>
      getMachine: (p: unknown) => Promise<{ state: string }>
      deleteMachine: (p: unknown) => Promise<unknown>
    }
    Volume: {
      createVolume: (p: unknown) => Promise<{ id: string; size_gb: number }>
      listVolumes: (app: string) => Promise<Array<{ id: string }>>
      extendVolume: (p: unknown) => Promise<{ volume: { size_gb: number }; needs_restart: boolean }>
    }
  }
}

describe("an unmodified third-party client (fly-admin 1.6.1) against the simulator on loopback", () => {
  it("creates an app, creates/starts/stops/waits/destroys a machine, lists and extends volumes", async () => {
    const sim = await FlySimulator.make({
      clock: new VirtualClock.RealClock(),
      tokens: [{ token: "admin-token" }],
      // fly-admin does not retry a 429, and four waits on one machine within a second exceed Fly's burst of 3.
      rateLimits: false,
      timing: {
        create: 20,
        firstImagePull: 20,
        bootFromStopped: 20,
        stop: 20,
        destroy: 20,
        resumeFromSuspended: 10
      }
    })
    const url = await sim.listen({ host: "127.0.0.1", port: 0 })
    try {
      const fly = new Client("admin-token", { apiUrl: url })
      await fly.App.createApp({ app_name: "admin-test", org_slug: "personal" })
      assert.strictEqual((await fly.App.getApp("admin-test")).name, "admin-test")
      const volume = await fly.Volume.createVolume({
        app_name: "admin-test",
        name: "data",
        region: "iad",
        size_gb: 3
      })
      const machine = await fly.Machine.createMachine({
        app_name: "admin-test",
        region: "iad",
        config: { image: "nginx", mounts: [{ volume: volume.id, path: "/data" }] }
      })
      assert.strictEqual(
        (
          await fly.Machine.waitMachine({
            app_name: "admin-test",
            machine_id: machine.id,
            state: "started",
            timeout: "10s"
          })
        ).ok,
        true
      )
      await fly.Machine.stopMachine({ app_name: "admin-test", machine_id: machine.id })
      await fly.Machine.waitMachine({
        app_name: "admin-test",
        machine_id: machine.id,
        state: "stopped",
        timeout: "10s"
      })
      assert.strictEqual(
        (await fly.Machine.getMachine({ app_name: "admin-test", machine_id: machine.id })).state,
        "stopped"
      )
      await fly.Machine.startMachine({ app_name: "admin-test", machine_id: machine.id })
      await fly.Machine.waitMachine({
        app_name: "admin-test",
        machine_id: machine.id,
        state: "started",
        timeout: "10s"
      })
      assert.deepStrictEqual(
        (await fly.Volume.listVolumes("admin-test")).map((v) => v.id),
        [volume.id]
      )
      const extended = await fly.Volume.extendVolume({
        app_name: "admin-test",
        volume_id: volume.id,
        size_gb: 5
      })
      assert.strictEqual(extended.volume.size_gb, 5)
      assert.isTrue(extended.needs_restart)
      await fly.Machine.deleteMachine({ app_name: "admin-test", machine_id: machine.id, force: true })
      await fly.Machine.waitMachine({
        app_name: "admin-test",
        machine_id: machine.id,
        state: "destroyed",
        timeout: "10s"
      })
      const wrong = await new Client("wrong-token", { apiUrl: url }).App.getApp("admin-test").catch(
        (e: Error) => e.message
      )
      assert.match(String(wrong), /^401: /)
    } finally {
      await sim.close()
    }
  })
})
