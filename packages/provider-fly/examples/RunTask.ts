/**
 * Runs one task on Fly through FlyProvider, configured from the environment exactly as against Fly itself:
 *   pnpm fly-sim --token demo --port 4391 &
 *   pnpm --filter @hangar/provider-fly build
 *   FLY_FLAPS_BASE_URL=http://127.0.0.1:4391 FLY_API_TOKEN=demo node packages/provider-fly/dist/examples/RunTask.js
 *
 * It creates a session, runs `echo` on the machine, lets it sleep, shows the session's tunnel endpoint and
 * prints what the session cost so far.
 */
import { Money } from "@hangar/core"
import { Effect, type Layer } from "effect"
import * as FlyProvider from "../src/FlyProvider.js"

export interface ExampleOptions {
  /** The plugin (default `FlyProvider.layerConfig`, from the environment); the test gives one over fly-sim. */
  readonly layer?: Layer.Layer<FlyProvider.FlyProvider | FlyProvider.FlyMachines, unknown>
  /** How to run the program (the test: on the simulator's virtual clock). */
  readonly run?: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly print?: (line: string) => void
}

export const main = async (options: ExampleOptions = {}): Promise<ReadonlyArray<string>> => {
  const run = options.run ?? (<A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect))
  const lines: Array<string> = []
  const print = (line: string) => {
    lines.push(line)
    ;(options.print ?? console.log)(line)
  }
  const program = Effect.gen(function* () {
    const fly = yield* FlyProvider.FlyProvider
    const machines = yield* FlyProvider.FlyMachines
    const session = yield* fly.create({
      taskId: `example-${Date.now()}`,
      repository: "acme/webapp",
      region: "iad",
      size: "dev"
    })
    print(`session ${session.id} is ${session.status} in ${session.region}`)
    const result = yield* machines.executeTask(session.id, ["echo", "hello from a Fly machine"])
    print(`exit ${result.exitCode}: ${result.stdout.trim()} (${result.durationMs} ms)`)
    const asleep = yield* machines.allowSleep(session.id)
    print(`after the task the machine is ${asleep.status}`)
    const tunnel = yield* machines.tunnel(session.id, "/ws")
    print(`tunnel endpoint ${tunnel.endpoint}`)
    const usage = yield* fly.usage(session.id)
    print(
      `running ${usage.seconds.running.toFixed(1)} s, asleep ${(usage.seconds.suspended + usage.seconds.stopped).toFixed(1)} s, cost so far ${Money.format(usage.costMicroUsd, 6)}`
    )
  })
  await run(Effect.provide(program, options.layer ?? FlyProvider.layerConfig))
  return lines
}

// Run when executed; a test that imports it calls `main` itself.
if (process.env.VITEST === undefined) {
  main().catch((error) => {
    console.error(String(error))
    process.exitCode = 1
  })
}
