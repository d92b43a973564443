/** FlyMachines: sleep only when idle, the global deployment in one call, and the tunnel through the Fly Proxy. */

import { HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { FlySimulator, Lifecycle } from "@hangar/fly-simulator"
import { ConfigProvider, Effect, Layer, ManagedRuntime, Redacted } from "effect"
import type { WebSocket } from "undici"
import * as FlyProvider from "../src/FlyProvider.js"
import * as Simulated from "./Simulated.js"

const token = "machines-token"

const onSimulator = (seed: number, options: Partial<Omit<FlyProvider.Options, "flyToml">> = {}) =>
  Simulated.onSimulator(seed, token, options)

describe("allowSleep", () => {
  it("waits for the active task, then sleeps; a task after it wakes the machine and lets it sleep again", async () => {
    const { sim, fly, machines, run } = await onSimulator(31)
    const session = await run(fly.create({ taskId: "sleepy", repository: "acme/sleepy", region: "iad" }))
    const machine = sim.model.machines.get(session.metadata.machineId!)!
    const [result, during] = await run(
      Effect.all(
        [
          machines.executeTask(session.id, ["work", "60"]),
          Effect.zipRight(
            Effect.sleep("10 seconds"),
            Effect.zip(
              machines.allowSleep(session.id),
              Effect.sync(() => machines.activeTasks(session.id))
            )
          )
        ],
        { concurrency: 2 }
      )
    )
    assert.strictEqual(result.exitCode, 0)
    // Asked while the task ran: the machine kept running and the task finished.
    assert.strictEqual(during[0].status, "running")
    assert.strictEqual(during[1], 1)
    // When the task ended, the machine went to sleep.
    assert.strictEqual(machines.activeTasks(session.id), 0)
    assert.strictEqual(machine.state, "suspended")
    const again = await run(machines.executeTask(session.id, ["echo", "woken"]))
    assert.strictEqual(again.stdout.trim(), "woken")
    assert.strictEqual(machine.state, "suspended")
    // ensureRunning takes the permission back: the machine stays up after a task.
    await run(machines.ensureRunning(session.id))
    await run(machines.executeTask(session.id, ["echo", "up"]))
    assert.strictEqual(machine.state, "started")
  })
})

describe("a create that fails", () => {
  it("puts back to sleep a machine it woke, but not one another create holds running", async () => {
    const { sim, fly, machines, run } = await onSimulator(35)
    const first = await run(fly.create({ taskId: "c1", repository: "acme/race", region: "iad" }))
    await run(machines.allowSleep(first.id))
    const machine = sim.model.machines.get(first.metadata.machineId!)!
    assert.strictEqual(machine.state, "suspended")
    // Alone: the create wakes the machine, then fails; the machine goes back to sleep.
    sim.faults.add({
      match: "/metadata/hangar_task_id$",
      status: 400,
      error: "invalid_argument: value",
      times: 1
    })
    const alone = await run(Effect.flip(fly.create({ taskId: "c2", repository: "acme/race", region: "iad" })))
    assert.strictEqual(alone._tag, "InvalidRequest")
    await run(machines.awaitCleanups)
    assert.strictEqual(machine.state, "suspended")
    // Two at once, one failing: the other's session is running, and stays so.
    sim.faults.add({
      match: "/metadata/hangar_task_id$",
      status: 400,
      error: "invalid_argument: value",
      times: 1
    })
    const both = await run(
      Effect.all(
        [
          Effect.either(fly.create({ taskId: "c3", repository: "acme/race", region: "iad" })),
          Effect.either(fly.create({ taskId: "c4", repository: "acme/race", region: "iad" }))
        ],
        { concurrency: 2 }
      )
    )
    assert.deepStrictEqual(both.map((o) => o._tag).sort(), ["Left", "Right"])
    await run(machines.awaitCleanups)
    assert.strictEqual(machine.state, "started")
  })
})

describe("the per-call deadline", () => {
  it("a long command outlives the deadline (it has its own timeout); a wait does not", async () => {
    const { sim, fly, machines, run } = await onSimulator(34, { deadline: "2 minutes" })
    const session = await run(fly.create({ taskId: "long", repository: "acme/long", region: "iad" }))
    const result = await run(machines.executeTask(session.id, ["work", "600"]))
    assert.strictEqual(result.exitCode, 0)
    assert.isAtLeast(result.durationMs, 600_000)
    // Fly's own exec deadline (408 deadline_exceeded past ~30 s on Fly): typed, and not sent again.
    sim.faults.add({ match: "/exec$", status: 408, error: "deadline_exceeded: exec timed out", times: 1 })
    const cut = await run(Effect.flip(machines.executeTask(session.id, ["work", "45"])))
    assert.strictEqual(cut._tag, "ProviderUnavailable")
    assert.include(cut.message, "not sent again")
    const afterCut = await run(machines.executeTask(session.id, ["echo", "next"]))
    assert.strictEqual(afterCut.stdout.trim(), "next")
    // A start that never answers within the deadline ends in a Timeout at the deadline.
    await run(fly.stop(session.id))
    sim.faults.add({ match: "/start$", latencyMs: 3_600_000, times: 1 })
    const error = await run(Effect.flip(fly.start(session.id)))
    assert.strictEqual(error._tag, "Timeout")
  })
})

describe("deployGlobal", () => {
  it("puts the repository's machine in each region in one call, reports the regions that failed, and is idempotent", async () => {
    const { sim, machines, run } = await onSimulator(32)
    sim.faults.add({
      match: "^POST /v1/apps/[^/]+/machines$",
      region: "syd",
      kind: "insufficient-resources"
    })
    const task = { taskId: "global", repository: "acme/global", size: "dev" as const }
    const first = await run(machines.deployGlobal(task, ["iad", "lhr", "syd"]))
    assert.deepStrictEqual(first.sessions.map((s) => s.region).sort(), ["iad", "lhr"])
    assert.deepStrictEqual(
      first.failed.map((f) => [f.region, f.error._tag]),
      [["syd", "CapacityUnavailable"]]
    )
    assert.deepStrictEqual(first.sessions.map((s) => s.taskId).sort(), ["global-iad", "global-lhr"])
    assert.isTrue(
      first.sessions.every((s) => s.metadata.app === "hangar-acme-global" && s.status === "running")
    )
    sim.faults.clear()
    const second = await run(machines.deployGlobal(task, ["iad", "lhr", "syd"]))
    assert.strictEqual(second.failed.length, 0)
    assert.deepStrictEqual(
      second.sessions
        .filter((s) => s.region !== "syd")
        .map((s) => s.id)
        .sort(),
      first.sessions.map((s) => s.id).sort()
    )
    const live = [...sim.model.machines.values()].filter((m) => m.state !== "destroyed")
    assert.deepStrictEqual(live.map((m) => m.region).sort(), ["iad", "lhr", "syd"])
  })

  it("an unknown region is an InvalidRequest listing the valid ones, before anything is created", async () => {
    const { sim, machines, run } = await onSimulator(33)
    const error = await run(
      Effect.flip(machines.deployGlobal({ taskId: "g", repository: "acme/g" }, ["iad", "mars"]))
    )
    assert.strictEqual(error._tag, "InvalidRequest")
    assert.include(error.message, "iad, lhr, syd")
    assert.include(error.message, "mars")
    assert.strictEqual(sim.model.machines.size, 0)
  })
})

describe("tunnel", () => {
  it("on Fly the endpoint is wss://<app>.fly.dev/<path>", () => {
    assert.strictEqual(
      FlyProvider.defaultProxyUrl("https://api.machines.dev")("hangar-acme-web"),
      "wss://hangar-acme-web.fly.dev"
    )
    assert.strictEqual(
      FlyProvider.defaultProxyUrl("http://127.0.0.1:4280")("hangar-acme-web"),
      "ws://127.0.0.1:4280/_proxy/hangar-acme-web"
    )
  })

  it("connects through the simulator's proxy on loopback, waking the sleeping machine, and echoes", async () => {
    const sim = await FlySimulator.make({
      clock: new VirtualClock.RealClock(),
      tokens: [{ token }],
      timing: Lifecycle.instantTiming
    })
    const base = await sim.listen({ host: "127.0.0.1", port: 0 })
    let runtime:
      | ManagedRuntime.ManagedRuntime<FlyProvider.FlyProvider | FlyProvider.FlyMachines, never>
      | undefined
    try {
      // Over undici on loopback: the layer's dispatcher lives as long as the runtime.
      runtime = ManagedRuntime.make(
        FlyProvider.layer({ token: Redacted.make(token), baseUrl: base, regions: ["iad"], autostop: "off" })
      )
      const [fly, machines] = await runtime.runPromise(
        Effect.all([FlyProvider.FlyProvider, FlyProvider.FlyMachines])
      )
      const session = await Effect.runPromise(fly.create({ taskId: "tunnel", repository: "acme/tunnel" }))
      const slept = await Effect.runPromise(machines.allowSleep(session.id))
      assert.strictEqual(slept.status, "suspended")
      const tunnel = await Effect.runPromise(machines.tunnel(session.id, "/agent/ws"))
      assert.strictEqual(tunnel.endpoint, `${base.replace("http", "ws")}/_proxy/hangar-acme-tunnel/agent/ws`)
      const echoed = await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(tunnel.connect, (ws: WebSocket) =>
            Effect.async<string>((resume) => {
              const seen: Array<string> = []
              ws.addEventListener("message", (event) => {
                seen.push(String(event.data))
                if (event.data === "ping") resume(Effect.succeed(seen.join(" | ")))
              })
              ws.send("ping")
            })
          )
        )
      )
      // The proxy's greeting names the machine it routed to (the session's), then the echo.
      const [greeting, echo] = echoed.split(" | ")
      assert.strictEqual(JSON.parse(greeting!).machine_id, session.metadata.machineId)
      assert.strictEqual(echo, "ping")
      // The proxy woke the machine for the connection.
      assert.strictEqual(sim.model.machines.get(session.metadata.machineId!)?.state, "started")
    } finally {
      await runtime?.dispose()
      await sim.close()
    }
  })
})

describe("metrics", () => {
  it("reads /ps and /memory of the session's machine (fly-sim has neither, so a fake HttpClient answers per the spec)", async () => {
    const seen: Array<string> = []
    const answers: Record<string, unknown> = {
      "/v1/apps/hangar-acme-web/machines/0123456789abcd/ps": [
        { pid: 1, command: "/.fly/init", cpu: 1, rss: 4_000_000, rtime: 10, stime: 2 },
        { pid: 310, command: "node agent.js", directory: "/workspace", cpu: 37, rss: 120_000_000 },
        { pid: 311, command: "sleep 60" }
      ],
      "/v1/apps/hangar-acme-web/machines/0123456789abcd/memory": { limit_mb: 512, available_mb: 380 }
    }
    const http = HttpClient.make((request) =>
      Effect.sync(() => {
        const path = new URL(request.url).pathname
        seen.push(`${request.method} ${path}`)
        const body = answers[path]
        return HttpClientResponse.fromWeb(
          request,
          new Response(JSON.stringify(body ?? { error: "not found" }), {
            status: body === undefined ? 404 : 200,
            headers: { "content-type": "application/json" }
          })
        )
      })
    )
    const machines = await Effect.runPromise(
      Effect.provide(
        FlyProvider.FlyMachines,
        FlyProvider.layer({
          token: Redacted.make(token),
          httpClient: Layer.succeed(HttpClient.HttpClient, http)
        })
      )
    )
    const metrics = await Effect.runPromise(machines.metrics("hangar-acme-web/0123456789abcd"))
    assert.deepStrictEqual(seen.sort(), [
      "GET /v1/apps/hangar-acme-web/machines/0123456789abcd/memory",
      "GET /v1/apps/hangar-acme-web/machines/0123456789abcd/ps"
    ])
    assert.strictEqual(metrics.memoryLimitMb, 512)
    assert.strictEqual(metrics.memoryAvailableMb, 380)
    assert.strictEqual(metrics.cpu, 38)
    assert.strictEqual(metrics.rssBytes, 124_000_000)
    assert.deepStrictEqual(
      metrics.processes.map((p) => p.command),
      ["/.fly/init", "node agent.js", "sleep 60"]
    )
    const unknown = await Effect.runPromise(Effect.flip(machines.metrics("hangar-acme-web/ffffffffffffff")))
    assert.strictEqual(unknown._tag, "SessionNotFound")
  })
})

describe("layerConfig", () => {
  it("reads FLY_API_TOKEN, FLY_FLAPS_BASE_URL, FLY_REGIONS and HANGAR_FLY_APP_PREFIX; a missing token is a ConfigError naming it", async () => {
    const sim = await FlySimulator.make({
      clock: new VirtualClock.RealClock(),
      tokens: [{ token }],
      timing: Lifecycle.instantTiming
    })
    const base = await sim.listen({ host: "127.0.0.1", port: 0 })
    const withEnv = (env: Record<string, string>) =>
      FlyProvider.layerConfig.pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
      )
    const runtime = ManagedRuntime.make(
      withEnv({
        FLY_API_TOKEN: token,
        FLY_FLAPS_BASE_URL: base,
        FLY_REGIONS: "lhr,syd",
        HANGAR_FLY_APP_PREFIX: "team"
      })
    )
    try {
      const fly = await runtime.runPromise(FlyProvider.FlyProvider)
      assert.deepStrictEqual([...fly.capabilities.regions], ["lhr", "syd"] as ReadonlyArray<string>)
      const session = await runtime.runPromise(
        fly.create({ taskId: "env", repository: "acme/env", region: "lhr" })
      )
      assert.strictEqual(session.metadata.app, "team-acme-env")
      const missing = await Effect.runPromise(
        Effect.flip(Effect.provide(FlyProvider.FlyProvider, withEnv({ FLY_FLAPS_BASE_URL: base })))
      )
      assert.include(String(missing), "FLY_API_TOKEN")
    } finally {
      await runtime.dispose()
      await sim.close()
    }
  })
})

describe("requests per session", () => {
  it("a new repository's first task: no lookups in its new app, no start of the machine Fly launches; a destroy leaves no lease to release", async () => {
    const sent: Array<string> = []
    const { fly, run } = await Simulated.onSimulator(41, token, {}, (sim) => (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input))
      const method = init?.method ?? (input instanceof Request ? input.method : "GET")
      sent.push(`${method} ${url.pathname.replace(/\/machines\/[0-9a-f]{14}/, "/machines/{id}")}`)
      return sim.fetch(input, init)
    })
    const app = "/v1/apps/hangar-acme-fresh"
    const session = await run(fly.create({ taskId: "first", repository: "acme/fresh", region: "iad" }))
    assert.deepStrictEqual(sent.splice(0), [
      `GET ${app}`,
      "POST /v1/apps",
      `POST ${app}/volumes`,
      `POST ${app}/machines`,
      `GET ${app}/machines/{id}/wait`
    ])
    assert.strictEqual(session.taskId, "first")
    assert.strictEqual(session.status, "running")
    await run(fly.sleep(session.id))
    sent.splice(0)
    // A later task finds the machine, wakes it under a lease and records its task id.
    const again = await run(fly.create({ taskId: "second", repository: "acme/fresh", region: "iad" }))
    assert.strictEqual(again.id, session.id)
    assert.deepStrictEqual(sent.splice(0), [
      `GET ${app}/machines`,
      `POST ${app}/machines/{id}/lease`,
      `POST ${app}/machines/{id}/start`,
      `DELETE ${app}/machines/{id}/lease`,
      `GET ${app}/machines/{id}/wait`,
      `POST ${app}/machines/{id}/metadata/hangar_task_id`
    ])
    await run(fly.destroy(session.id))
    assert.deepStrictEqual(sent.splice(0), [
      `POST ${app}/machines/{id}/lease`,
      `DELETE ${app}/machines/{id}`,
      `GET ${app}/machines/{id}/wait`,
      `GET ${app}/machines/{id}/events`
    ])
  })
})
