import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import { afterAll } from "vitest"
import * as LocalProvider from "../src/LocalProvider.js"

const root = mkdtempSync(join(tmpdir(), "hangar-local-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** The scheduler state and process group of a process (`T` when stopped by a signal), from /proc. */
const processStat = (pid: string): { readonly state: string; readonly group: string } => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const [state = "?", , group = "?"] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { state, group }
}
const processState = (pid: string): string => processStat(pid).state

/**
 * The states of every process in `pid`'s process group (the keeper and the `sleep` it runs). A shell stopped
 * while it waits for a child it just forked can show `D` (waiting on that child, itself stopped), so "stopped"
 * is: no process of the group can run (none in `R` or `S`).
 */
const groupStates = (pid: string): ReadonlyArray<string> => {
  const group = processStat(pid).group
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = processStat(entry)
        return stat.group === group ? [stat.state] : []
      } catch {
        return [] // the process ended while the list was read
      }
    })
}
const canRun = (states: ReadonlyArray<string>) => states.some((state) => state === "R" || state === "S")

/** The group's states once `wanted` holds of them or 12 seconds have passed (a signal lands a moment after it is sent). */
const settledGroup = (pid: string, wanted: (states: ReadonlyArray<string>) => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 600; i++) {
      const states = groupStates(pid)
      if (wanted(states)) return states
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return groupStates(pid)
  })

describe("LocalProvider", () => {
  it.scoped("runs commands in the repository's workspace, with the task's environment", () =>
    Effect.gen(function* () {
      const provider = yield* LocalProvider.make({ root })
      const session = yield* provider.create({
        taskId: "pwd",
        repository: "acme/web",
        region: "local",
        env: { GREETING: "hello" }
      })
      const workspace = join(root, "acme__web")
      assert.strictEqual(session.metadata.workspace, workspace)
      assert.isTrue(existsSync(workspace))
      const result = yield* provider.exec(session.id, [
        "sh",
        "-c",
        'pwd; echo "$GREETING"; echo oops >&2; exit 4'
      ])
      assert.deepStrictEqual(
        { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr },
        { exitCode: 4, stdout: `${workspace}\nhello\n`, stderr: "oops\n" }
      )
      yield* provider.destroy(session.id)
      assert.isTrue(existsSync(workspace), "the workspace stays for the repository's next session")
    })
  )

  it.scoped("suspends a session's processes with SIGSTOP and resumes them with SIGCONT", () =>
    Effect.gen(function* () {
      const provider = yield* LocalProvider.make({ root })
      const session = yield* provider.create({ taskId: "stop", repository: "acme/api", region: "local" })
      const pid = session.metadata.pid ?? ""
      assert.notStrictEqual(processState(pid), "T")
      const suspended = yield* provider.suspend(session.id)
      assert.strictEqual(suspended.status, "suspended")
      const stopped = yield* settledGroup(pid, (states) => !canRun(states))
      assert.isFalse(canRun(stopped), `every process of the session is stopped: ${stopped.join(" ")}`)
      assert.include(stopped, "T")
      const refused = yield* Effect.either(provider.exec(session.id, ["true"]))
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "InvalidRequest")
      const resumed = yield* provider.start(session.id)
      assert.strictEqual(resumed.status, "running")
      const running = yield* settledGroup(pid, canRun)
      assert.isTrue(canRun(running), `the session's processes run again: ${running.join(" ")}`)
      assert.strictEqual((yield* provider.exec(session.id, ["echo", "back"])).stdout, "back\n")
      yield* provider.destroy(session.id)
    })
  )

  it.scoped("bills wall time while running at the box's $/hour, nothing while suspended", () =>
    Effect.gen(function* () {
      const provider = yield* LocalProvider.make({ root, cost: { dollarsPerHour: 2 } })
      const session = yield* provider.create({ taskId: "bill", repository: "acme/bill", region: "local" })
      yield* TestClock.adjust("1 hour")
      yield* provider.suspend(session.id)
      yield* TestClock.adjust("3 hours")
      const usage = yield* provider.usage(session.id)
      assert.deepStrictEqual(usage.seconds, { provisioning: 0, running: 3600, suspended: 10_800, stopped: 0 })
      assert.strictEqual(usage.costMicroUsd, 2_000_000)
      yield* provider.destroy(session.id)
    })
  )

  it.scoped("declares what it cannot do, with reasons, and a free box by default", () =>
    Effect.gen(function* () {
      const provider = yield* LocalProvider.make({ root })
      const gpu = yield* Effect.either(
        provider.create({ taskId: "gpu", repository: "acme/ml", region: "local", requiresGpu: true })
      )
      assert.isTrue(Either.isLeft(gpu) && gpu.left._tag === "Unsupported")
      const states = provider.costModel.machineStates({
        size: "standard",
        region: "local",
        requiresGpu: false
      })
      assert.strictEqual(states.running, 0)
      const repo = yield* Effect.either(
        provider.create({ taskId: "dots", repository: "..", region: "local" })
      )
      assert.isTrue(
        Either.isLeft(repo) && repo.left._tag === "InvalidRequest" && repo.left.field === "repository"
      )
    })
  )
})
