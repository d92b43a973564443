import { createRequire } from "node:module"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import * as FlySimulator from "../src/FlySimulator.js"
import { imageRef } from "../src/http/Routes.js"

// fly-admin has no exports map, so the Client with a configurable apiUrl comes from its deep path.
const require = createRequire(import.meta.url)
const { default: Client } = require("fly-admin/dist/client") as {
  default: new (
    token: string,
    options: { apiUrl: string }
  ) => {
    App: { createApp: (p: unknown) => Promise<unknown> }
    Machine: {
      createMachine: (p: unknown) => Promise<{ id: string }>
      getMachine: (p: unknown) => Promise<{ image_ref: Record<string, string> }>
      waitMachine: (p: unknown) => Promise<{ ok: boolean }>
      listProcesses: (p: unknown) => Promise<Array<{ pid: number; command: string; listen_sockets: unknown }>>
    }
  }
}

const token = "resources-token"
const timing = {
  create: 20,
  firstImagePull: 20,
  bootFromStopped: 20,
  stop: 20,
  destroy: 20,
  resumeFromSuspended: 10
}

const loopback = async () => {
  const sim = await FlySimulator.make({
    clock: new VirtualClock.RealClock(),
    tokens: [{ token }],
    rateLimits: false,
    timing
  })
  const url = await sim.listen({ host: "127.0.0.1", port: 0 })
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, json: text.length > 0 ? JSON.parse(text) : undefined }
  }
  return { sim, url, call, fly: new Client(token, { apiUrl: url }) }
}

describe("machine sub-resources as Fly clients use them", () => {
  it("wait takes state repeated (as fly-go sends it) or comma-separated, and still names a bad one", async () => {
    const { sim, call, fly } = await loopback()
    try {
      await fly.App.createApp({ app_name: "waits", org_slug: "personal" })
      const m = await fly.Machine.createMachine({
        app_name: "waits",
        region: "iad",
        config: { image: "nginx" }
      })
      const repeated = await call(
        "GET",
        `/apps/waits/machines/${m.id}/wait?state=stopped&state=started&timeout=10`
      )
      assert.deepStrictEqual([repeated.status, repeated.json.state], [200, "started"])
      const comma = await call("GET", `/apps/waits/machines/${m.id}/wait?state=stopped,started&timeout=10`)
      assert.deepStrictEqual([comma.status, comma.json.state], [200, "started"])
      const single = await fly.Machine.waitMachine({
        app_name: "waits",
        machine_id: m.id,
        state: "started",
        timeout: "5s"
      })
      assert.isTrue(single.ok)
      const bad = await call("GET", `/apps/waits/machines/${m.id}/wait?state=started&state=sleeping`)
      assert.strictEqual(bad.status, 400)
      assert.include(bad.json.error, "state sleeping is not one of")
    } finally {
      await sim.close()
    }
  })

  it("metadata: PUT and PATCH set and remove several keys (null or empty removes), 412 on a stale machine_version", async () => {
    const { sim, call, fly } = await loopback()
    try {
      await fly.App.createApp({ app_name: "meta", org_slug: "personal" })
      const m = await fly.Machine.createMachine({
        app_name: "meta",
        region: "iad",
        config: { image: "nginx" }
      })
      const base = `/apps/meta/machines/${m.id}/metadata`
      assert.strictEqual((await call("POST", `${base}/old`, { value: "x" })).status, 204)
      const put = await call("PUT", base, { metadata: { fly_process_group: "app", role: "web", old: null } })
      assert.strictEqual(put.status, 204)
      assert.deepStrictEqual((await call("GET", base)).json, { fly_process_group: "app", role: "web" })
      const machine = (await call("GET", `/apps/meta/machines/${m.id}`)).json
      const patch = await call("PATCH", base, {
        metadata: { role: "", tier: "1" },
        machine_version: machine.instance_id
      })
      assert.strictEqual(patch.status, 204)
      assert.deepStrictEqual((await call("GET", base)).json, { fly_process_group: "app", tier: "1" })
      const stale = await call("PATCH", base, { metadata: { tier: "2" }, machine_version: "01OLDVERSION" })
      assert.strictEqual(stale.status, 412)
      const badKey = await call("PUT", base, { metadata: { "bad key": "v", good: "v" } })
      assert.strictEqual(badKey.status, 400)
      assert.include(badKey.json.error, "body.metadata")
      // Refusals change nothing.
      assert.deepStrictEqual((await call("GET", base)).json, { fly_process_group: "app", tier: "1" })
      assert.deepStrictEqual((await call("GET", `/apps/meta/machines/${m.id}`)).json.config.metadata, {
        fly_process_group: "app",
        tier: "1"
      })
    } finally {
      await sim.close()
    }
  })

  it("ps (through fly-admin's listProcesses, sorted) and memory: get, set a lower limit, reclaim; 412 when not started", async () => {
    const { sim, call, fly } = await loopback()
    try {
      await fly.App.createApp({ app_name: "procs", org_slug: "personal" })
      const m = await fly.Machine.createMachine({
        app_name: "procs",
        region: "iad",
        config: {
          image: "nginx",
          guest: { cpu_kind: "shared", cpus: 1, memory_mb: 512 },
          services: [{ internal_port: 8080, protocol: "tcp" }]
        }
      })
      await fly.Machine.waitMachine({ app_name: "procs", machine_id: m.id, state: "started", timeout: "5" })
      const processes = await fly.Machine.listProcesses({
        app_name: "procs",
        machine_id: m.id,
        sort_by: "cpu",
        order: "desc"
      })
      assert.strictEqual(processes.length, 1)
      assert.strictEqual(processes[0]!.pid, 1)
      assert.deepStrictEqual(processes[0]!.listen_sockets, [{ proto: "tcp", address: "0.0.0.0:8080" }])
      assert.strictEqual((await call("GET", `/apps/procs/machines/${m.id}/ps?order=sideways`)).status, 400)
      const base = `/apps/procs/machines/${m.id}/memory`
      assert.deepStrictEqual((await call("GET", base)).json, { limit_mb: 512, available_mb: 512 })
      assert.deepStrictEqual((await call("PUT", base, { limit_mb: 384 })).json, {
        limit_mb: 384,
        available_mb: 384
      })
      assert.strictEqual((await call("PUT", base, { limit_mb: 1024 })).status, 400)
      assert.deepStrictEqual((await call("POST", `${base}/reclaim`, { amount_mb: 100 })).json, {
        actual_mb: 100
      })
      assert.deepStrictEqual((await call("POST", `${base}/reclaim`, { amount_mb: 1000 })).json, {
        actual_mb: 156
      })
      assert.strictEqual((await call("GET", base)).json.limit_mb, 128)
      // A restart boots with the whole guest memory again.
      await call("POST", `/apps/procs/machines/${m.id}/restart`)
      await fly.Machine.waitMachine({ app_name: "procs", machine_id: m.id, state: "started", timeout: "5" })
      assert.strictEqual((await call("GET", base)).json.limit_mb, 512)
      await call("POST", `/apps/procs/machines/${m.id}/stop`)
      await fly.Machine.waitMachine({ app_name: "procs", machine_id: m.id, state: "stopped", timeout: "5" })
      const stopped = await call("GET", `/apps/procs/machines/${m.id}/ps`)
      assert.strictEqual(stopped.status, 412)
      assert.include(stopped.json.error, "not started")
      assert.strictEqual((await call("GET", base)).status, 412)
    } finally {
      await sim.close()
    }
  })

  it("image_ref names the registry once: the host is not repeated in the repository (through fly-admin's getMachine)", async () => {
    const { sim, fly } = await loopback()
    try {
      await fly.App.createApp({ app_name: "images", org_slug: "personal" })
      const m = await fly.Machine.createMachine({
        app_name: "images",
        region: "iad",
        config: { image: "registry.fly.io/images:deployment-01J" }
      })
      const ref = (await fly.Machine.getMachine({ app_name: "images", machine_id: m.id })).image_ref
      assert.deepStrictEqual(ref, {
        registry: "registry.fly.io",
        repository: "images",
        tag: "deployment-01J"
      })
    } finally {
      await sim.close()
    }
    assert.deepStrictEqual(imageRef("nginx"), {
      registry: "registry-1.docker.io",
      repository: "library/nginx",
      tag: "latest"
    })
    assert.deepStrictEqual(imageRef("flyio/hellofly:1.2"), {
      registry: "registry-1.docker.io",
      repository: "flyio/hellofly",
      tag: "1.2"
    })
    assert.deepStrictEqual(imageRef("localhost:5000/team/app:v2"), {
      registry: "localhost:5000",
      repository: "team/app",
      tag: "v2"
    })
    assert.deepStrictEqual(imageRef("ghcr.io/org/agent@sha256:abc"), {
      registry: "ghcr.io",
      repository: "org/agent",
      tag: "latest",
      digest: "sha256:abc"
    })
  })
})
