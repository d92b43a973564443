import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { ExecBackend } from "@hangar/core/simulation"
import * as FlySimulator from "../src/FlySimulator.js"
import * as Auth from "../src/http/Auth.js"

const token = "auth-test-token"
const scoped = "scoped-to-other"
const bearer = { authorization: `Bearer ${token}` }

/** Sends one raw HTTP/1.1 request (any request target) to 127.0.0.1 and answers the status code and body. */
const raw = (port: number, requestLine: string, headers: Record<string, string> = {}, body = "") =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      const lines = [
        requestLine,
        "Host: 127.0.0.1",
        "Connection: close",
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        ...(body.length > 0 ? [`Content-Length: ${Buffer.byteLength(body)}`] : [])
      ]
      socket.write(`${lines.join("\r\n")}\r\n\r\n${body}`)
    })
    let text = ""
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8")
    })
    socket.on("error", reject)
    socket.on("end", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "0")
      resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4) })
    })
  })

/** Fills a route pattern's parameters with ids that exist, so a route would act if it were reached. */
const fill = (url: string, ids: { app: string; machine: string; volume: string }) =>
  url
    .replace(":app", ids.app)
    .replace(/volumes\/:id/, `volumes/${ids.volume}`)
    .replace(":id", ids.machine)
    .replace(":key", "role")
    .replace("*", "x")

describe("authentication on the matched route", () => {
  it("every /v1 and /_sim route answers 401 without a token, with a wrong one, and /v1 app routes out of scope", async () => {
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const sim = await FlySimulator.make({
      clock,
      tokens: [{ token }, { token: scoped, apps: ["other"] }],
      rateLimits: false
    })
    const inject = (method: string, url: string, headers: Record<string, string> = {}, payload?: unknown) =>
      VirtualClock.runToCompletion(
        clock,
        sim.server.inject({
          method: method as "GET",
          url,
          headers: { "content-type": "application/json", ...headers },
          ...(payload === undefined ? {} : { payload: payload as object })
        })
      )
    await inject("POST", "/v1/apps", bearer, { app_name: "probe" })
    const machine = (
      await inject("POST", "/v1/apps/probe/machines", bearer, { config: { image: "i" }, skip_launch: true })
    ).json() as { id: string }
    const volume = (
      await inject("POST", "/v1/apps/probe/volumes", bearer, { name: "v", region: "iad" })
    ).json() as { id: string }
    const ids = { app: "probe", machine: machine.id, volume: volume.id }
    // Every route of the API and the control plane, but the health check, which is public by design.
    const guarded = sim.routes.filter(
      (r) =>
        (r.url.startsWith("/v1") || r.url.startsWith("/_sim")) &&
        r.method !== "HEAD" &&
        r.url !== "/_sim/health"
    )
    assert.isAtLeast(guarded.length, 40)
    const before = JSON.stringify(sim.model.machines.get(machine.id)?.metadata)
    let probes = 0
    for (const route of guarded) {
      const url = fill(route.url, ids)
      const body = { value: "x", config: { image: "i" }, app_name: "nope", millis: 1000, match: "*" }
      for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${token}x` }]) {
        const response = await inject(route.method, url, headers, body)
        probes++
        assert.strictEqual(response.statusCode, 401, `${route.method} ${url} ${JSON.stringify(headers)}`)
      }
      if (route.url.startsWith("/v1/apps/:app")) {
        const response = await inject(route.method, url, { authorization: `Bearer ${scoped}` }, body)
        probes++
        assert.strictEqual(response.statusCode, 401, `${route.method} ${url} out of scope`)
      }
    }
    assert.isAtLeast(probes, 150)
    assert.strictEqual((await inject("GET", "/_sim/health", {})).statusCode, 200)
    // Nothing acted: same apps, the machine not destroyed nor its metadata touched, no fault rule, clock still.
    assert.deepStrictEqual([...sim.model.apps.keys()], ["probe"])
    assert.strictEqual(sim.model.machines.get(machine.id)?.state, "created")
    assert.strictEqual(JSON.stringify(sim.model.machines.get(machine.id)?.metadata), before)
    assert.strictEqual(sim.faults.list().length, 0)
    assert.strictEqual(clock.now(), Date.UTC(2026, 0, 1))
    // The control plane takes any configured token, scoped or not.
    assert.strictEqual(
      (await inject("GET", "/_sim/clock", { authorization: `Bearer ${scoped}` })).statusCode,
      200
    )
    assert.strictEqual((await inject("GET", "/_sim/state", bearer)).statusCode, 200)
    await sim.close()
  })

  it("no spelling of a path reaches an API handler without a token (percent-encoding, absolute form, dot segments, proxy)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "fly-sim-auth-"))
    const sim = await FlySimulator.make({
      clock: new VirtualClock.RealClock(),
      tokens: [{ token }],
      rateLimits: false,
      exec: ExecBackend.processBackend(),
      dataDir,
      timing: { create: 1, firstImagePull: 1, bootFromStopped: 1 }
    })
    try {
      const url = await sim.listen({ host: "127.0.0.1", port: 0 })
      const port = Number(new URL(url).port)
      const json = { "Content-Type": "application/json" }
      const authorised = await raw(
        port,
        "POST /v1/apps HTTP/1.1",
        { ...json, ...bearer },
        '{"app_name":"host"}'
      )
      assert.strictEqual(authorised.status, 201)
      const created = await raw(
        port,
        "POST /v1/apps/host/machines HTTP/1.1",
        { ...json, ...bearer },
        JSON.stringify({ config: { image: "i", services: [{ internal_port: 80 }] } })
      )
      const id = (JSON.parse(created.body) as { id: string }).id
      const waited = await raw(port, `GET /v1/apps/host/machines/${id}/wait?state=started HTTP/1.1`, bearer)
      assert.strictEqual(waited.status, 200)
      const marker = join(sim.workspaceRoot!, "machines", id, "rootfs", "pwned")
      const exec = JSON.stringify({ command: ["touch", "pwned"] })
      // The same command with the token works, so the probes below would leave the marker if they got through.
      const proof = join(sim.workspaceRoot!, "machines", id, "rootfs", "proof")
      const allowed = await raw(
        port,
        `POST /v1/apps/host/machines/${id}/exec HTTP/1.1`,
        { ...json, ...bearer },
        JSON.stringify({ command: ["touch", "proof"] })
      )
      assert.strictEqual(allowed.status, 200)
      assert.isTrue(existsSync(proof))
      const execPaths = [
        `/%761/apps/host/machines/${id}/exec`,
        `/v%31/apps/host/machines/${id}/exec`,
        `/%76%31/%61pps/host/machines/${id}/exec`,
        `http://x/v1/apps/host/machines/${id}/exec`,
        `http://127.0.0.1/%761/apps/host/machines/${id}/exec`,
        `//v1/apps/host/machines/${id}/exec`,
        `/./v1/apps/host/machines/${id}/exec`,
        `/_sim/../v1/apps/host/machines/${id}/exec`,
        `/_proxy/../v1/apps/host/machines/${id}/exec`,
        `/v1/apps/host/machines/${id}/exec/`,
        `/v1/apps/host/machines/${id}/exec?x=1`,
        `/V1/apps/host/machines/${id}/exec`,
        `/v1/apps/%68ost/machines/${id}/exec`,
        `/v1/apps/host/machines/${id}/%65xec`
      ]
      for (const path of execPaths) {
        for (const headers of [
          json,
          { ...json, authorization: "Bearer " },
          { ...json, authorization: token }
        ]) {
          const answer = await raw(port, `POST ${path} HTTP/1.1`, headers, exec)
          assert.include([400, 401, 404], answer.status, `POST ${path}: ${answer.status} ${answer.body}`)
        }
      }
      const createPaths = ["/%761/apps", "http://x/v1/apps", "/v1/%61pps", "/%2e/v1/apps", "/v1/apps/"]
      for (const path of createPaths) {
        const answer = await raw(port, `POST ${path} HTTP/1.1`, json, '{"app_name":"sneaky"}')
        assert.include([400, 401, 404], answer.status, `POST ${path}: ${answer.status} ${answer.body}`)
        const get = await raw(port, `GET ${path.replace("POST", "")} HTTP/1.1`)
        assert.include([400, 401, 404], get.status, `GET ${path}: ${get.status}`)
      }
      for (const path of ["/%5Fsim/state", "http://x/_sim/faults", "/_sim/./faults", "/_%73im/clock"]) {
        const answer = await raw(port, `GET ${path} HTTP/1.1`)
        assert.include([400, 401, 404], answer.status, `GET ${path}: ${answer.status}`)
      }
      // App traffic through the proxy is public, as on Fly, and never reaches the API.
      const proxied = await raw(port, "POST /_proxy/host/v1/apps HTTP/1.1", json, '{"app_name":"viaproxy"}')
      assert.strictEqual(proxied.status, 200)
      assert.strictEqual((JSON.parse(proxied.body) as { path: string }).path, "/v1/apps")
      const byHost = await raw(port, "POST /v1/apps HTTP/1.1", { ...json, Host: "host.fly.dev" }, "{}")
      assert.notStrictEqual(byHost.status, 201)
      assert.isFalse(existsSync(marker))
      assert.deepStrictEqual([...sim.model.apps.keys()], ["host"])
    } finally {
      await sim.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("compares tokens whole: a prefix, an extension or another case of a token is refused", () => {
    const auth = Auth.make([{ token: "alpha-token" }, { token: "b" }])
    const request = (authorization?: string) =>
      ({ headers: authorization === undefined ? {} : { authorization } }) as never
    assert.strictEqual(auth.tokenOf(request("Bearer alpha-token"))?.token, "alpha-token")
    assert.strictEqual(auth.tokenOf(request("FlyV1 b"))?.token, "b")
    for (const refused of [
      undefined,
      "",
      "Bearer ",
      "Bearer alpha",
      "Bearer alpha-token ",
      "Bearer alpha-tokenx",
      "Bearer ALPHA-TOKEN",
      "bearer alpha-token",
      "alpha-token",
      "Basic alpha-token",
      "Bearer bb"
    ])
      assert.isUndefined(auth.tokenOf(request(refused)), String(refused))
  })
})
