/**
 * Runs one task on Fly through FlyProvider, configured from the environment exactly as against Fly itself:
 *   pnpm fly-sim --token demo                      # prints the base URL
 *   pnpm --filter @hangar/provider-fly build
 *   FLY_FLAPS_BASE_URL=http://127.0.0.1:4280 FLY_API_TOKEN=demo node packages/provider-fly/dist/examples/RunTask.js
 */
import { Money } from "@hangar/core"
import { Effect } from "effect"
import * as FlyProvider from "../src/FlyProvider.js"

const program = Effect.gen(function* () {
  const fly = yield* FlyProvider.FlyProvider
  const machines = yield* FlyProvider.FlyMachines
  const session = yield* fly.create({
    taskId: `example-${Date.now()}`,
    repository: "acme/webapp",
    region: "iad",
    size: "dev"
  })
  console.log(`session ${session.id} is ${session.status} in ${session.region}`)
  const result = yield* machines.executeTask(session.id, ["echo", "hello from a Fly machine"])
  console.log(`exit ${result.exitCode}: ${result.stdout.trim()} (${result.durationMs} ms)`)
  const asleep = yield* machines.allowSleep(session.id)
  console.log(`after the task the machine is ${asleep.status}`)
  const tunnel = yield* machines.tunnel(session.id, "/ws")
  console.log(`tunnel endpoint ${tunnel.endpoint}`)
  const usage = yield* fly.usage(session.id)
  console.log(
    `running ${usage.seconds.running.toFixed(1)} s, asleep ${(usage.seconds.suspended + usage.seconds.stopped).toFixed(1)} s, cost so far ${Money.format(usage.costMicroUsd, 6)}`
  )
})

Effect.runPromise(program.pipe(Effect.provide(FlyProvider.layerConfig))).catch((error) => {
  console.error(String(error))
  process.exitCode = 1
})
