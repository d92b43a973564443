import { HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ComputeProvider, VirtualClock } from "@hangar/core"
import { Conformance } from "@hangar/core/testing"
import { FlySimulator } from "@hangar/fly-simulator"
import { Cause, Effect, Either, Layer, Logger, LogLevel, Redacted, Ref, Schema, Tracer } from "effect"
import * as BufferedHttpClient from "../src/BufferedHttpClient.js"
import * as FlyClient from "../src/FlyClient.js"
import * as FlyProvider from "../src/FlyProvider.js"

const secret = "fly-token-do-not-leak"

/** The provider on an in-process simulator, on a virtual clock, with its conformance time control. */
const onSimulator = (seed = 1, sim?: FlySimulator.Simulator) =>
  Layer.unwrapEffect(
    Effect.promise(async () => {
      const clock =
        (sim?.clock as VirtualClock.VirtualClock | undefined) ??
        new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
      const simulator = sim ?? (await FlySimulator.make({ clock, seed, tokens: [{ token: secret }] }))
      const provider = FlyProvider.layer({
        token: Redacted.make(secret),
        baseUrl: "http://fly-sim.internal",
        fetch: simulator.fetch,
        clock,
        regions: ["iad", "lhr", "syd"],
        autostop: "off"
      })
      return Layer.merge(
        Layer.effect(Conformance.ProviderUnderTest, FlyProvider.FlyProvider).pipe(Layer.provide(provider)),
        Conformance.layerFromTime({
          drive: (effect) => VirtualClock.drive(clock, effect),
          advance: (millis) => Effect.promise(() => clock.advanceBy(millis))
        })
      )
    })
  )

Conformance.providerConformance("fly", onSimulator(), {
  task: { repository: "conformance/web", region: "iad", size: "dev" }
})

describe("FlyClient", () => {
  const capture = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<ReadonlyArray<{ url: string; headers: Record<string, string> }>>([])
      const http = HttpClient.make((request) =>
        Effect.zipRight(
          Ref.update(seen, (all) => [...all, { url: request.url, headers: { ...request.headers } }]),
          Effect.succeed(
            HttpClientResponse.fromWeb(
              request,
              new Response(JSON.stringify(body), {
                status,
                headers: { "content-type": "application/json", ...headers }
              })
            )
          )
        )
      )
      const client = yield* FlyClient.make({
        baseUrl: "https://api.machines.dev",
        token: Redacted.make(secret),
        retry: { maxRetries: 0, baseDelay: "0 millis" }
      }).pipe(Effect.provideService(HttpClient.HttpClient, http))
      return { client, seen }
    })

  it.effect(
    "sends no trace headers: a platform client is asked not to, the default transport adds none",
    () =>
      Effect.gen(function* () {
        const { client, seen } = yield* capture(200, { ok: true })
        yield* client.request("GET", "/apps/a", Schema.Unknown).pipe(Effect.withSpan("caller"))
        const [request] = yield* Ref.get(seen)
        assert.isDefined(request)
        assert.notProperty(request?.headers, "traceparent")
        assert.notProperty(request?.headers, "b3")

        const sent: Array<Record<string, string>> = []
        const buffered = BufferedHttpClient.make(async (r) => {
          sent.push({ ...r.headers })
          return {
            status: 200,
            headers: { "content-type": "application/json" },
            body: new TextEncoder().encode("{}")
          }
        })
        assert.isTrue(BufferedHttpClient.makesNoSpans(buffered))
        // A transformed client is another client: FlyClient treats it as one that may trace.
        assert.isFalse(BufferedHttpClient.makesNoSpans(HttpClient.tapRequest(buffered, () => Effect.void)))
        const direct = yield* FlyClient.make({
          baseUrl: "https://api.machines.dev",
          token: Redacted.make(secret)
        }).pipe(Effect.provideService(HttpClient.HttpClient, buffered))
        yield* direct.request("GET", "/apps/a", Schema.Unknown).pipe(Effect.withSpan("caller"))
        assert.strictEqual(sent.length, 1)
        assert.notProperty(sent[0], "traceparent")
        assert.notProperty(sent[0], "b3")
      })
  )

  it.effect("makes one ended span per request, named by method, a child of the caller's span", () =>
    Effect.gen(function* () {
      const { client } = yield* capture(200, { ok: true })
      const spans: Array<Tracer.Span> = []
      const native = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: native.context
      })
      yield* client
        .request("GET", "/apps/a", Schema.Unknown)
        .pipe(Effect.withSpan("caller"), Effect.withTracer(tracer))
      const [caller, request] = [
        spans.find((s) => s.name === "caller"),
        spans.find((s) => s.name !== "caller")
      ]
      assert.strictEqual(spans.length, 2)
      assert.strictEqual(request?.name, "FlyClient.GET")
      assert.strictEqual(request?.attributes.get("path"), "/apps/a")
      assert.strictEqual(
        request?.parent._tag === "Some" ? request.parent.value.spanId : undefined,
        caller?.spanId
      )
      assert.strictEqual(request?.status._tag, "Ended")
    })
  )

  it.effect("sends the bearer token, the lease nonce and the /v1 path", () =>
    Effect.gen(function* () {
      const { client, seen } = yield* capture(200, { ok: true })
      yield* client
        .request("POST", "/apps/a/machines/0123456789abcd/stop", Schema.Unknown, { nonce: "abc123" })
        .pipe(Effect.ignore)
      const [request] = yield* Ref.get(seen)
      assert.strictEqual(request?.url, "https://api.machines.dev/v1/apps/a/machines/0123456789abcd/stop")
      assert.strictEqual(request?.headers.authorization, `Bearer ${secret}`)
      assert.strictEqual(request?.headers["fly-machine-lease-nonce"], "abc123")
    })
  )

  it.effect("a GET that met a 5xx is sent again by itself; a POST is left to the operation", () =>
    Effect.gen(function* () {
      const answers = [503, 200, 503, 200]
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const http = HttpClient.make((request) =>
        Effect.zipRight(
          Ref.update(seen, (all) => [...all, request.method]),
          Effect.sync(() =>
            HttpClientResponse.fromWeb(
              request,
              new Response(JSON.stringify({ ok: true, error: "unavailable" }), {
                status: answers.shift() ?? 200,
                headers: { "content-type": "application/json" }
              })
            )
          )
        )
      )
      const client = yield* FlyClient.make({
        baseUrl: "https://api.machines.dev",
        token: Redacted.make(secret),
        retry: { maxRetries: 2, baseDelay: "0 millis" }
      }).pipe(Effect.provideService(HttpClient.HttpClient, http))
      yield* client.request("GET", "/apps/a", Schema.Unknown)
      const post = yield* Effect.flip(client.request("POST", "/apps/a/machines", Schema.Unknown))
      assert.strictEqual(post._tag, "ProviderUnavailable")
      assert.deepStrictEqual(yield* Ref.get(seen), ["GET", "GET", "POST"])
    })
  )

  it.effect("a transport failure that echoes the token: the token is in neither the error nor the logs", () =>
    Effect.gen(function* () {
      const logged: Array<string> = []
      const logger = Logger.make(({ message, cause }) => {
        logged.push(`${JSON.stringify(message)} ${Cause.pretty(cause)}`)
      })
      const http = HttpClient.make((request) =>
        Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            description: `proxy refused "authorization: Bearer ${secret}"`
          })
        )
      )
      const fly = yield* Effect.provide(
        FlyProvider.FlyProvider,
        FlyProvider.layer({
          token: Redacted.make(secret),
          httpClient: Layer.succeed(HttpClient.HttpClient, http),
          retry: { maxRetries: 1, baseDelay: "0 millis" }
        })
      )
      const error = yield* Effect.flip(fly.get("hangar-acme-web/0123456789abcd"))
      yield* Effect.logError("get failed", error).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      assert.strictEqual(error._tag, "ProviderUnavailable")
      assert.include(error.message, "<redacted>")
      assert.notInclude(error.message, secret)
      assert.notInclude(JSON.stringify(error), secret)
      assert.isAbove(logged.length, 0)
      for (const line of logged) assert.notInclude(line, secret)
    })
  )

  for (const [status, body, headers, tag] of [
    [401, { error: "unauthorized" }, {}, "Unauthorized"],
    [404, { error: "machine not found" }, {}, "SessionNotFound"],
    [412, { error: "insufficient resources available to fulfill request" }, {}, "CapacityUnavailable"],
    [409, { error: "insufficient memory available to fulfill request" }, {}, "CapacityUnavailable"],
    [429, { error: "rate limited" }, { "retry-after": "3" }, "RateLimited"],
    [408, { error: "deadline_exceeded" }, {}, "Timeout"],
    [503, { error: "unavailable" }, {}, "ProviderUnavailable"],
    [400, { error: "invalid_argument: body.size_gb: Expected number" }, {}, "InvalidRequest"]
  ] as const) {
    it.effect(`maps ${status} to ${tag}, and the token never appears in the error`, () =>
      Effect.gen(function* () {
        const { client } = yield* capture(status, body, headers)
        const result = yield* Effect.either(client.request("GET", "/apps/a", Schema.Unknown))
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, tag)
          assert.notInclude(JSON.stringify(result.left), secret)
          assert.notInclude(result.left.message, secret)
          if (result.left._tag === "RateLimited") assert.strictEqual(result.left.retryAfterMillis, 3000)
          if (result.left._tag === "InvalidRequest") assert.strictEqual(result.left.field, "body.size_gb")
        }
      })
    )
  }
})

describe("FlyProvider on the simulator", () => {
  it.effect("one machine per repository and region, reused and woken; cost equals the simulator's bill", () =>
    Effect.gen(function* () {
      const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
      const sim = yield* Effect.promise(() =>
        FlySimulator.make({ clock, seed: 3, tokens: [{ token: secret }] })
      )
      const provider = yield* Effect.provide(Conformance.ProviderUnderTest, onSimulator(3, sim))
      const drive = <A, E>(e: Effect.Effect<A, E>) => VirtualClock.drive(clock, e)
      const a = yield* drive(
        provider.create({ taskId: "t1", repository: "acme/web", region: "lhr", size: "standard" })
      )
      const b = yield* drive(
        provider.create({ taskId: "t2", repository: "acme/web", region: "lhr", size: "standard" })
      )
      const c = yield* drive(
        provider.create({ taskId: "t3", repository: "acme/web", region: "syd", size: "standard" })
      )
      assert.strictEqual(a.id, b.id)
      assert.notStrictEqual(a.id, c.id)
      assert.strictEqual(a.metadata.app, "hangar-acme-web")
      const result = yield* drive(provider.exec(a.id, ["work", "120"]))
      assert.strictEqual(result.exitCode, 0)
      assert.isAtLeast(result.durationMs, 120_000)
      yield* drive(provider.sleep(a.id))
      yield* Effect.promise(() => clock.advanceBy(3_600_000))
      const again = yield* drive(provider.start(a.id))
      assert.strictEqual(again.status, "running")
      yield* drive(provider.stop(a.id))
      yield* drive(provider.stop(c.id))
      yield* Effect.promise(() => clock.advanceBy(600_000))
      const usage = yield* drive(Effect.all([provider.usage(a.id), provider.usage(c.id)]))
      const bill = sim.billing()
      const machineTotal = Object.values(bill.byMachine).reduce((x, y) => x + y, 0)
      assert.strictEqual(usage[0].costMicroUsd + usage[1].costMicroUsd, machineTotal)
      assert.isAbove(usage[0].seconds.suspended, 3_500)
      const unknownRegion = yield* Effect.flip(
        drive(provider.create({ taskId: "t4", repository: "acme/web", region: "ord" }))
      )
      assert.strictEqual(unknownRegion._tag, "InvalidRequest")
      assert.include(unknownRegion.message, "iad, lhr, syd")
    })
  )

  it.effect("a capacity error from Fly is CapacityUnavailable, a 429 is retried until it passes", () =>
    Effect.gen(function* () {
      const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
      const sim = yield* Effect.promise(() =>
        FlySimulator.make({ clock, seed: 4, tokens: [{ token: secret }] })
      )
      const provider = yield* Effect.provide(Conformance.ProviderUnderTest, onSimulator(4, sim))
      sim.faults.add({
        match: "^POST /v1/apps$",
        status: 429,
        error: "rate limited",
        retryAfterSeconds: 2,
        times: 2,
        probability: 1
      })
      const session = yield* VirtualClock.drive(
        clock,
        provider.create({ taskId: "r1", repository: "acme/api", region: "iad" })
      )
      assert.strictEqual(session.status, "running")
      sim.faults.add({
        match: "^POST /v1/apps/[^/]+/machines$",
        region: "syd",
        status: 412,
        error: "insufficient resources available to fulfill request",
        probability: 1
      })
      const full = yield* Effect.flip(
        VirtualClock.drive(clock, provider.create({ taskId: "r2", repository: "acme/api", region: "syd" }))
      )
      assert.strictEqual(full._tag, "CapacityUnavailable")
    })
  )
})

describe("autostop under a Hangar idle policy", () => {
  it.effect(
    "a machine created while Hangar manages sleep has Fly's autostop off; otherwise the configured autostop",
    () =>
      Effect.gen(function* () {
        const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
        const sim = yield* Effect.promise(() =>
          FlySimulator.make({ clock, seed: 9, tokens: [{ token: secret }] })
        )
        const fly = yield* Effect.provide(
          FlyProvider.FlyProvider,
          FlyProvider.layer({
            token: Redacted.make(secret),
            baseUrl: "http://fly-sim.internal",
            fetch: sim.fetch,
            clock,
            regions: ["iad"],
            autostop: "suspend"
          })
        )
        const managed = yield* VirtualClock.drive(
          clock,
          fly
            .create({ taskId: "m1", repository: "acme/managed" })
            .pipe(Effect.locally(ComputeProvider.sleepManagedByHangar, true))
        )
        const platform = yield* VirtualClock.drive(
          clock,
          fly.create({ taskId: "p1", repository: "acme/platform" })
        )
        const autostop = (id: string) =>
          (
            sim.model.machines.get(id.split("/")[1]!)!.config as unknown as {
              services: Array<{ autostop: unknown }>
            }
          ).services[0]!.autostop
        assert.strictEqual(autostop(managed.id), false)
        assert.strictEqual(autostop(platform.id), "suspend")
      })
  )
})
