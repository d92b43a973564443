import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { CommandLine } from "@hangar/core/testing"
import { Effect, Either, Redacted } from "effect"
import * as Cli from "../src/Cli.js"
import * as FlySimulator from "../src/FlySimulator.js"

/** Runs fly-sim's command line in-process: its exit code and what it printed. */
const run = (args: ReadonlyArray<string>) =>
  CommandLine.run(Cli.command, Cli.info)(args).pipe(Effect.provide(NodeContext.layer))

const parse = (args: ReadonlyArray<string>) =>
  Cli.parse(args).pipe(Effect.either, Effect.provide(NodeContext.layer))
const failure = (either: Either.Either<unknown, string>) => (Either.isLeft(either) ? either.left : "parsed")

describe("fly-sim command line", () => {
  it.effect("parses the shared and own flags", () =>
    Effect.gen(function* () {
      const flags = Either.getOrThrow(
        yield* parse([
          "--port",
          "0",
          "--clock",
          "virtual",
          "--token",
          "a",
          "--rate-limits",
          "off",
          "--autostop-period",
          "120",
          "--exec-deadline",
          "45",
          "--fault",
          '{"match":"POST *","status":503}'
        ])
      )
      assert.deepStrictEqual(
        [flags.port, flags.clockName, flags.options.rateLimits, flags.options.autostopPeriodMillis],
        [0, "virtual", false, 120_000]
      )
      assert.deepStrictEqual(flags.tokens.map(Redacted.value), ["a"])
      assert.strictEqual(flags.options.faults?.[0]?.status, 503)
      assert.strictEqual(flags.options.execDeadlineSeconds, 45)
      const defaults = Either.getOrThrow(yield* parse([]))
      assert.deepStrictEqual(
        [defaults.port, defaults.host, defaults.tokens.length, defaults.options.execDeadlineSeconds],
        [4280, "127.0.0.1", 0, undefined]
      )
    })
  )

  it.effect("names the flag and what it expects on bad input", () =>
    Effect.gen(function* () {
      assert.match(
        failure(yield* parse(["--exec-deadline", "0"])),
        /--exec-deadline must be a number of seconds > 0, got 0/
      )
      assert.match(
        failure(yield* parse(["--rate-limits", "maybe"])),
        /--rate-limits must be on or off, got maybe/
      )
      assert.match(
        failure(yield* parse(["--autostop-period", "0"])),
        /--autostop-period must be a whole number/
      )
      assert.match(failure(yield* parse(["--fault", "{}"])), /--fault must be a JSON fault rule/)
      assert.match(
        failure(yield* parse(["--clock", "sundial"])),
        /--clock must be real or virtual, got sundial/
      )
      assert.match(failure(yield* parse(["--bogus"])), /bogus/)
    })
  )

  it.effect("--help and -h list every flag and exit 0; --version prints the version", () =>
    Effect.gen(function* () {
      for (const flag of ["--help", "-h"]) {
        const help = yield* run([flag])
        assert.strictEqual(help.code, 0)
        for (const name of [
          "--host",
          "--port",
          "--seed",
          "--clock",
          "--exec",
          "--data-dir",
          "--token",
          "--rate-limits",
          "--autostop-period",
          "--exec-deadline",
          "--fault"
        ])
          assert.include(help.out, name)
      }
      const version = yield* run(["--version"])
      assert.deepStrictEqual([version.code, version.out.trim()], [0, Cli.info.version])
      const bad = yield* run(["--port", "http"])
      assert.deepStrictEqual(
        [bad.code, bad.err.trim()],
        [2, "--port must be 0-65535 (0 picks a free port), got http"]
      )
    })
  )

  it.scoped("a port in use: one line naming it and how to choose another, exit 2", () =>
    Effect.gen(function* () {
      const port = yield* CommandLine.occupiedPort
      const result = yield* run(["--port", String(port), "--token", "t"])
      assert.strictEqual(result.code, 2)
      assert.strictEqual(
        result.err,
        `fly-sim: port ${port} on 127.0.0.1 is already in use; choose another with --port N (--port 0 picks a free one)`
      )
    })
  )

  it("the generated development token is kept in --data-dir across restarts, readable by its owner only", () => {
    const dir = mkdtempSync(join(tmpdir(), "fly-sim-token-"))
    try {
      const first = Redacted.value(Cli.developmentToken(dir))
      assert.strictEqual(Redacted.value(Cli.developmentToken(dir)), first)
      assert.strictEqual(statSync(join(dir, "dev-token")).mode & 0o777, 0o600)
      assert.notStrictEqual(Redacted.value(Cli.developmentToken(undefined)), first)
      assert.notInclude(String(Cli.developmentToken(dir)), first)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("fly-sim control: health, info, reset", () => {
  it("GET /_sim/health and /_sim/info say what runs, its clock, seed, data dir and counts", async () => {
    const sim = await FlySimulator.make({ seed: 9, tokens: [{ token: "t" }] })
    try {
      const auth = { authorization: "Bearer t" }
      const health = await sim.server.inject({ method: "GET", url: "/_sim/health" })
      assert.deepStrictEqual(health.json(), { status: "ok", name: "fly-sim", version: Cli.info.version })
      await sim.server.inject({
        method: "POST",
        url: "/v1/apps",
        headers: auth,
        payload: { app_name: "info-app", org_slug: "personal" }
      })
      const info = await sim.server.inject({ method: "GET", url: "/_sim/info", headers: auth })
      const body = info.json()
      assert.deepStrictEqual(
        [info.statusCode, body.name, body.seed, body.dataDir, body.clock.mode, body.counts],
        [200, "fly-sim", 9, null, "real", { apps: 1, machines: 0, volumes: 0 }]
      )
    } finally {
      await sim.close()
    }
  })

  it("POST /_sim/reset forgets every app, machine and bill line, and reseeds ids as a fresh simulator's", async () => {
    const auth = { authorization: "Bearer t" }
    const createMachine = async (sim: FlySimulator.Simulator) => {
      await sim.server.inject({
        method: "POST",
        url: "/v1/apps",
        headers: auth,
        payload: { app_name: "reset-app", org_slug: "personal" }
      })
      const created = await sim.server.inject({
        method: "POST",
        url: "/v1/apps/reset-app/machines",
        headers: auth,
        payload: { region: "iad", config: { image: "agent" } }
      })
      return created.json().id as string
    }
    const fresh = await FlySimulator.make({ seed: 3, tokens: [{ token: "t" }] })
    const sim = await FlySimulator.make({ seed: 3, tokens: [{ token: "t" }] })
    try {
      const expected = await createMachine(fresh)
      await createMachine(sim)
      await sim.server.inject({
        method: "POST",
        url: "/v1/apps",
        headers: auth,
        payload: { app_name: "other", org_slug: "personal" }
      })
      const fault = await sim.server.inject({
        method: "POST",
        url: "/_sim/faults",
        headers: auth,
        payload: { match: "GET *", status: 503, error: "x" }
      })
      assert.strictEqual(fault.statusCode, 201)
      const reset = await sim.server.inject({ method: "POST", url: "/_sim/reset", headers: auth })
      assert.deepStrictEqual([reset.statusCode, reset.json().seed], [200, 3])
      const info = (await sim.server.inject({ method: "GET", url: "/_sim/info", headers: auth })).json()
      assert.deepStrictEqual(info.counts, { apps: 0, machines: 0, volumes: 0 })
      assert.strictEqual(sim.billing().totalMicroUsd, 0)
      assert.deepStrictEqual(
        (await sim.server.inject({ method: "GET", url: "/_sim/faults", headers: auth })).json(),
        []
      )
      assert.strictEqual(await createMachine(sim), expected)
      const bad = await sim.server.inject({
        method: "POST",
        url: "/_sim/reset",
        headers: auth,
        payload: { seed: "x" }
      })
      assert.strictEqual(bad.statusCode, 400)
      assert.strictEqual(
        (await sim.server.inject({ method: "GET", url: "/_sim/info", headers: auth })).json().counts.machines,
        1
      )
    } finally {
      await fresh.close()
      await sim.close()
    }
  })
})
