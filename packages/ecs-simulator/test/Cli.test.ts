import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { CommandLine, PricingFixtures } from "@hangar/core/testing"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import * as Cli from "../src/Cli.js"
import * as EcsSimulator from "../src/EcsSimulator.js"

const parse = (args: ReadonlyArray<string>) =>
  Cli.parse(args).pipe(Effect.either, Effect.provide(NodeContext.layer))
const failure = (either: Either.Either<unknown, string>) => (Either.isLeft(either) ? either.left : "parsed")

/** Runs ecs-sim's command line in-process: its exit code and what it printed. */
const run = (args: ReadonlyArray<string>) =>
  CommandLine.run(Cli.command, Cli.info)(args).pipe(Effect.provide(NodeContext.layer))

describe("ecs-sim command line", () => {
  it.effect("defaults, every flag, and clear errors naming the flag", () =>
    Effect.gen(function* () {
      const defaults = Either.getOrThrow(yield* parse([]))
      assert.deepStrictEqual(
        [defaults.host, defaults.port, defaults.seed, defaults.clockName],
        ["127.0.0.1", 4281, 1, "real"]
      )
      const all = Either.getOrThrow(
        yield* parse([
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
      )
      assert.strictEqual(all.options.seed, 7)
      assert.strictEqual(all.options.clock?.mode, "virtual")
      assert.strictEqual(all.options.exec?.kind, "process")
      assert.deepStrictEqual(all.options.accessKeys, ["A", "B"])
      assert.strictEqual(all.options.dataDir, "/tmp/x")
      assert.match(failure(yield* parse(["--port", "99999"])), /--port must be 0-65535/)
      assert.match(failure(yield* parse(["--clock", "sundial"])), /--clock must be real or virtual/)
      assert.match(failure(yield* parse(["--data-dir", ""])), /--data-dir needs a directory/)
      assert.match(failure(yield* parse(["--bogus"])), /bogus/)
    })
  )

  it.effect(
    "--secret-key or ECS_SIM_SECRET_KEY: a Redacted that never prints, and only beside an access key",
    () =>
      Effect.gen(function* () {
        const signed = Either.getOrThrow(yield* parse(["--access-key", "A", "--secret-key", "s3cr3t-flag"]))
        assert.strictEqual(Redacted.value(signed.options.secretKey!), "s3cr3t-flag")
        assert.notInclude(JSON.stringify(signed.options), "s3cr3t-flag")
        assert.notInclude(String(signed.options.secretKey), "s3cr3t-flag")
        const fromEnvironment = Either.getOrThrow(
          yield* parse(["--access-key", "A"]).pipe(
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["ECS_SIM_SECRET_KEY", "from-env"]])))
          )
        )
        assert.strictEqual(Redacted.value(fromEnvironment.options.secretKey!), "from-env")
        assert.match(failure(yield* parse(["--secret-key", "s"])), /--secret-key .*needs --access-key/)
        assert.isUndefined(Either.getOrThrow(yield* parse([])).options.secretKey)
      })
  )

  it.effect(
    "--region and --pricing FILE: the catalog is read and validated; errors name the flag, file and field",
    () =>
      Effect.gen(function* () {
        const london = PricingFixtures.ec2EuWest2
        const dir = mkdtempSync(join(tmpdir(), "ecs-sim-pricing-"))
        try {
          const file = join(dir, "eu-west-2.json")
          writeFileSync(file, JSON.stringify(london))
          const flags = Either.getOrThrow(yield* parse(["--region", "eu-west-2", "--pricing", file]))
          assert.strictEqual(flags.options.region, "eu-west-2")
          assert.deepStrictEqual(flags.options.pricing, london)
          assert.match(
            failure(yield* parse(["--pricing", file])),
            /--pricing .*eu-west-2\.json: .*prices are for eu-west-2, but --region \(default us-east-1\) is us-east-1/
          )
          assert.match(failure(yield* parse(["--region", "London"])), /--region .*"London"/)
          assert.match(
            failure(yield* parse(["--pricing", join(dir, "none.json")])),
            /--pricing .*none\.json: cannot read/
          )
          const broken = JSON.parse(JSON.stringify(london))
          delete broken.prices[0].source
          broken.prices[1].asOf = "20260101"
          broken.prices[2].usd = "-0.12"
          broken.prices[3].usd = "abc"
          writeFileSync(file, JSON.stringify(broken))
          const error = failure(yield* parse(["--region", "eu-west-2", "--pricing", file]))
          for (const path of ["prices.0.source", "prices.1.asOf", "prices.2.usd", "prices.3.usd"])
            assert.include(error, `${path}: `)
          assert.include(error, file)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      })
  )

  it.scoped(
    "--help and -h list every flag and exit 0; --version prints the version; a port in use exits 2",
    () =>
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
            "--access-key",
            "--region",
            "--pricing"
          ])
            assert.include(help.out, name)
        }
        const version = yield* run(["--version"])
        assert.deepStrictEqual([version.code, version.out.trim()], [0, Cli.info.version])
        const port = yield* CommandLine.occupiedPort
        const busy = yield* run(["--port", String(port)])
        assert.deepStrictEqual(
          [busy.code, busy.err],
          [
            2,
            `ecs-sim: port ${port} on 127.0.0.1 is already in use; choose another with --port N (--port 0 picks a free one)`
          ]
        )
      })
  )
})

describe("ecs-sim health and info", () => {
  it("GET /_sim/health and /_sim/info say what runs, its clock, seed, data dir and counts", async () => {
    const sim = await EcsSimulator.make({ seed: 4 })
    try {
      const health = await sim.server.inject({ method: "GET", url: "/_sim/health" })
      assert.deepStrictEqual(health.json(), { status: "ok", name: "ecs-sim", version: Cli.info.version })
      const info = (await sim.server.inject({ method: "GET", url: "/_sim/info" })).json()
      assert.deepStrictEqual(
        [info.name, info.seed, info.dataDir, info.clock.mode, info.counts],
        ["ecs-sim", 4, null, "real", { clusters: 0, tasks: 0, containerInstances: 0, autoScalingGroups: 0 }]
      )
    } finally {
      await sim.close()
    }
  })
})
