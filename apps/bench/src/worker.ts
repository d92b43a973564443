/** A worker thread of the bench: runs the jobs its parent posts (see Jobs.ts) and posts back each result. */
import { parentPort } from "node:worker_threads"
import { Cause, Effect, Exit } from "effect"
import { type Job, runJob, type WorkerMessage } from "./Jobs.js"

const port = parentPort
if (port === null) throw new Error("worker.js runs as a worker thread of hangar-bench")

const post = (message: WorkerMessage) => port.postMessage(message)

port.on("message", (job: Job) => {
  Effect.runPromiseExit(
    runJob(job, (simulatedMillis, dispatched) => post({ kind: "progress", simulatedMillis, dispatched }))
  ).then((exit) =>
    post(
      Exit.isSuccess(exit)
        ? { kind: "result", ok: true, value: exit.value }
        : { kind: "result", ok: false, error: Cause.pretty(exit.cause) }
    )
  )
})
