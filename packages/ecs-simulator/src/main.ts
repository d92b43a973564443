#!/usr/bin/env node
/** ecs-sim: parses flags and starts the ECS simulator on a port. */
import * as Cli from "./Cli.js"
import * as EcsSimulator from "./EcsSimulator.js"

const flags = (() => {
  try {
    return Cli.parse(process.argv.slice(2))
  } catch (error) {
    console.error((error as Error).message)
    return process.exit(2)
  }
})()
const sim = await EcsSimulator.make(flags.options).catch((error: Error) => {
  console.error(`ecs-sim: ${error.message}`)
  return process.exit(2)
})
const url = await sim.listen({ host: flags.host, port: flags.port })
const pricing = sim.billing().pricing
console.log(
  `ecs-sim listening on ${url} (clock ${flags.clockName}, seed ${flags.seed}${flags.options.dataDir === undefined ? "" : `, data in ${flags.options.dataDir}`})`
)
console.log(
  pricing.note === undefined
    ? `prices: ${pricing.catalogRegion}'s`
    : `prices: ${pricing.catalogRegion}'s, not ${pricing.region}'s (give --pricing FILE for this region's)`
)
console.log(`point the AWS SDK at it: export AWS_ENDPOINT_URL_ECS=${url} AWS_REGION=${pricing.region}`)
console.log(
  `create an Auto Scaling group first: curl -X POST ${url}/_sim/autoscaling-groups -H 'content-type: application/json' -d '{"name":"asg","instanceType":"t3.large","min":1,"max":4,"desired":1}'`
)
const shutdown = () => {
  sim.close().then(() => process.exit(0))
}
process.on("SIGINT", shutdown)
process.on("SIGTERM", shutdown)
