/** A worker thread of the bench: runs the jobs its parent posts (see Jobs.ts) and posts back each result. */
import { parentPort } from "node:worker_threads"
import { Cause, Effect, Exit } from "effect"
import { type Job, runJob } from "./Jobs.js"

const port = parentPort
if (port === null) throw new Error("worker.js runs as a worker thread of hangar-bench")

port.on("message", (job: Job) => {
  Effect.runPromiseExit(runJob(job)).then((exit) =>
    port.postMessage(
      Exit.isSuccess(exit) ? { ok: true, value: exit.value } : { ok: false, error: Cause.pretty(exit.cause) }
    )
  )
})
