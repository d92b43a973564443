#!/usr/bin/env node
/** fly-sim: parses flags and starts the simulator on a port. */
import { SimulatorFlags } from "@hangar/core"
import * as FlySimulator from "./FlySimulator.js"

const flags = (() => {
  try {
    return SimulatorFlags.parse("fly-sim", 4280, "token")
  } catch (error) {
    console.error((error as Error).message)
    return process.exit(2)
  }
})()
const sim = await FlySimulator.make({
  clock: flags.clock,
  seed: flags.seed,
  exec: flags.exec,
  ...(flags.extra === undefined ? {} : { tokens: flags.extra.map((token) => ({ token })) })
})
const url = await sim.listen({ host: flags.host, port: flags.port })
console.log(`fly-sim listening on ${url} (clock ${flags.clockName}, seed ${flags.seed})`)
if (flags.extra === undefined) console.log(`development token: ${sim.tokens[0]}`)
console.log(`point clients at it: export FLY_FLAPS_BASE_URL=${url} FLY_API_TOKEN=<token>`)
const shutdown = () => {
  sim.close().then(() => process.exit(0))
}
process.on("SIGINT", shutdown)
process.on("SIGTERM", shutdown)
