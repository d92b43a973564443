/**
 * Long commands through the detached-job protocol (LongExec) against fly-sim in process on a virtual clock, with
 * Fly's ~30 s exec deadline modelled by the simulator: every exec request is counted and its argv recorded.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { DetachedJob } from "@hangar/core/protocols"
import { ExecBackend } from "@hangar/core/simulation"
import { FlySimulator } from "@hangar/fly-simulator"
import { Effect, Layer, Redacted } from "effect"
import * as FlyClient from "../src/FlyClient.js"
import * as LongExec from "../src/LongExec.js"
import * as Simulated from "./Simulated.js"

const token = "long-exec-token"

const onSimulator = async (seed: number, failPolls = 0) => {
  let pollsToFail = failPolls
  /** The argv of every exec request sent, and the status of its answer. */
  const execs: Array<{ readonly command: ReadonlyArray<string>; status?: number; stdout?: string }> = []
  const recording =
    (sim: FlySimulator.Simulator): typeof fetch =>
    async (input, init) => {
      const request = new Request(input, init)
      if (!request.url.endsWith("/exec")) return sim.fetch(request)
      const body = (await request.clone().json()) as { command: ReadonlyArray<string> }
      const entry: { command: ReadonlyArray<string>; status?: number; stdout?: string } = {
        command: body.command
      }
      execs.push(entry)
      if (pollsToFail > 0 && DetachedJob.recognise(body.command)?._tag === "Poll") {
        pollsToFail--
        entry.status = 503
        return new Response(JSON.stringify({ error: "service unavailable" }), {
          status: 503,
          headers: { "content-type": "application/json" }
        })
      }
      const response = await sim.fetch(request)
      entry.status = response.status
      entry.stdout = ((await response.clone().json()) as { stdout?: string }).stdout ?? ""
      return response
    }
  const { clock, sim, fly, machines, run } = await Simulated.onSimulator(
    seed,
    token,
    { regions: ["iad"] },
    recording
  )
  const session = await run(fly.create({ taskId: `t${seed}`, repository: "acme/long", region: "iad" }))
  /** Polls a job directly through the simulator (what a provider would see). */
  const pollDirectly = async (jobId: string) => {
    const response = await VirtualClock.runToCompletion(
      clock,
      sim.fetch(`http://fly-sim.internal/v1/apps/${session.id.replace("/", "/machines/")}/exec`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ command: DetachedJob.pollCommand(jobId, 1_000) })
      })
    )
    const answer = (await response.json()) as { stdout: string; stderr: string }
    return DetachedJob.parse(answer.stdout, answer.stderr)
  }
  return { clock, sim, fly, machines, run, session, execs, pollDirectly }
}

describe("long commands survive Fly's exec deadline", () => {
  it("a 5-minute task completes with its output, exit code and a duration of 300 s, through 12 short execs", async () => {
    const { clock, machines, run, session, execs } = await onSimulator(51)
    const before = clock.now()
    const result = await run(machines.executeTask(session.id, ["work", "300", "4"]))
    assert.deepStrictEqual([result.exitCode, result.stdout, result.stderr], [4, "worked 300s\n", ""])
    assert.strictEqual(result.durationMs, 300_000)
    assert.isAtLeast(clock.now() - before, 300_000)
    // The start and 11 polls, each answered within the deadline (no 408), all about one job.
    assert.strictEqual(execs.length, 12)
    assert.deepStrictEqual([...new Set(execs.map((e) => e.status))], [200])
    assert.strictEqual(DetachedJob.recognise(execs[0]!.command)?._tag, "Start")
    const jobIds = new Set(execs.map((e) => e.command[4]))
    assert.strictEqual(jobIds.size, 1)
    for (const e of execs.slice(1)) assert.strictEqual(DetachedJob.recognise(e.command)?._tag, "Poll")
  })

  it("a 10 s command costs exactly one exec request; arguments pass through untouched", async () => {
    const { machines, run, session, execs } = await onSimulator(52)
    const result = await run(machines.executeTask(session.id, ["work", "10"]))
    assert.deepStrictEqual([result.exitCode, result.stdout, result.durationMs], [0, "worked 10s\n", 10_000])
    assert.strictEqual(execs.length, 1)
    const odd = await run(machines.executeTask(session.id, ["echo", "it's", "$HOME;", "a  b", '"q"']))
    assert.strictEqual(odd.stdout, `it's $HOME; a  b "q"\n`)
    const start = DetachedJob.recognise(execs[1]!.command)
    assert.deepStrictEqual(start?._tag === "Start" && start.command, [
      "echo",
      "it's",
      "$HOME;",
      "a  b",
      '"q"'
    ])
  })

  it("a job's own output that looks like the framing is just output, on the short and the long path", async () => {
    const { machines, run, session } = await onSimulator(53)
    const short = await run(machines.executeTask(session.id, ["echo", "hangar-job", "done", "9", "exited"]))
    assert.deepStrictEqual([short.exitCode, short.stdout], [0, "hangar-job done 9 exited\n"])
    const running = await run(machines.executeTask(session.id, ["echo", "hangar-job", "running"]))
    assert.deepStrictEqual([running.exitCode, running.stdout], [0, "hangar-job running\n"])
    const failing = await run(machines.executeTask(session.id, ["stderr", "hangar-job", "missing"]))
    assert.deepStrictEqual(
      [failing.exitCode, failing.stdout, failing.stderr],
      [2, "", "hangar-job missing\n"]
    )
  })

  it("a command past its own timeoutSeconds is reported timed out, and the job is killed on the machine", async () => {
    const { clock, machines, run, session, execs, pollDirectly } = await onSimulator(54)
    const error = await run(
      Effect.flip(machines.executeTask(session.id, ["work", "600"], { timeoutSeconds: 60 }))
    )
    assert.strictEqual(error._tag, "Timeout")
    const jobId = execs[0]!.command[4]!
    // The poll in flight when the call timed out still gets its answer: the job was killed at its limit.
    await clock.advanceBy(30_000)
    const last = execs.at(-1)!
    assert.strictEqual(DetachedJob.recognise(last.command)?._tag, "Poll")
    const report = DetachedJob.parse(last.stdout ?? "", "")
    assert.deepStrictEqual(report?._tag === "Done" && [report.exitCode, report.timedOut], [137, true])
    assert.deepStrictEqual(await pollDirectly(jobId), { _tag: "Missing" })
    // Within its timeout, a long command is not cut.
    const within = await run(machines.executeTask(session.id, ["work", "90"], { timeoutSeconds: 120 }))
    assert.strictEqual(within.durationMs, 90_000)
  })

  it("a start answered 408 after it ran is polled, not sent again; one that never ran is reported so", async () => {
    const { sim, machines, run, session, execs } = await onSimulator(55)
    sim.faults.add({
      match: "/exec$",
      status: 408,
      error: "deadline_exceeded: lost",
      afterHandler: true,
      times: 1
    })
    const result = await run(machines.executeTask(session.id, ["work", "60"]))
    assert.deepStrictEqual([result.exitCode, result.stdout, result.durationMs], [0, "worked 60s\n", 60_000])
    assert.deepStrictEqual(
      execs.map((e) => DetachedJob.recognise(e.command)?._tag),
      ["Start", "Poll", "Poll"]
    )
    sim.faults.add({ match: "/exec$", status: 408, error: "deadline_exceeded: refused", times: 1 })
    const refused = await run(Effect.flip(machines.executeTask(session.id, ["work", "60"])))
    assert.strictEqual(refused._tag, "ProviderUnavailable")
    assert.include(refused.message, "not sent again")
    assert.strictEqual(execs.filter((e) => DetachedJob.recognise(e.command)?._tag === "Start").length, 2)
  })

  it("a start whose answer was lost (5xx after it ran) is retried by core with the same job: it runs once", async () => {
    const { sim, machines, run, session, execs } = await onSimulator(57)
    sim.faults.add({
      match: "/exec$",
      status: 502,
      error: "bad gateway: connection reset after the request was sent",
      afterHandler: true,
      times: 1
    })
    const result = await run(machines.executeTask(session.id, ["work", "60"]))
    assert.deepStrictEqual([result.exitCode, result.stdout, result.durationMs], [0, "worked 60s\n", 60_000])
    assert.deepStrictEqual(
      execs.map((e) => `${DetachedJob.recognise(e.command)?._tag} ${e.status}`),
      ["Start 502", "Start 200", "Poll 200"]
    )
    assert.strictEqual(new Set(execs.map((e) => e.command[4])).size, 1)
  })

  it("polls that fail with 5xx are polled again; the job is started once and completes", async () => {
    const { machines, run, session, execs } = await onSimulator(56, 3)
    const result = await run(machines.executeTask(session.id, ["work", "40"]))
    assert.deepStrictEqual([result.exitCode, result.stdout, result.durationMs], [0, "worked 40s\n", 40_000])
    assert.deepStrictEqual(
      execs.map((e) => `${DetachedJob.recognise(e.command)?._tag} ${e.status}`),
      ["Start 200", "Poll 503", "Poll 503", "Poll 503", "Poll 200"]
    )
  })
})

describe("the job scripts through fly-sim's process backend and a real sh", () => {
  it("a job outliving the first wait, its exit code, stdout and stderr, and arguments the shell must not read", async () => {
    const jobs = mkdtempSync(join(tmpdir(), "hangar-longexec-"))
    const sim = await FlySimulator.make({
      clock: new VirtualClock.RealClock(),
      tokens: [{ token }],
      exec: ExecBackend.processBackend(),
      rateLimits: false,
      timing: { create: 1, firstImagePull: 1, bootFromStopped: 1, stop: 1 }
    })
    try {
      sim.model.createApp("real-sh", "personal")
      const m = sim.model.createMachine("real-sh", {
        region: "iad",
        config: { image: "i", env: { TMPDIR: jobs } }
      })
      await sim.model.wait(m, ["started"], 5_000)
      const client = await Effect.runPromise(
        FlyClient.make({ baseUrl: "http://fly-sim.internal", token: Redacted.make(token) }).pipe(
          Effect.provide(
            FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, sim.fetch)))
          )
        )
      )
      // A 200 ms wait per exec, so a 0.8 s job needs the start and some polls.
      const run = (command: ReadonlyArray<string>) =>
        Effect.runPromise(
          LongExec.run(client, `/apps/real-sh/machines/${m.id}`, command, undefined, { waitMillis: 200 })
        )
      const long = await run(["sh", "-c", "sleep 0.8; echo out; echo err >&2; exit 3"])
      assert.deepStrictEqual([long.exitCode, long.stdout, long.stderr], [3, "out\n", "err\n"])
      assert.isAbove(long.durationMs, 0)
      const literal = await run(["printf", "%s|", "it's", "$HOME", "a b", "`id`", "hangar-job running"])
      assert.strictEqual(literal.stdout, "it's|$HOME|a b|`id`|hangar-job running|")
      assert.deepStrictEqual(readdirSync(join(jobs, "hangar-jobs")), [], "every job directory was removed")
    } finally {
      await sim.close()
      rmSync(jobs, { recursive: true, force: true })
    }
  })
})
