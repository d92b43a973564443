#!/usr/bin/env node
/** fly-sim: parses flags and starts the simulator on a port. */
import * as Cli from "./Cli.js"
import * as FlySimulator from "./FlySimulator.js"

const flags = (() => {
  try {
    return Cli.parse(process.argv.slice(2))
  } catch (error) {
    console.error((error as Error).message)
    return process.exit(2)
  }
})()
const sim = await FlySimulator.make(flags.options)
const url = await sim.listen({ host: flags.host, port: flags.port })
console.log(
  `fly-sim listening on ${url} (clock ${flags.clockName}, seed ${flags.seed}${flags.options.dataDir === undefined ? "" : `, data in ${flags.options.dataDir}`})`
)
if (flags.generatedToken) console.log(`development token: ${sim.tokens[0]}`)
console.log(`point clients at it: export FLY_FLAPS_BASE_URL=${url} FLY_API_TOKEN=<token>`)
console.log(`apps answer at ${url}/_proxy/<app>/ or with the header Host: <app>.fly.dev`)
let closing = false
const shutdown = () => {
  if (closing) return
  closing = true
  sim.close().then(
    () => process.exit(0),
    (error: Error) => {
      console.error(`fly-sim: ${error.message}`)
      process.exit(1)
    }
  )
}
process.on("SIGINT", shutdown)
process.on("SIGTERM", shutdown)
