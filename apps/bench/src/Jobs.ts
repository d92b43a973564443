/**
 * The comparison as independent jobs: a scenario's Fly side, and its ECS side per region (ECS is regional, so
 * each region is its own cluster and model). Every job builds its own models and virtual clock from the scenario
 * alone, so its result does not depend on where or in which order it runs: the CLI runs jobs on worker threads,
 * one per core, and the results are byte-identical to running them one after another in this thread. A job runs
 * on the engine, or (`wire`) through the plugins and the simulators' HTTP APIs.
 */
import { existsSync } from "node:fs"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import type { Oracle } from "@hangar/router"
import { Effect } from "effect"
import * as Engine from "./engine/Engine.js"
import * as PolicyBenchmark from "./PolicyBenchmark.js"
import * as Progress from "./Progress.js"
import type { Scenario } from "./Scenario.js"
import type { EcsRegionResult, SideResult } from "./Sides.js"
import * as Trace from "./Trace.js"

export type Path = "engine" | "wire"

/**
 * A side of the cost table (Fly, or one region's ECS cluster), the policy runs of `policies` on one trace under
 * one idle policy (`PolicyBenchmark.groupsOf`: every routing policy's run), or a trace's analytic bounds and its
 * idle policies in the oracle's model (no simulation: they fill the workers' tail).
 */
export type Job =
  | { readonly kind: "fly"; readonly path: Path; readonly scenario: Scenario }
  | { readonly kind: "ecs"; readonly path: Path; readonly scenario: Scenario; readonly region: string }
  | {
      readonly kind: "policy"
      readonly runs: ReadonlyArray<PolicyBenchmark.PolicyRun>
      /** What drives each run: the engine's kernel, or the Router itself (its check). */
      readonly driver: Engine.Driver
    }
  | {
      readonly kind: "bounds"
      readonly trace: PolicyBenchmark.PolicyTrace
      readonly options: PolicyBenchmark.PolicyBenchmarkOptions
    }

export type JobResult =
  | { readonly kind: "fly"; readonly result: SideResult }
  | { readonly kind: "ecs"; readonly result: EcsRegionResult }
  | { readonly kind: "policy"; readonly rows: ReadonlyArray<PolicyBenchmark.PolicyRow> }
  | {
      readonly kind: "bounds"
      readonly bounds: PolicyBenchmark.TraceBounds
      readonly model: ReadonlyArray<PolicyBenchmark.ModelRow>
    }

export const jobsOf = (scenario: Scenario, path: Path = "engine"): ReadonlyArray<Job> => [
  { kind: "fly", path, scenario },
  ...scenario.regions.map((region) => ({ kind: "ecs" as const, path, scenario, region }))
]

/** The trace of a policy or bounds job. */
const policyTraceOf = (
  job: Extract<Job, { readonly kind: "policy" | "bounds" }>
): PolicyBenchmark.PolicyTrace => (job.kind === "policy" ? job.runs[0]!.trace : job.trace)

/** What a job's trace is made from: a scenario, or a policy trace. */
const sourceOf = (job: Job): Scenario | PolicyBenchmark.PolicyTrace =>
  job.kind === "fly" || job.kind === "ecs" ? job.scenario : policyTraceOf(job)

/** The trace a job replays (all of it: an ECS job takes its region's tasks). */
export const traceOf = (job: Job): ReadonlyArray<Oracle.TraceTask> =>
  job.kind === "fly" || job.kind === "ecs"
    ? Trace.generate(job.scenario)
    : PolicyBenchmark.traceOf(policyTraceOf(job).source)

/** Tasks a job dispatches (a policy job: its trace once per run; a bounds job: none). */
export const tasksOf = (job: Job, trace: ReadonlyArray<{ readonly region: string }>): number =>
  job.kind === "ecs"
    ? trace.filter((t) => t.region === job.region).length
    : job.kind === "policy"
      ? trace.length * job.runs.length
      : job.kind === "bounds"
        ? 0
        : trace.length

/** Simulated days of a job. */
export const daysOf = (job: Job): number =>
  job.kind === "policy"
    ? PolicyBenchmark.worldOf(job.runs[0]!.trace.source).days * job.runs.length
    : job.kind === "bounds"
      ? 0
      : job.scenario.days

/** What names a job in an error. */
const nameOf = (job: Job): string =>
  job.kind === "policy"
    ? `${job.runs[0]?.trace.name} × ${job.runs[0]?.idle}`
    : job.kind === "bounds"
      ? `${job.trace.name} (bounds)`
      : `${job.scenario.name} (${job.kind})`

/** Runs a job; `progress` hears of its simulated time and dispatched tasks (the wire path: when it ends). */
export const runJob = (job: Job, progress: Engine.Progress = () => undefined): Effect.Effect<JobResult> => {
  if (job.kind === "policy")
    return Effect.sync(() => ({
      kind: "policy" as const,
      rows: PolicyBenchmark.simulateGroup(job.runs, progress, job.driver)
    }))
  if (job.kind === "bounds")
    return Effect.sync(() => {
      const bounds = PolicyBenchmark.boundsOf([job.trace], job.options.waitUsdPerSecond)
      return {
        kind: "bounds" as const,
        bounds: bounds[0]!,
        model: PolicyBenchmark.idleInModel([job.trace], bounds, job.options)
      }
    })
  const trace = Trace.generate(job.scenario)
  if (job.path === "engine")
    return Effect.sync(() =>
      job.kind === "fly"
        ? { kind: "fly" as const, result: Engine.runFly(job.scenario, trace, progress) }
        : { kind: "ecs" as const, result: Engine.runEcsRegion(job.scenario, trace, job.region, progress) }
    )
  // Loaded only for the wire path: the plugins bring the AWS SDK and an HTTP stack the engine does without.
  return Effect.promise(() => import("./CostTable.js")).pipe(
    Effect.flatMap(
      (CostTable): Effect.Effect<JobResult> =>
        job.kind === "fly"
          ? Effect.map(CostTable.runFly(job.scenario, trace), (result) => ({ kind: "fly" as const, result }))
          : Effect.map(CostTable.runEcsRegion(job.scenario, trace, job.region), (result) => ({
              kind: "ecs" as const,
              result
            }))
    ),
    Effect.tap(() => Effect.sync(() => progress(job.scenario.days * 86_400_000, tasksOf(job, trace))))
  )
}

/**
 * Each worker's old generation, in MB: a month's largest job lives in well under half of it, and without a bound
 * V8 lets every worker's heap grow to several times what it holds (the run's peak RSS went from 610 to 380 MB).
 */
const workerHeapMb = 192

/** The built worker beside this module (present in `dist/`, absent when running from source). */
const workerFile = fileURLToPath(new URL("./worker.js", import.meta.url))

/** How many threads to use by default: one per core, when the worker is built. */
export const defaultWorkers = (): number => (existsSync(workerFile) ? availableParallelism() : 1)

/** Tasks each job dispatches (each trace generated once), so that the longest jobs start first. */
export const weights = (jobs: ReadonlyArray<Job>): ReadonlyArray<number> => {
  const traces = new Map<unknown, ReadonlyArray<{ readonly region: string }>>()
  return jobs.map((job) => {
    const key = sourceOf(job)
    const trace = traces.get(key) ?? traceOf(job)
    traces.set(key, trace)
    return tasksOf(job, trace)
  })
}

/** What a worker posts: progress of its job, then its result or its error. */
export type WorkerMessage =
  | { readonly kind: "progress"; readonly simulatedMillis: number; readonly dispatched: number }
  | { readonly kind: "result"; readonly ok: true; readonly value: JobResult }
  | { readonly kind: "result"; readonly ok: false; readonly error: string }

const onWorker = (worker: Worker, job: Job, progress: Engine.Progress): Promise<JobResult> =>
  new Promise((resolve, reject) => {
    const done = () => {
      worker.off("message", onMessage)
      worker.off("error", onError)
    }
    const onMessage = (message: WorkerMessage) => {
      if (message.kind === "progress") {
        progress(message.simulatedMillis, message.dispatched)
        return
      }
      done()
      if (message.ok) resolve(message.value)
      else reject(new Error(`${nameOf(job)}: ${message.error}`))
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
 * must exist), otherwise in this thread. `progress` hears of each job's simulated time and dispatched tasks.
 */
export const runAll = (
  jobs: ReadonlyArray<Job>,
  workers: number,
  progress: (job: number, simulatedMillis: number, dispatched: number) => void,
  jobWeights: ReadonlyArray<number> = weights(jobs)
): Effect.Effect<ReadonlyArray<JobResult>> => {
  if (workers <= 1 || jobs.length <= 1)
    return Effect.forEach(jobs, (job, i) => runJob(job, (millis, tasks) => progress(i, millis, tasks)))
  return Effect.promise(async () => {
    if (!existsSync(workerFile)) throw new Error(`--workers needs the built worker at ${workerFile}`)
    const order = jobWeights
      .map((weight, index) => ({ index, weight }))
      .sort((a, b) => b.weight - a.weight || a.index - b.index)
    const results: Array<JobResult | undefined> = jobs.map(() => undefined)
    const pool = Array.from(
      { length: Math.min(workers, jobs.length) },
      () => new Worker(workerFile, { resourceLimits: { maxOldGenerationSizeMb: workerHeapMb } })
    )
    let next = 0
    try {
      await Promise.all(
        pool.map(async (worker) => {
          for (let taken = next++; taken < order.length; taken = next++) {
            const { index } = order[taken]!
            results[index] = await onWorker(worker, jobs[index]!, (millis, tasks) =>
              progress(index, millis, tasks)
            )
          }
        })
      )
    } finally {
      await Promise.all(pool.map((worker) => worker.terminate()))
    }
    return results.map((r) => r!)
  })
}

/**
 * `runAll` with a progress bar labelled `label` on stderr over every job's simulated days and tasks (each job's
 * trace generated once, for both the bar and the longest-first order).
 */
export const runWithProgress = (
  jobs: ReadonlyArray<Job>,
  workers: number,
  label: string
): Effect.Effect<ReadonlyArray<JobResult>> =>
  Effect.suspend(() => {
    const jobWeights = weights(jobs)
    const bar = Progress.make(
      label,
      {
        simulatedMillis: jobs.reduce((sum, job) => sum + daysOf(job) * 86_400_000, 0),
        tasks: jobWeights.reduce((a, b) => a + b, 0)
      },
      jobs.length
    )
    return Effect.tap(runAll(jobs, workers, bar.update, jobWeights), () => Effect.sync(bar.done))
  })
