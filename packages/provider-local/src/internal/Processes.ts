/**
 * The processes behind a session: a keeper that stands for the session's compute while it lives, and the
 * commands exec runs beside it, each the leader of its own process group so a signal reaches what it started.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { constants } from "node:os"
import { Effect } from "effect"

/** The most output kept per stream of a command (the rest is dropped and said so). */
export const maxOutputBytes = 1024 * 1024

/** Starts the keeper of a session, a shell that sleeps until it is signalled, in the workspace; once it runs. */
export const startKeeper = (workspace: string): Effect.Effect<ChildProcess, Error> =>
  Effect.async<ChildProcess, Error>((resume) => {
    const keeper = spawn("/bin/sh", ["-c", "while :; do sleep 3600; done"], {
      cwd: workspace,
      detached: true,
      stdio: "ignore"
    })
    keeper.unref()
    keeper.once("spawn", () => resume(Effect.succeed(keeper)))
    keeper.once("error", (error) => resume(Effect.fail(error)))
  })

/**
 * Sends `signal` to `child` and to the process group it leads (a child just spawned may not lead its group yet;
 * one already gone is nothing to do).
 */
export const signalGroup = (child: ChildProcess, signal: NodeJS.Signals): void => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  for (const target of [child.pid, -child.pid]) {
    try {
      process.kill(target, signal)
    } catch {
      // the process or its group exited in the meantime
    }
  }
}

export interface Output {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

const collect = (stream: NodeJS.ReadableStream | null) => {
  const chunks: Array<Buffer> = []
  let size = 0
  let dropped = false
  stream?.on("data", (chunk: Buffer) => {
    if (size + chunk.length > maxOutputBytes) {
      dropped = true
      return
    }
    chunks.push(chunk)
    size += chunk.length
  })
  return () => `${Buffer.concat(chunks).toString("utf8")}${dropped ? "\n[output past 1 MiB dropped]\n" : ""}`
}

/**
 * Runs `argv` in `workspace` with `env` added, through `sh` so that builtins (`exit 3`) work as they do in a
 * container's exec; `track` hears of the process while it runs (to suspend it with its session). Interrupting the
 * effect kills the command's process group.
 */
export const run = (
  workspace: string,
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  track: (child: ChildProcess | undefined) => void
): Effect.Effect<Output, Error> =>
  Effect.async<Output, Error>((resume) => {
    const child = spawn("/bin/sh", ["-c", '"$@"', "sh", ...argv], {
      cwd: workspace,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    track(child)
    const stdout = collect(child.stdout)
    const stderr = collect(child.stderr)
    child.on("error", (error) => {
      track(undefined)
      resume(Effect.fail(error))
    })
    child.on("close", (code, signal) => {
      track(undefined)
      resume(
        Effect.succeed({
          exitCode: code ?? (signal === null ? 1 : 128 + constants.signals[signal]),
          stdout: stdout(),
          stderr: stderr()
        })
      )
    })
    return Effect.sync(() => signalGroup(child, "SIGKILL"))
  })
