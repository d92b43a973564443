import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { FlySimulator } from "@hangar/fly-simulator"
import { Effect, Either, Logger, Redacted, Ref } from "effect"
import * as FlyProvider from "../src/FlyProvider.js"
import * as FlyToml from "../src/FlyToml.js"

/** The seed's fly.toml with a few more of the keys real apps carry. */
const realistic = `
app = "claude-webapp"
primary_region = "lhr"
kill_signal = "SIGINT"
kill_timeout = 30
swap_size_mb = 512

[build]
  dockerfile = "Dockerfile.claude"

[env]
  PROVIDER = "fly"
  REMOTE_CLAUDE = "true"
  WORKERS = 4

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = "suspend"
  auto_start_machines = true
  min_machines_running = 1
  [http_service.concurrency]
    type = "requests"
    soft_limit = 20
    hard_limit = 25
  [[http_service.checks]]
    interval = "30s"
    timeout = "5s"
    grace_period = "10s"
    method = "GET"
    path = "/health"

[[services]]
  internal_port = 8080
  protocol = "tcp"
  auto_stop_machines = true
  auto_start_machines = true
  min_machines_running = 0
  [[services.ports]]
    port = 443
    handlers = ["http", "tls"]
  [[services.tcp_checks]]
    interval = "15s"
    timeout = "2s"

[mounts]
  source = "claude_workspace"
  destination = "/workspace"
  initial_size = "20gb"

[checks.alive]
  type = "tcp"
  port = 8080
  interval = "15s"
  timeout = "2s"

[[vm]]
  size = "shared-cpu-2x"
  memory = "1gb"

[experimental]
  auto_rollback = true

[metrics]
  port = 9091
  path = "/metrics"

[colour]
  favourite = "blue"
`

describe("FlyToml.parse", () => {
  it.effect(
    "imports services, autostop/autostart, min_machines_running, mounts, checks, env, region, vm",
    () =>
      Effect.gen(function* () {
        const logged = yield* Ref.make<ReadonlyArray<string>>([])
        const logger = Logger.make(({ message }) => {
          Effect.runSync(Ref.update(logged, (all) => [...all, String(message)]))
        })
        const toml = yield* FlyToml.parse(realistic).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        assert.strictEqual(toml.app, "claude-webapp")
        assert.strictEqual(toml.primaryRegion, "lhr")
        assert.deepStrictEqual(toml.env, { PROVIDER: "fly", REMOTE_CLAUDE: "true", WORKERS: "4" })
        assert.strictEqual(toml.services.length, 2)
        const [http, tcp] = toml.services
        assert.strictEqual(http?.internal_port, 3000)
        assert.strictEqual(http?.autostop, "suspend")
        assert.strictEqual(http?.autostart, true)
        assert.strictEqual(http?.min_machines_running, 1)
        assert.deepStrictEqual(http?.concurrency, { type: "requests", soft_limit: 20, hard_limit: 25 })
        assert.deepStrictEqual(http?.ports[0], { port: 80, handlers: ["http"], force_https: true })
        assert.strictEqual(http?.checks?.[0]?.path, "/health")
        assert.strictEqual(http?.checks?.[0]?.type, "http")
        assert.strictEqual(tcp?.autostop, "stop")
        assert.deepStrictEqual(tcp?.ports, [{ port: 443, handlers: ["http", "tls"] }])
        assert.deepStrictEqual(tcp?.checks, [{ type: "tcp", interval: "15s", timeout: "2s" }])
        assert.deepStrictEqual(toml.mount, { name: "claude_workspace", path: "/workspace", sizeGb: 20 })
        assert.deepStrictEqual(toml.checks.alive, { type: "tcp", port: 8080, interval: "15s", timeout: "2s" })
        assert.deepStrictEqual(toml.guest, { cpu_kind: "shared", cpus: 2, memory_mb: 1024 })
        assert.deepStrictEqual(toml.stop, { signal: "SIGINT", timeout: "30s" })
        assert.strictEqual(toml.swapSizeMb, 512)
        assert.deepStrictEqual(toml.metrics, { port: 9091, path: "/metrics" })
        assert.deepStrictEqual(toml.warnings, [
          "build: not a machine setting; not imported",
          "experimental: not a machine setting; not imported",
          "colour: unknown key; ignored"
        ])
        const messages = yield* Ref.get(logged)
        for (const warning of toml.warnings) assert.include(messages, `fly.toml ${warning}`)
      })
  )

  it.effect("unknown keys nested in known tables are warnings with their path", () =>
    Effect.gen(function* () {
      const toml = yield* FlyToml.parse(`
[http_service]
  internal_port = 8080
  auto_stop_machine = "stop"
[[services]]
  internal_port = 9000
  [[services.ports]]
    port = 9000
    handler = ["tls"]
[checks.db]
  port = 5432
  intervall = "10s"
`)
      assert.deepStrictEqual(toml.warnings, [
        "http_service.auto_stop_machine: unknown key; ignored",
        "services[0].ports[0].handler: unknown key; ignored",
        "checks.db.intervall: unknown key; ignored"
      ])
      // Absent autostop keys leave Fly's default: no autostop, autostart on.
      assert.strictEqual(toml.services[0]?.autostop, false)
      assert.strictEqual(toml.services[0]?.autostart, true)
    })
  )

  for (const [name, text, field, fragment] of [
    [
      "a negative min_machines_running",
      "[http_service]\ninternal_port = 8080\nmin_machines_running = -1",
      "http_service.min_machines_running",
      "-1"
    ],
    [
      "an autostop that is not off/stop/suspend",
      '[http_service]\ninternal_port = 8080\nauto_stop_machines = "sometimes"',
      "http_service.auto_stop_machines",
      "sometimes"
    ],
    ["a port out of range", "[[services]]\ninternal_port = 70000", "services.0.internal_port", "70000"],
    ["a duration without a unit", '[checks.web]\ninterval = "15"', "checks.web.interval", "15"],
    ["an unknown vm size", '[[vm]]\nsize = "huge-cpu-9x"', "vm.0.size", "huge-cpu-9x"],
    [
      "memory too small for the CPUs",
      '[[vm]]\nsize = "performance-2x"\nmemory = "1gb"',
      "vm.0.memory",
      "1024"
    ],
    [
      "a mount path that is not absolute",
      '[mounts]\nsource = "data"\ndestination = "data"',
      "mounts.0.destination",
      "data"
    ],
    ["a region that is not a Fly code", 'primary_region = "London"', "primary_region", "London"],
    ["not TOML at all", "[http_service\ninternal_port = ", "fly.toml", "line"]
  ] as const) {
    it.effect(`${name} is an InvalidRequest naming ${field}`, () =>
      Effect.gen(function* () {
        const result = yield* Effect.either(FlyToml.parse(text))
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "InvalidRequest")
          assert.strictEqual(result.left.field, field)
          assert.include(result.left.message, fragment)
        }
      })
    )
  }
})

describe("FlyProvider with a fly.toml", () => {
  it.effect("machines take the fly.toml's services, checks, env, mount, guest and primary region", () =>
    Effect.gen(function* () {
      const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
      const sim = yield* Effect.promise(() => FlySimulator.make({ clock, seed: 5, tokens: [{ token: "t" }] }))
      const fly = yield* Effect.provide(
        FlyProvider.FlyProvider,
        FlyProvider.layer({
          token: Redacted.make("t"),
          baseUrl: "http://fly-sim.internal",
          fetch: sim.fetch,
          regions: ["iad", "lhr"],
          flyToml: realistic
        })
      )
      const session = yield* VirtualClock.drive(
        clock,
        fly.create({ taskId: "toml-1", repository: "acme/webapp", region: "edge", env: { EXTRA: "1" } })
      )
      assert.strictEqual(session.region, "lhr")
      const machine = sim.model.machines.get(session.metadata.machineId!)!
      const config = machine.config as unknown as {
        services: ReadonlyArray<{ internal_port: number; autostop: unknown; min_machines_running: number }>
        checks: Record<string, unknown>
        env: Record<string, string>
        guest: unknown
        mounts: ReadonlyArray<{ volume: string; path: string }>
        stop_config: unknown
        init: unknown
        metrics: unknown
      }
      assert.deepStrictEqual(
        config.services.map((s) => [s.internal_port, s.autostop, s.min_machines_running]),
        [
          [3000, "suspend", 1],
          // Fly answers "stop" as true (its older boolean form), as the API reference says.
          [8080, true, 0]
        ]
      )
      assert.deepStrictEqual(Object.keys(config.checks), ["alive"])
      assert.strictEqual(config.env.PROVIDER, "fly")
      assert.strictEqual(config.env.EXTRA, "1")
      assert.strictEqual(config.env.REPOSITORY, "acme/webapp")
      assert.deepStrictEqual(config.guest, { cpu_kind: "shared", cpus: 2, memory_mb: 1024 })
      assert.deepStrictEqual(config.stop_config, { signal: "SIGINT", timeout: "30s" })
      assert.deepStrictEqual(config.init, { swap_size_mb: 512 })
      assert.deepStrictEqual(config.metrics, { port: 9091, path: "/metrics" })
      assert.strictEqual(config.mounts[0]?.path, "/workspace")
      const volume = sim.model.volumes.get(config.mounts[0]!.volume)!
      assert.strictEqual(volume.name, "claude_workspace")
      assert.strictEqual(volume.sizeGb, 20)
    })
  )

  it.effect("a bad fly.toml fails the layer with an InvalidRequest naming the key", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(
          FlyProvider.FlyProvider,
          FlyProvider.layer({
            token: Redacted.make("t"),
            baseUrl: "http://fly-sim.internal",
            flyToml: '[http_service]\ninternal_port = "eighty"'
          })
        )
      )
      assert.strictEqual(error._tag, "InvalidRequest")
      assert.strictEqual(error.field, "http_service.internal_port")
    })
  )
})
