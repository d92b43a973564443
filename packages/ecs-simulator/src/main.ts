#!/usr/bin/env node
/** ecs-sim: parses flags and starts the ECS simulator on a port. */
import { parseArgs } from "node:util"
import { ExecBackend, VirtualClock } from "@hangar/core"
import * as EcsSimulator from "./EcsSimulator.js"

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "4281" },
    seed: { type: "string", default: "1" },
    clock: { type: "string", default: "real" },
    exec: { type: "string", default: "scripted" },
    "access-key": { type: "string", multiple: true }
  },
  strict: true
})
const fail = (message: string): never => {
  console.error(`ecs-sim: ${message}`)
  process.exit(2)
}
const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, got ${values.port}`)
const seed = Number(values.seed)
if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`)
if (values.clock !== "real" && values.clock !== "virtual")
  fail(`--clock must be real or virtual, got ${values.clock}`)
if (values.exec !== "scripted" && values.exec !== "process")
  fail(`--exec must be scripted or process, got ${values.exec}`)

const sim = await EcsSimulator.make({
  clock: values.clock === "virtual" ? new VirtualClock.VirtualClock() : new VirtualClock.RealClock(),
  seed,
  exec: values.exec === "process" ? ExecBackend.processBackend() : ExecBackend.scripted(),
  ...(values["access-key"] === undefined ? {} : { accessKeys: values["access-key"] })
})
const url = await sim.listen({ host: values.host ?? "127.0.0.1", port })
console.log(`ecs-sim listening on ${url} (clock ${values.clock}, seed ${seed})`)
console.log(`point the AWS SDK at it: export AWS_ENDPOINT_URL_ECS=${url} AWS_REGION=us-east-1`)
console.log(
  `create an Auto Scaling group first: curl -X POST ${url}/_sim/autoscaling-groups -H 'content-type: application/json' -d '{"name":"asg","instanceType":"t3.large","min":1,"max":4,"desired":1}'`
)
const shutdown = () => {
  sim.close().then(() => process.exit(0))
}
process.on("SIGINT", shutdown)
process.on("SIGTERM", shutdown)
