import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as DetachedJob from "../src/protocols/DetachedJob.js"
import * as ExecBackend from "../src/simulation/ExecBackend.js"
import * as VirtualClock from "../src/VirtualClock.js"

const done = (outcome: ExecBackend.ExecOutcome) => {
  const report = DetachedJob.parse(outcome.stdout, outcome.stderr)
  assert.strictEqual(report?._tag, "Done", `not done: ${outcome.stdout} / ${outcome.stderr}`)
  return report as Extract<DetachedJob.Report, { _tag: "Done" }>
}

describe("DetachedJob", () => {
  it("parses only the first line as the status; the job's own output may say hangar-job", () => {
    const text = DetachedJob.formatDone({
      exitCode: 3,
      timedOut: false,
      startedAtMillis: 1_000_250,
      endedAtMillis: 1_300_250,
      stdout: "hangar-job running\nhangar-job done 0 exited 1 2\n"
    })
    const report = DetachedJob.parse(text, "err\n")
    assert.deepStrictEqual(report, {
      _tag: "Done",
      exitCode: 3,
      timedOut: false,
      startedAtMillis: 1_000_250,
      endedAtMillis: 1_300_250,
      stdout: "hangar-job running\nhangar-job done 0 exited 1 2\n",
      stderr: "err\n"
    })
    assert.deepStrictEqual(DetachedJob.parse("hangar-job running\n", ""), { _tag: "Running" })
    assert.deepStrictEqual(DetachedJob.parse("hangar-job missing\n", ""), { _tag: "Missing" })
    assert.strictEqual(DetachedJob.parse("worked 3s\nhangar-job running\n", ""), undefined)
    assert.strictEqual(DetachedJob.parse("", "sh: not found"), undefined)
    // A `date` without %N, or none at all: the times are whole seconds, or absent.
    const coarse = DetachedJob.parse("hangar-job done 0 exited 1700000000.N 1700000009\n", "")
    assert.deepStrictEqual(
      coarse?._tag === "Done" && [coarse.startedAtMillis, coarse.endedAtMillis],
      [1_700_000_000_000, 1_700_000_009_000]
    )
    const none = DetachedJob.parse("hangar-job done 0 exited  \n", "")
    assert.deepStrictEqual(none?._tag === "Done" && [none.startedAtMillis, none.endedAtMillis], [
      undefined,
      undefined
    ])
  })

  it("recognises exactly the two scripts; the command is positional, never part of the script", () => {
    const argv = DetachedJob.startCommand({
      jobId: "j1",
      waitMillis: 25_000,
      limitSeconds: 60,
      command: ["echo", "it's $HOME; rm -rf /"]
    })
    assert.strictEqual(argv[2], DetachedJob.startScript)
    assert.notInclude(DetachedJob.startScript, "$HOME;")
    assert.deepStrictEqual(DetachedJob.recognise(argv), {
      _tag: "Start",
      jobId: "j1",
      waitMillis: 25_000,
      limitSeconds: 60,
      command: ["echo", "it's $HOME; rm -rf /"]
    })
    assert.deepStrictEqual(DetachedJob.recognise(DetachedJob.pollCommand("j1", 500)), {
      _tag: "Poll",
      jobId: "j1",
      waitMillis: 500
    })
    assert.strictEqual(DetachedJob.recognise(["sh", "-c", "echo hi", "hangar-job", "j1", "5"]), undefined)
    assert.strictEqual(
      DetachedJob.recognise(["sh", "-c", `${DetachedJob.pollScript} `, "hangar-job", "j1", "5"]),
      undefined
    )
    assert.deepStrictEqual(DetachedJob.recognise(DetachedJob.pollCommand("../etc", 5)), {
      _tag: "Invalid",
      reason: "invalid job id"
    })
  })
})

describe("the scripted backend runs the job scripts in simulated time", () => {
  const start = (jobId: string, command: ReadonlyArray<string>, waitMillis = 25_000, limitSeconds = 0) =>
    DetachedJob.startCommand({ jobId, waitMillis, limitSeconds, command })

  it("a short job answers in the start exec; a long one is polled until done, with its real duration", async () => {
    const clock = new VirtualClock.VirtualClock(1_000_000)
    const backend = ExecBackend.scripted()
    const run = (command: ReadonlyArray<string>) =>
      VirtualClock.runToCompletion(clock, backend.run({ command, timeoutMillis: 30_000 }, clock))
    const short = done(await run(start("a", ["work", "10", "3"])))
    assert.deepStrictEqual([short.exitCode, short.stdout, short.timedOut], [3, "worked 10s\n", false])
    assert.strictEqual(short.endedAtMillis! - short.startedAtMillis!, 10_000)
    assert.strictEqual(clock.now(), 1_010_000)

    const begun = clock.now()
    const first = await run(start("b", ["work", "300"]))
    assert.deepStrictEqual(DetachedJob.parse(first.stdout, first.stderr), { _tag: "Running" })
    assert.strictEqual(clock.now() - begun, 25_000)
    let polls = 0
    let report = DetachedJob.parse("", "")
    for (;;) {
      const polled = await run(DetachedJob.pollCommand("b", 25_000))
      polls++
      report = DetachedJob.parse(polled.stdout, polled.stderr)
      if (report?._tag !== "Running") break
    }
    assert.strictEqual(polls, 11)
    assert.strictEqual(report?._tag, "Done")
    if (report?._tag === "Done") {
      assert.strictEqual(report.stdout, "worked 300s\n")
      assert.strictEqual(report.endedAtMillis! - report.startedAtMillis!, 300_000)
    }
    assert.strictEqual(clock.now() - begun, 300_000)
    // Collected: the job is gone.
    const again = await run(DetachedJob.pollCommand("b", 25_000))
    assert.deepStrictEqual(DetachedJob.parse(again.stdout, again.stderr), { _tag: "Missing" })
  })

  it("a job past its limit is killed and reported timed out; a stop kills it; other sh commands are refused", async () => {
    const clock = new VirtualClock.VirtualClock(0)
    const backend = ExecBackend.scripted()
    const run = (command: ReadonlyArray<string>, signal?: AbortSignal) =>
      VirtualClock.runToCompletion(
        clock,
        backend.run({ command, ...(signal === undefined ? {} : { signal }) }, clock)
      )
    const cut = done(await run(start("t", ["sleep", "100"], 25_000, 20)))
    assert.deepStrictEqual([cut.exitCode, cut.timedOut], [137, true])
    assert.strictEqual(clock.now(), 20_000)

    const controller = new AbortController()
    assert.strictEqual(
      DetachedJob.parse((await run(start("k", ["sleep", "100"], 1_000), controller.signal)).stdout, "")?._tag,
      "Running"
    )
    clock.schedule(clock.now() + 5_000, () => controller.abort())
    const killed = done(await run(DetachedJob.pollCommand("k", 25_000)))
    assert.strictEqual(killed.exitCode, 137)
    assert.include(killed.stderr, "the machine stopped")

    const other = await run(["sh", "-c", "echo hi"])
    assert.strictEqual(other.exitCode, 127)
    assert.include(other.stderr, "only Hangar's detached-job scripts")
    // A start sent again for a job that exists starts nothing: it waits for the first one, as a poll.
    const once = clock.now()
    const duplicate = await run(start("d", ["work", "40"], 25_000))
    assert.strictEqual(DetachedJob.parse(duplicate.stdout, "")?._tag, "Running")
    const twice = done(await run(start("d", ["work", "40"], 25_000)))
    assert.deepStrictEqual([twice.startedAtMillis, twice.endedAtMillis], [once, once + 40_000])
  })
})

describe("the process backend runs the job scripts through a real sh", () => {
  it("short and long jobs, quotes and $ in arguments, exit codes, stderr, a limit, and cleanup", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "hangar-jobs-test-"))
    const backend = ExecBackend.processBackend()
    const clock = new VirtualClock.RealClock()
    const run = (command: ReadonlyArray<string>) =>
      backend.run({ command, workspace: tmp, env: { TMPDIR: tmp }, timeoutMillis: 20_000 }, clock)
    const wait = 300
    try {
      const literal = done(
        await run(
          DetachedJob.startCommand({
            jobId: "quotes",
            waitMillis: 2_000,
            limitSeconds: 0,
            command: ["printf", "%s|", "it's", "$HOME", "a b", '"q"', "`id`", "hangar-job done 9 exited"]
          })
        )
      )
      assert.strictEqual(literal.stdout, 'it\'s|$HOME|a b|"q"|`id`|hangar-job done 9 exited|')
      assert.strictEqual(literal.exitCode, 0)
      assert.isDefined(literal.startedAtMillis)
      assert.isAtLeast(literal.endedAtMillis!, literal.startedAtMillis!)

      // Outlives the first wait: running, then polled until done, with its exit code and stderr.
      const script = "sleep 0.8; echo out; echo err >&2; exit 3"
      const first = await run(
        DetachedJob.startCommand({
          jobId: "slow",
          waitMillis: wait,
          limitSeconds: 0,
          command: ["sh", "-c", script]
        })
      )
      assert.deepStrictEqual(DetachedJob.parse(first.stdout, first.stderr), { _tag: "Running" })
      let report = DetachedJob.parse("", "")
      for (let i = 0; i < 100; i++) {
        const polled = await run(DetachedJob.pollCommand("slow", wait))
        report = DetachedJob.parse(polled.stdout, polled.stderr)
        if (report?._tag !== "Running") break
      }
      assert.deepStrictEqual(report?._tag === "Done" && [report.exitCode, report.stdout, report.stderr], [
        3,
        "out\n",
        "err\n"
      ])
      assert.deepStrictEqual(readdirSync(join(tmp, "hangar-jobs")), [])

      // A start sent again while its job runs waits for that job instead of starting a second one.
      const twiceArgs = {
        jobId: "twice",
        waitMillis: 5_000,
        limitSeconds: 0,
        command: ["sh", "-c", 'sleep 0.5; echo once >>"$TMPDIR/count"']
      }
      const [a, b] = await Promise.all([
        run(DetachedJob.startCommand(twiceArgs)),
        run(DetachedJob.startCommand(twiceArgs))
      ])
      const reports = [
        DetachedJob.parse(a.stdout, a.stderr)?._tag,
        DetachedJob.parse(b.stdout, b.stderr)?._tag
      ]
      assert.include(reports, "Done")
      assert.strictEqual(readFileSync(join(tmp, "count"), "utf8"), "once\n")
      const gone = await run(DetachedJob.pollCommand("slow", wait))
      assert.deepStrictEqual(DetachedJob.parse(gone.stdout, gone.stderr), { _tag: "Missing" })

      // A limit kills the job and says so; a missing program exits 127.
      const limited = await run(
        DetachedJob.startCommand({
          jobId: "limit",
          waitMillis: 5_000,
          limitSeconds: 1,
          command: ["sleep", "30"]
        })
      )
      const killed = done(limited)
      assert.deepStrictEqual([killed.exitCode, killed.timedOut], [137, true])
      const missing = done(
        await run(
          DetachedJob.startCommand({
            jobId: "nope",
            waitMillis: 2_000,
            limitSeconds: 0,
            command: ["definitely-not-a-program"]
          })
        )
      )
      assert.strictEqual(missing.exitCode, 127)
      const invalid = await run(DetachedJob.pollCommand("../x", wait))
      assert.strictEqual(DetachedJob.parse(invalid.stdout, invalid.stderr)?._tag, "Error")
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  })
})
