#!/usr/bin/env node
/** fly-sim: parses flags and starts the simulator on a port. */
import { parseArgs } from "node:util"
import { ExecBackend, VirtualClock } from "@hangar/core"
import * as FlySimulator from "./FlySimulator.js"

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "4280" },
    seed: { type: "string", default: "1" },
    clock: { type: "string", default: "real" },
    exec: { type: "string", default: "scripted" },
    token: { type: "string", multiple: true }
  },
  strict: true
})

const fail = (message: string): never => {
  console.error(`fly-sim: ${message}`)
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

const sim = await FlySimulator.make({
  clock: values.clock === "virtual" ? new VirtualClock.VirtualClock() : new VirtualClock.RealClock(),
  seed,
  exec: values.exec === "process" ? ExecBackend.processBackend() : ExecBackend.scripted(),
  ...(values.token === undefined ? {} : { tokens: values.token.map((token) => ({ token })) })
})
const url = await sim.listen({ host: values.host ?? "127.0.0.1", port })
console.log(`fly-sim listening on ${url} (clock ${values.clock}, seed ${seed})`)
if (values.token === undefined) console.log(`development token: ${sim.tokens[0]}`)
console.log(`point clients at it: export FLY_FLAPS_BASE_URL=${url} FLY_API_TOKEN=<token>`)
const shutdown = () => {
  sim.close().then(() => process.exit(0))
}
process.on("SIGINT", shutdown)
process.on("SIGTERM", shutdown)
