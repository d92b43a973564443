/**
 * The engine against the wire path, side by side in one run: the seed's four scenarios on a 2-day slice, every
 * job (each scenario's Fly side and each region's ECS cluster) one after another in this thread, on the engine
 * and then through the plugins and the simulators' HTTP APIs (`--wire`); simulated tasks per wall second for
 * each and their ratio. Then the full month on the engine: its events per second and simulated seconds per wall
 * second. Last, the policy runs of an Azure-shaped trace (every routing × idle policy) driven by the engine's
 * kernel and by the Router itself, one after the other: dispatches per wall second for each and their ratio.
 * Run with `pnpm --filter @hangar/bench bench`; the figures go to docs/benchmarks.md.
 */
import { Effect } from "effect"
import type * as Engine from "../src/engine/Engine.js"
import * as Jobs from "../src/Jobs.js"
import * as PolicyBenchmark from "../src/PolicyBenchmark.js"
import * as Scenarios from "../src/Scenarios.js"

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

interface Measured {
  readonly tasks: number
  readonly events: number
  readonly simulatedSeconds: number
  readonly wallSeconds: number
}

const measure = async (jobs: ReadonlyArray<Jobs.Job>): Promise<Measured> => {
  const weights = Jobs.weights(jobs)
  const started = performance.now()
  let events = 0
  for (const job of jobs) {
    const result = await Effect.runPromise(Jobs.runJob(job))
    if (result.kind === "fly" || result.kind === "ecs") events += result.result.events
  }
  const wallSeconds = (performance.now() - started) / 1000
  return {
    tasks: weights.reduce((a, b) => a + b, 0),
    events,
    simulatedSeconds: jobs.reduce((sum, job) => sum + Jobs.daysOf(job) * 86_400, 0),
    wallSeconds
  }
}

const perSecond = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString("en-US")

/** Every policy run of `trace` on `driver`, one after another in this thread: wall seconds and dispatches. */
const policyRuns = (trace: PolicyBenchmark.PolicyTrace, driver: Engine.Driver) => {
  const runs = PolicyBenchmark.runsOf([trace], { waitUsdPerSecond: 60 / 3600, seed: 1 })
  const tasks = PolicyBenchmark.traceOf(trace.source).length
  const started = performance.now()
  let simulated = 0
  for (const group of PolicyBenchmark.groupsOf(runs))
    simulated += PolicyBenchmark.simulateGroup(group, undefined, driver).filter(
      (r) => r.sameDecisionsAs === null
    ).length
  return {
    runs: runs.length,
    simulated,
    dispatches: simulated * tasks,
    wallSeconds: (performance.now() - started) / 1000
  }
}

const main = async () => {
  const scenarios = await Effect.runPromise(Scenarios.seedScenarios)
  const slice = scenarios.map((s) => ({ ...s, days: 2 }))
  const engine = await measure(slice.flatMap((s) => Jobs.jobsOf(s, "engine")))
  const wire = await measure(slice.flatMap((s) => Jobs.jobsOf(s, "wire")))
  const engineRate = engine.tasks / engine.wallSeconds
  const wireRate = wire.tasks / wire.wallSeconds
  console.log(
    `2-day slice of the ${slice.length} seed scenarios, ${engine.tasks} tasks over every job, one thread:`
  )
  console.log(
    `  engine  ${engine.wallSeconds.toFixed(2)} s wall, ${perSecond(engine.tasks, engine.wallSeconds)} simulated tasks per wall second`
  )
  console.log(
    `  wire    ${wire.wallSeconds.toFixed(2)} s wall, ${perSecond(wire.tasks, wire.wallSeconds)} simulated tasks per wall second`
  )
  console.log(`  engine / wire: ${(engineRate / wireRate).toFixed(1)}× the tasks per wall second`)
  const month = await measure(scenarios.flatMap((s) => Jobs.jobsOf(s, "engine")))
  console.log(
    `full month (${scenarios.length} scenarios × ${scenarios[0]?.days ?? 0} days, ${month.tasks} tasks) on the engine, one thread: ${month.wallSeconds.toFixed(2)} s wall, ${perSecond(month.events, month.wallSeconds)} model events per second, ${perSecond(month.simulatedSeconds, month.wallSeconds)} simulated seconds per wall second`
  )
  const trace: PolicyBenchmark.PolicyTrace = {
    name: "azure-shaped",
    source: { kind: "azure", options: { seed: 1001, repositories: 20, days: 2 }, ecs: scenarios[0]!.ecs }
  }
  const kernel = policyRuns(trace, "kernel")
  const router = policyRuns(trace, "router")
  console.log(
    `policy runs of an Azure-shaped trace (20 repositories, 2 days): ${kernel.runs} runs, ${kernel.simulated} simulated, one thread:`
  )
  console.log(
    `  kernel  ${kernel.wallSeconds.toFixed(2)} s wall, ${perSecond(kernel.dispatches, kernel.wallSeconds)} dispatches per wall second`
  )
  console.log(
    `  Router  ${router.wallSeconds.toFixed(2)} s wall, ${perSecond(router.dispatches, router.wallSeconds)} dispatches per wall second`
  )
  console.log(`  kernel / Router: ${(router.wallSeconds / kernel.wallSeconds).toFixed(1)}× as fast`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
