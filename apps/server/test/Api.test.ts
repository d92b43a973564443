/**
 * hangar-serve's API in process over loopback, against both simulators as processes in virtual time, with the
 * memory store: a task runs to its result with the decision's reason, a repeat is the same task, events stream,
 * sessions and metrics show what ran, the OpenAPI document describes the routes, and every bad request is a 4xx
 * naming what is wrong (no token, a bad field, an unknown key, a body too deep or too large, an unknown task).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import * as Simulators from "../bench/Simulators.js"
import * as Server from "../src/Server.js"
import * as ServerConfig from "../src/ServerConfig.js"

const token = "api-test-token"
let sims: Simulators.Simulators
let server: Server.Running
const saved = { ...process.env }

const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
  })
  const text = await response.text()
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the JSON answers field by field
  const json: any = text.startsWith("{") ? JSON.parse(text) : undefined
  return { status: response.status, text, json }
}

const finished = async (taskId: string) => {
  for (let i = 0; i < 600; i++) {
    const task = await call("GET", `/v1/tasks/${taskId}`)
    if (task.json.state === "succeeded" || task.json.state === "failed") return task.json
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${taskId} did not finish`)
}

beforeAll(async () => {
  sims = await Simulators.start({ seed: 3 })
  Object.assign(process.env, sims.env)
  const file = Either.getOrThrow(
    ServerConfig.parse(
      `[server]\nport = 0\n[store]\nkind = "memory"\n[idle]\npolicy = "fixed-timeout"\nminutes = 60\n` +
        `[providers.fly]\nregions = ["iad"]\n[providers.ecs]\ncluster = "hangar"\ncapacity_provider = "cp"\n`,
      "test"
    )
  )
  server = await Server.start(
    { ...file, secrets: { apiToken: Redacted.make(token), databaseUrl: { _tag: "None" } as never } },
    { instanceId: "api-test" }
  )
})

afterAll(async () => {
  await server?.close()
  await sims?.stop()
  process.env = saved
})

describe("hangar-serve's API", () => {
  it("runs a short task on fly and a long one on ecs, each with its decision's reason and result", async () => {
    const short = await call("POST", "/v1/tasks", {
      taskId: "fix-typo",
      repository: "acme/webapp",
      command: ["work", "5"],
      expectedDurationSeconds: 60
    })
    assert.strictEqual(short.status, 202, short.text)
    assert.strictEqual(short.json.taskId, "fix-typo")
    const long = await call("POST", "/v1/tasks", {
      taskId: "nightly",
      repository: "acme/api",
      command: ["echo", "hi"]
    })
    assert.strictEqual(long.status, 202, long.text)
    const repeat = await call("POST", "/v1/tasks", {
      taskId: "fix-typo",
      repository: "acme/webapp",
      command: ["work", "5"],
      expectedDurationSeconds: 60
    })
    assert.strictEqual(repeat.status, 200)
    assert.strictEqual(repeat.json.createdAtMillis, short.json.createdAtMillis)
    const a = await finished("fix-typo")
    const b = await finished("nightly")
    assert.strictEqual(a.state, "succeeded", JSON.stringify(a))
    assert.strictEqual(a.provider, "fly")
    assert.match(a.decision.reason, /short tasks go to fly/)
    assert.strictEqual(a.result.stdout, "worked 5s\n")
    assert.strictEqual(a.attempts, 1)
    assert.strictEqual(b.state, "succeeded", JSON.stringify(b))
    assert.strictEqual(b.provider, "ecs")
    assert.strictEqual(b.result.stdout, "hi\n")
    const conflict = await call("POST", "/v1/tasks", { taskId: "fix-typo", repository: "acme/other" })
    assert.strictEqual(conflict.status, 409)
    assert.strictEqual(conflict.json.field, "taskId")
  })

  it("streams a task's progress as server-sent events until it ends", async () => {
    await call("POST", "/v1/tasks", {
      taskId: "streamed",
      repository: "acme/stream",
      command: ["work", "3"],
      expectedDurationSeconds: 30
    })
    const events = await call("GET", "/v1/tasks/streamed/events")
    assert.strictEqual(events.status, 200)
    const names = [...events.text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1])
    assert.strictEqual(names.at(-1), "succeeded", events.text)
    assert.isAtLeast(names.length, 2)
    const last = JSON.parse(events.text.trim().split("\n").at(-1)!.slice("data: ".length))
    assert.strictEqual(last.result.stdout, "worked 3s\n")
  })

  it("lists sessions, reconciles on request and exposes metrics", async () => {
    const sessions = await call("GET", "/v1/sessions")
    assert.strictEqual(sessions.status, 200)
    const tasks = new Set(sessions.json.sessions.map((s: { taskId: string }) => s.taskId))
    assert.isTrue(tasks.has("fix-typo") && tasks.has("nightly"), sessions.text)
    const report = await call("POST", "/v1/reconcile")
    assert.strictEqual(report.status, 200, report.text)
    assert.deepStrictEqual(report.json.destroyed, [])
    const metrics = await call("GET", "/metrics")
    assert.strictEqual(metrics.status, 200)
    assert.match(
      metrics.text,
      /hangar_tasks_finished_total\{provider="fly",outcome="succeeded",instance_id="api-test"\} 2/
    )
    assert.match(metrics.text, /hangar_task_start_latency_seconds_count\{instance_id="api-test"\} 3/)
    assert.match(metrics.text, /hangar_sessions\{state="idle",instance_id="api-test"\} 3/)
    assert.match(metrics.text, /hangar_failovers_total\{instance_id="api-test"\} 0/)
    assert.match(
      metrics.text,
      /hangar_reconcile_actions_total\{action="destroyed",instance_id="api-test"\} 0/
    )
  })

  it("serves health without a token and everything else only with the right one", async () => {
    assert.strictEqual((await call("GET", "/healthz", undefined, { authorization: "" })).status, 200)
    assert.strictEqual((await call("GET", "/readyz", undefined, { authorization: "" })).status, 200)
    for (const [method, path] of [
      ["GET", "/v1/sessions"],
      ["GET", "/V1/sessions"],
      ["GET", "/v1//sessions"],
      ["GET", "/metrics"],
      ["GET", "/openapi.json"],
      ["POST", "/v1/reconcile"],
      ["GET", "/v1/tasks/fix-typo"]
    ] as const) {
      for (const authorization of ["", "Bearer wrong", `Basic ${token}`, `Bearer ${token}x`]) {
        const answer = await call(method, path, undefined, { authorization })
        assert.include([401, 404], answer.status, `${method} ${path} with "${authorization}"`)
        assert.notInclude(answer.text, token)
      }
    }
    assert.strictEqual(
      (await call("GET", "/v1/sessions", undefined, { authorization: "Bearer wrong" })).status,
      401
    )
  })

  it("answers a bad request with a 4xx naming the field, and changes nothing", async () => {
    const cases: ReadonlyArray<readonly [unknown, number, string]> = [
      [{ repository: "acme/x" }, 400, "taskId"],
      [{ taskId: "bad id!", repository: "acme/x" }, 400, "taskId"],
      [{ taskId: "ok-1", repository: "acme/x", size: "huge" }, 400, "size"],
      [{ taskId: "ok-2", repository: "acme/x", colour: "blue" }, 400, "colour"],
      [{ taskId: "ok-3", repository: "acme/x", expectedDurationSeconds: -1 }, 400, "expectedDurationSeconds"],
      [{ taskId: "ok-4", repository: "acme/x", command: [] }, 400, "command"],
      ["[1,2", 400, "JSON"],
      [`${"[".repeat(40)}${"]".repeat(40)}`, 400, "deeper"],
      ['{"__proto__":{"x":1},"taskId":"ok-5","repository":"a"}', 400, "__proto__"],
      [JSON.stringify({ taskId: "ok-6", repository: "acme/x", env: { big: "x".repeat(300_000) } }), 413, ""]
    ]
    for (const [body, status, mentions] of cases) {
      const answer = await call("POST", "/v1/tasks", body)
      assert.strictEqual(answer.status, status, `${JSON.stringify(body).slice(0, 80)}: ${answer.text}`)
      assert.include(answer.text, mentions)
    }
    for (let i = 1; i <= 6; i++) assert.strictEqual((await call("GET", `/v1/tasks/ok-${i}`)).status, 404)
    assert.strictEqual((await call("GET", "/v1/tasks/never-sent/events")).status, 404)
    assert.strictEqual((await call("POST", "/v1/tasks")).status, 400)
    assert.strictEqual((await call("POST", "/v1/tasks", "x", { "content-type": "text/plain" })).status, 415)
  })

  it("serves an OpenAPI document generated from the schemas", async () => {
    const document = await call("GET", "/openapi.json")
    assert.strictEqual(document.status, 200)
    assert.strictEqual(document.json.openapi, "3.1.0")
    const body = document.json.paths["/v1/tasks"].post.requestBody.content["application/json"].schema
    assert.deepInclude(body.required, "taskId")
    assert.property(body.properties, "expectedDurationSeconds")
    const task = document.json.paths["/v1/tasks/{id}"].get.responses["200"].content["application/json"].schema
    assert.property(task.properties, "decision")
  })
})
