import { createServer } from "node:net"
import { Command, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { SimulatorCli } from "../src/simulation/index.js"
import { CommandLine } from "../src/testing/index.js"

const options = Options.all({
  shared: SimulatorCli.shared(4280),
  token: Options.text("token").pipe(Options.repeated)
})
const parse = (args: ReadonlyArray<string>) =>
  SimulatorCli.parse("sim", options, args).pipe(Effect.either, Effect.provide(NodeContext.layer))

describe("SimulatorCli", () => {
  it.effect("parses the shared flags and a simulator's own", () =>
    Effect.gen(function* () {
      const parsed = yield* parse([
        "--port",
        "0",
        "--seed",
        "7",
        "--clock",
        "virtual",
        "--token",
        "a",
        "--token",
        "b"
      ])
      assert.isTrue(Either.isRight(parsed))
      const { shared, token } = Either.getOrThrow(parsed)
      assert.deepStrictEqual(
        [
          shared.host,
          shared.port,
          shared.seed,
          shared.clockName,
          shared.clock.mode,
          shared.exec.kind,
          shared.dataDir
        ],
        ["127.0.0.1", 0, 7, "virtual", "virtual", "scripted", undefined]
      )
      assert.deepStrictEqual(token, ["a", "b"])
      const defaults = Either.getOrThrow(yield* parse([]))
      assert.deepStrictEqual([defaults.shared.port, defaults.shared.clockName], [4280, "real"])
    })
  )

  it.effect("names the bad flag and what it expects", () =>
    Effect.gen(function* () {
      const message = (either: Either.Either<unknown, string>) =>
        Either.isLeft(either) ? either.left : "parsed"
      assert.match(message(yield* parse(["--port", "99999"])), /--port must be 0-65535/)
      assert.match(
        message(yield* parse(["--port", "x"])),
        /--port must be 0-65535 \(0 picks a free port\), got x/
      )
      assert.match(message(yield* parse(["--seed", "1.5"])), /--seed must be an integer, got 1.5/)
      assert.match(
        message(yield* parse(["--clock", "sundial"])),
        /--clock must be real or virtual, got sundial/
      )
      assert.match(message(yield* parse(["--exec", "shell"])), /--exec must be scripted or process/)
      assert.match(message(yield* parse(["--data-dir", ""])), /--data-dir needs a directory/)
      assert.match(message(yield* parse(["--colour", "blue"])), /colour/)
    })
  )

  it.effect("run answers 0 for --help, -h and --version and 2 for a usage error", () =>
    Effect.gen(function* () {
      const command = Command.make("sim", { options }, () => Effect.void)
      const run = SimulatorCli.run(command, { name: "sim", version: "9.9.9", summary: "a simulator" })
      const codes = yield* Effect.forEach(
        [["--help"], ["-h"], ["--version"], ["--bogus"], ["--port", "x"]],
        run
      )
      assert.deepStrictEqual(codes, [0, 0, 0, 2, 2])
      const failing = Command.make("sim", { options }, () =>
        Effect.fail(new SimulatorCli.UsageError({ message: "--fault is not JSON" }))
      )
      assert.strictEqual(yield* SimulatorCli.run(failing, { name: "sim", version: "1", summary: "s" })([]), 2)
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.scoped("listen names a port in use and how to choose another", () =>
    Effect.gen(function* () {
      const port = yield* CommandLine.occupiedPort
      const second = createServer()
      const result = yield* SimulatorCli.listen(
        () =>
          new Promise<string>((resolve, reject) => {
            second.once("error", reject)
            second.listen(port, "127.0.0.1", () => resolve("listening"))
          }),
        { host: "127.0.0.1", port }
      ).pipe(Effect.either)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result))
        assert.strictEqual(
          result.left.message,
          `port ${port} on 127.0.0.1 is already in use; choose another with --port N (--port 0 picks a free one)`
        )
    })
  )
})
