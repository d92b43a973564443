/**
 * provider-fly benchmark (a program): `pnpm --filter @hangar/provider-fly bench`. In one run, over loopback
 * against fly-sim: full session cycles (create → exec → suspend → start → exec → destroy) through FlyProvider,
 * then the same HTTP requests, recorded from those cycles, replayed with plain undici. The provider runs on
 * Node's fetch here (undici underneath) so that its requests can be recorded. Prints both rates and the
 * ratio (target ≥ 0.7: Effect, Schema and leases must not cost more than that).
 */
import { parseArgs } from "node:util"
import { VirtualClock } from "@hangar/core"
import { FlySimulator, Lifecycle } from "@hangar/fly-simulator"
import { Effect, Redacted } from "effect"
import { request } from "undici"
import * as FlyProvider from "../src/FlyProvider.js"

const { values } = parseArgs({ options: { cycles: { type: "string", default: "100" } } })
const cycles = Number(values.cycles)
const token = "bench"
const options = {
  tokens: [{ token }],
  timing: Lifecycle.instantTiming
}
const sim = await FlySimulator.make({ ...options, clock: new VirtualClock.RealClock() })
const base = await sim.listen({ port: 0 })

// Record every request the provider makes (method, URL, body, lease nonce), to replay them.
const recorded: Array<{ method: string; url: string; body: string | undefined; nonce: string | undefined }> =
  []
const recordingFetch: typeof fetch = async (input, init) => {
  const req = new Request(input, init)
  const body = req.body === null ? undefined : await req.clone().text()
  recorded.push({
    method: req.method,
    url: req.url,
    body: body === "" ? undefined : body,
    nonce: req.headers.get("fly-machine-lease-nonce") ?? undefined
  })
  return fetch(req)
}

const program = Effect.gen(function* () {
  const fly = yield* FlyProvider.FlyProvider
  for (let i = 0; i < cycles; i++) {
    const session = yield* fly.create({ taskId: `bench-${i}`, repository: `bench/repo-${i}`, size: "dev" })
    yield* fly.exec(session.id, ["echo", "hi"])
    yield* fly.suspend(session.id)
    yield* fly.start(session.id)
    yield* fly.exec(session.id, ["echo", "again"])
    yield* fly.destroy(session.id)
  }
})
const layer = FlyProvider.layer({
  token: Redacted.make(token),
  baseUrl: base,
  regions: ["iad"],
  autostop: "off",
  fetch: recordingFetch
})
const started = performance.now()
await Effect.runPromise(Effect.provide(program, layer))
const providerSeconds = (performance.now() - started) / 1000
const requests = recorded.length

await sim.close()
// Replay: the same requests, one after another, with plain undici, against a fresh simulator with the same seed
// (so it hands out the same machine ids and lease nonces and does the same work).
const fresh = await FlySimulator.make({ ...options, clock: new VirtualClock.RealClock() })
const freshBase = await fresh.listen({ port: 0 })
const replay = [...recorded]
const replayStarted = performance.now()
for (const r of replay) {
  const response = await request(r.url.replace(base, freshBase), {
    method: r.method as "GET",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(r.nonce === undefined ? {} : { "fly-machine-lease-nonce": r.nonce })
    },
    ...(r.body === undefined ? {} : { body: r.body })
  })
  await response.body.text()
}
const replaySeconds = (performance.now() - replayStarted) / 1000
await fresh.close()
const providerRate = requests / providerSeconds
const replayRate = requests / replaySeconds
console.log(
  `${cycles} session cycles, ${requests} requests: FlyProvider ${providerRate.toFixed(0)} req/s (${((providerSeconds * 1000) / cycles).toFixed(1)} ms/cycle), plain undici replay ${replayRate.toFixed(0)} req/s, ratio ${(providerRate / replayRate).toFixed(2)} (target ≥ 0.7)`
)
