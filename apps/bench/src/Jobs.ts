/**
 * The comparison as independent jobs: a scenario's Fly side, and its ECS side per region (ECS is regional, so
 * each region is its own cluster and simulator). Every job builds its own simulators and virtual clock from the
 * scenario alone, so its result does not depend on where or in which order it runs: the CLI runs jobs on worker
 * threads, one per core, and the results are byte-identical to running them one after another in this thread.
 */
import { existsSync } from "node:fs"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Effect } from "effect"
import * as CostTable from "./CostTable.js"
import type { Scenario } from "./Scenario.js"
import * as Trace from "./Trace.js"

export type Job =
  | { readonly kind: "fly"; readonly scenario: Scenario }
  | { readonly kind: "ecs"; readonly scenario: Scenario; readonly region: string }

export type JobResult =
  | { readonly kind: "fly"; readonly result: CostTable.SideResult }
  | { readonly kind: "ecs"; readonly result: CostTable.EcsRegionResult }

export const jobsOf = (scenario: Scenario): ReadonlyArray<Job> => [
  { kind: "fly", scenario },
  ...scenario.regions.map((region) => ({ kind: "ecs" as const, scenario, region }))
]

export const runJob = (job: Job): Effect.Effect<JobResult> => {
  const trace = Trace.generate(job.scenario)
  return job.kind === "fly"
    ? Effect.map(CostTable.runFly(job.scenario, trace), (result) => ({ kind: "fly" as const, result }))
    : Effect.map(CostTable.runEcsRegion(job.scenario, trace, job.region), (result) => ({
        kind: "ecs" as const,
        result
      }))
}

/** The built worker beside this module (present in `dist/`, absent when running from source). */
const workerFile = fileURLToPath(new URL("./worker.js", import.meta.url))

/** How many threads to use by default: one per core, when the worker is built. */
export const defaultWorkers = (): number => (existsSync(workerFile) ? availableParallelism() : 1)

/** Tasks a job dispatches (its scenario's trace generated once): the longest jobs start first. */
const weights = (jobs: ReadonlyArray<Job>): ReadonlyArray<number> => {
  const traces = new Map<Scenario, ReadonlyArray<{ readonly region: string }>>()
  return jobs.map((job) => {
    const trace = traces.get(job.scenario) ?? Trace.generate(job.scenario)
    traces.set(job.scenario, trace)
    return job.kind === "fly" ? trace.length : trace.filter((t) => t.region === job.region).length
  })
}

const onWorker = (worker: Worker, job: Job): Promise<JobResult> =>
  new Promise((resolve, reject) => {
    const done = () => {
      worker.off("message", onMessage)
      worker.off("error", onError)
    }
    const onMessage = (message: { ok: true; value: JobResult } | { ok: false; error: string }) => {
      done()
      if (message.ok) resolve(message.value)
      else reject(new Error(`${job.scenario.name} (${job.kind}): ${message.error}`))
    }
    const onError = (error: Error) => {
      done()
      reject(error)
    }
    worker.on("message", onMessage)
    worker.on("error", onError)
    worker.postMessage(job)
  })

/**
 * Runs every job and returns the results in the jobs' order; `workers` threads when above 1 (the built worker
 * must exist), otherwise in this thread. `progress` is told each time a job finishes.
 */
export const runAll = (
  jobs: ReadonlyArray<Job>,
  workers: number,
  progress: (done: number, total: number) => void
): Effect.Effect<ReadonlyArray<JobResult>> => {
  if (workers <= 1 || jobs.length <= 1)
    return Effect.forEach(jobs, (job, i) =>
      Effect.tap(runJob(job), () => Effect.sync(() => progress(i + 1, jobs.length)))
    )
  return Effect.promise(async () => {
    if (!existsSync(workerFile)) throw new Error(`--workers needs the built worker at ${workerFile}`)
    const order = weights(jobs)
      .map((weight, index) => ({ index, weight }))
      .sort((a, b) => b.weight - a.weight || a.index - b.index)
    const results: Array<JobResult | undefined> = jobs.map(() => undefined)
    const pool = Array.from({ length: Math.min(workers, jobs.length) }, () => new Worker(workerFile))
    let next = 0
    let finished = 0
    try {
      await Promise.all(
        pool.map(async (worker) => {
          for (let taken = next++; taken < order.length; taken = next++) {
            const { index } = order[taken]!
            results[index] = await onWorker(worker, jobs[index]!)
            progress(++finished, jobs.length)
          }
        })
      )
    } finally {
      await Promise.all(pool.map((worker) => worker.terminate()))
    }
    return results.map((r) => r!)
  })
}
