/**
 * provider-fly benchmark (a program): `pnpm --filter @hangar/provider-fly bench`. In one run, over loopback
 * against fly-sim: full session cycles (create → exec → suspend → start → exec → destroy) through FlyProvider,
 * then the same HTTP requests, recorded from those cycles, replayed one after another with plain undici against a
 * second simulator with the same seed (same machine ids, lease nonces and work). The provider runs on its
 * production transport (BufferedHttpClient; `--transport node` runs it over @effect/platform-node's
 * `NodeHttpClient.layerUndici` instead, for comparison), its requests recorded as they leave it. Both sides
 * first run `--warmup` cycles untimed (JIT, connection pools); then rounds alternate between a batch through the
 * provider and its replay, so that load from other processes falls on both alike. Prints both rates, the ratio
 * and the median ratio of the rounds (target ≥ 0.7: Effect, Schema and leases must not cost more than that).
 */
import { parseArgs } from "node:util"
import { HttpClient, type HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { VirtualClock } from "@hangar/core"
import { FlySimulator, Lifecycle } from "@hangar/fly-simulator"
import { Effect, Layer, Redacted } from "effect"
import { request } from "undici"
import * as BufferedHttpClient from "../src/BufferedHttpClient.js"
import * as FlyProvider from "../src/FlyProvider.js"

const { values } = parseArgs({
  options: {
    cycles: { type: "string", default: "300" },
    warmup: { type: "string", default: "100" },
    transport: { type: "string", default: "undici" }
  }
})
if (values.transport !== "undici" && values.transport !== "node") {
  console.error(`--transport: expected undici or node, got ${values.transport}`)
  process.exit(2)
}
const cycles = Number(values.cycles)
const warmup = Number(values.warmup)
const token = "bench"
// Rate limits off: this measures what the client costs per request, not how long Fly's limits make it wait
// (with them on, the provider's 429 retries wait real seconds that a replay of the same requests would not).
const options = {
  tokens: [{ token }],
  timing: Lifecycle.instantTiming,
  rateLimits: false
}
const sim = await FlySimulator.make({ ...options, clock: new VirtualClock.RealClock() })
const base = await sim.listen({ port: 0 })

interface Recorded {
  readonly method: string
  readonly path: string
  readonly body: string | undefined
  readonly nonce: string | undefined
}
const recorded: Array<Recorded> = []
const decoder = new TextDecoder()
const record = (request: HttpClientRequest.HttpClientRequest) => {
  recorded.push({
    method: request.method,
    path: request.url.slice(base.length),
    body: request.body._tag === "Uint8Array" ? decoder.decode(request.body.body) : undefined,
    nonce: request.headers["fly-machine-lease-nonce"]
  })
}
// Requests are recorded as they leave the provider: under the transport for the production client (a wrapped
// client is a different client, which FlyClient would treat as the platform's), around the platform's client.
const recordingClient =
  values.transport === "node"
    ? Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) =>
          HttpClient.tapRequest(client, (request) => Effect.sync(() => record(request)))
        )
      ).pipe(Layer.provide(NodeHttpClient.layerUndici))
    : BufferedHttpClient.layerUndiciThrough((send) => (request, url, signal) => {
        record(request)
        return send(request, url, signal)
      })

const cycle = (fly: FlyProvider.FlyProvider["Type"], i: number) =>
  Effect.gen(function* () {
    const session = yield* fly.create({ taskId: `bench-${i}`, repository: `bench/repo-${i}`, size: "dev" })
    yield* fly.exec(session.id, ["echo", "hi"])
    yield* fly.suspend(session.id)
    yield* fly.start(session.id)
    yield* fly.exec(session.id, ["echo", "again"])
    yield* fly.destroy(session.id)
  })

// The replay's simulator: the same seed, fed the same requests in the same order, so it stays in lock-step.
const fresh = await FlySimulator.make({ ...options, clock: new VirtualClock.RealClock() })
const freshBase = await fresh.listen({ port: 0 })
const failures: Array<string> = []
const send = async (r: Recorded) => {
  const response = await request(`${freshBase}${r.path}`, {
    method: r.method as "GET",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(r.nonce === undefined ? {} : { "fly-machine-lease-nonce": r.nonce })
    },
    ...(r.body === undefined ? {} : { body: r.body })
  })
  await response.body.text()
  if (response.statusCode >= 300) failures.push(`${response.statusCode} ${r.method} ${r.path}`)
}
/** Replays what the provider sent since `from`; returns the milliseconds it took. */
const replay = async (from: number) => {
  const started = performance.now()
  for (const r of recorded.slice(from)) await send(r)
  return performance.now() - started
}

// Rounds of 10 cycles alternate: a batch of cycles through the provider, then the same requests replayed, so that
// load from other processes on the machine falls on both sides alike. The first round is the untimed warm-up, long
// enough for the JIT to settle (after 20 warm-up cycles, the first timed rounds still came out lower).
const perRound = 10
const rounds = Math.max(1, Math.round(cycles / perRound))
let providerMillis = 0
let replayMillis = 0
let firstTimed = 0
const ratios: Array<number> = []
await Effect.runPromise(
  Effect.gen(function* () {
    const fly = yield* FlyProvider.FlyProvider
    let i = 0
    for (let round = 0; round <= rounds; round++) {
      const from = recorded.length
      const n = round === 0 ? warmup : perRound
      const started = performance.now()
      for (let k = 0; k < n; k++) yield* cycle(fly, i++)
      const provider = performance.now() - started
      const replayed = yield* Effect.promise(() => replay(from))
      if (round === 0) {
        firstTimed = recorded.length
        continue
      }
      providerMillis += provider
      replayMillis += replayed
      ratios.push(replayed / provider)
    }
  }).pipe(
    Effect.provide(
      FlyProvider.layer({
        token: Redacted.make(token),
        baseUrl: base,
        regions: ["iad"],
        autostop: "off",
        httpClient: recordingClient
      })
    )
  )
)
await sim.close()
await fresh.close()
const timedCycles = rounds * perRound
ratios.sort((a, b) => a - b)
const median = ratios[Math.floor(ratios.length / 2)]!

const requests = recorded.length - firstTimed
const providerRate = (requests * 1000) / providerMillis
const replayRate = (requests * 1000) / replayMillis
// The provider's own answers that were not 2xx are replayed too (a GET of an app before it exists, say).
const expected = failures.filter((f) => !/^404 GET \/v1\/apps\/[^/]+$/.test(f))
if (expected.length > 0) console.log(`replay diverged: ${expected.slice(0, 5).join("; ")}`)
console.log(
  `transport ${values.transport}: ${timedCycles} session cycles in ${rounds} alternating rounds (after ${warmup} warm-up), ${requests} requests: FlyProvider ${providerRate.toFixed(0)} req/s (${(providerMillis / timedCycles).toFixed(1)} ms/cycle), plain undici replay ${replayRate.toFixed(0)} req/s (${(replayMillis / timedCycles).toFixed(1)} ms/cycle), ratio ${(providerRate / replayRate).toFixed(2)}, median of rounds ${median.toFixed(2)} [${ratios[0]!.toFixed(2)}–${ratios[ratios.length - 1]!.toFixed(2)}] (target ≥ 0.7)`
)
