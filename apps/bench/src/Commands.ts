/** What each hangar-bench command does: run, print, write results. */
import { join } from "node:path"
import { ComputeError } from "@hangar/core"
import { Console, Effect, Option } from "effect"
import * as Charts from "./Charts.js"
import * as CompareReport from "./CompareReport.js"
import * as Jobs from "./Jobs.js"
import * as PolicyBenchmark from "./PolicyBenchmark.js"
import * as PolicyReport from "./PolicyReport.js"
import * as Progress from "./Progress.js"
import * as Results from "./Results.js"
import * as Scenario from "./Scenario.js"
import * as Scenarios from "./Scenarios.js"
import * as Sensitivity from "./Sensitivity.js"
import * as Sides from "./Sides.js"
import * as Table from "./Table.js"
import * as Trace from "./Trace.js"
import * as Tune from "./Tune.js"

export interface CommonOptions {
  readonly seed: Option.Option<number>
  readonly out: string
  readonly days?: Option.Option<number>
  /** Worker threads for the simulations (default: one per core). */
  readonly workers?: Option.Option<number>
  /** Through the plugins and the simulators' HTTP APIs instead of the engine. */
  readonly wire?: boolean
}

export const withOverrides = (scenario: Scenario.Scenario, options: CommonOptions): Scenario.Scenario => ({
  ...scenario,
  seed: Option.getOrElse(options.seed, () => scenario.seed),
  days: Option.getOrElse(options.days ?? Option.none(), () => scenario.days)
})

/** The Azure-shaped traces `policies` adds to the scenarios: 20 repositories over a week each. */
const azureTraces = (seed: number): ReadonlyArray<PolicyBenchmark.PolicyTrace> =>
  [1, 2, 3].map((n) => ({
    name: `azure-shaped-${n}`,
    source: { kind: "azure" as const, options: { seed: seed * 1000 + n, repositories: 20, days: 7 } }
  }))

export const policies = (
  options: CommonOptions & { readonly waitUsdPerHour: number }
): Effect.Effect<void, ComputeError.InvalidRequest> =>
  Effect.gen(function* () {
    const started = performance.now()
    const scenarios = (yield* Scenarios.seedScenarios).map((s) => withOverrides(s, options))
    const seed = Option.getOrElse(options.seed, () => 1)
    const traces: ReadonlyArray<PolicyBenchmark.PolicyTrace> = [
      ...scenarios.map((scenario) => ({
        name: scenario.name,
        source: { kind: "scenario" as const, scenario }
      })),
      ...azureTraces(seed)
    ]
    const settings = { waitUsdPerSecond: options.waitUsdPerHour / 3600, seed }
    const jobs: ReadonlyArray<Jobs.Job> = PolicyBenchmark.runsOf(traces, settings).map((run) => ({
      kind: "policy",
      run
    }))
    const workers = Option.getOrElse(options.workers ?? Option.none(), Jobs.defaultWorkers)
    const weights = Jobs.weights(jobs)
    const progress = Progress.make(
      "policies",
      {
        simulatedMillis: jobs.reduce((sum, job) => sum + Jobs.daysOf(job) * 86_400_000, 0),
        tasks: weights.reduce((a, b) => a + b, 0)
      },
      jobs.length
    )
    const outputs = yield* Jobs.runAll(jobs, workers, progress.update)
    progress.done()
    const bounds = PolicyBenchmark.boundsOf(traces)
    const rows = PolicyBenchmark.rows(
      bounds,
      outputs.flatMap((o) => (o.kind === "policy" ? [o.row] : []))
    )
    yield* Console.log(PolicyReport.text(bounds, rows))
    const chart = yield* Effect.promise(() =>
      Charts.costVersusLatency(rows.map((r) => ({ ...r, policy: `${r.routing} × ${r.idle}` })))
    )
    const written = Results.write(options.out, {
      "policies.json": Results.stableJson({
        schemaVersion: Results.schemaVersion,
        kind: "policies",
        seed,
        bounds,
        rows
      }),
      "policies.md": PolicyReport.markdown(bounds, rows, options.waitUsdPerHour),
      "policies-cost-vs-p95.svg": chart
    })
    const seconds = (performance.now() - started) / 1000
    yield* Console.log(
      `\n${rows.length} policy runs over ${traces.length} traces (${bounds.reduce((n, b) => n + b.tasks, 0)} tasks) on the engine in ${seconds.toFixed(1)} s wall on ${Math.min(workers, jobs.length)} thread(s)`
    )
    yield* Console.log(`wrote ${written.map((p) => join(p)).join(", ")}`)
  })

/** Simulates each scenario on both providers and writes the comparison. */
export const compareScenarios = (
  scenarios: ReadonlyArray<Scenario.Scenario>,
  options: CommonOptions
): Effect.Effect<void, ComputeError.InvalidRequest> =>
  Effect.gen(function* () {
    const wallStart = performance.now()
    const chosen = scenarios.map((s) => withOverrides(s, options))
    const path = options.wire === true ? "wire" : "engine"
    const jobs = chosen.flatMap((s) => Jobs.jobsOf(s, path))
    const workers = Option.getOrElse(options.workers ?? Option.none(), Jobs.defaultWorkers)
    const traces = new Map(chosen.map((s) => [s, Trace.generate(s)] as const))
    const progress = Progress.make(
      options.wire === true ? "simulating (wire)" : "simulating",
      {
        simulatedMillis: jobs.reduce((sum, job) => sum + Jobs.daysOf(job) * 86_400_000, 0),
        tasks: Jobs.weights(jobs).reduce((a, b) => a + b, 0)
      },
      jobs.length
    )
    const outputs = yield* Jobs.runAll(jobs, workers, progress.update)
    progress.done()
    const results: Array<CompareReport.ScenarioResult> = []
    const sensitivity: Array<Sensitivity.SensitivityRow> = []
    let events = 0
    let simulatedMillis = 0
    let at = 0
    for (const scenario of chosen) {
      const [flyOutput, ...regionOutputs] = outputs.slice(at, at + 1 + scenario.regions.length)
      at += 1 + scenario.regions.length
      const trace = traces.get(scenario) ?? Trace.generate(scenario)
      const fly = flyOutput?.kind === "fly" ? flyOutput.result : undefined
      const regions = regionOutputs.flatMap((o) => (o.kind === "ecs" ? [o.result] : []))
      if (fly === undefined || regions.length !== scenario.regions.length)
        return yield* Effect.die(new Error(`jobs of ${scenario.name} came back out of order`))
      const ecs = Sides.combineEcs(scenario, trace.length, regions)
      const result = { scenario, ecs, fly }
      results.push(result)
      sensitivity.push(...Sensitivity.rows(result, trace))
      events += ecs.events + fly.events + 2 * trace.length
      simulatedMillis += 2 * scenario.days * 86_400_000
    }
    const wall = (performance.now() - wallStart) / 1000
    const reproduction = results.map(CompareReport.reproduction).filter((line) => line.length > 0)
    const sensitivityText = Table.text(Sensitivity.columns, sensitivity)
    yield* Console.log(CompareReport.text(results))
    yield* Console.log(`\nDoes the seed reproduce?\n${reproduction.map((l) => `- ${l}`).join("\n")}`)
    yield* Console.log(`\nSensitivity (estimated around each simulated result)\n${sensitivityText}`)
    const chart = yield* Effect.promise(() =>
      Charts.costPerScenario(
        results.flatMap((r) => [
          {
            scenario: Scenario.displayName(r.scenario),
            provider: "ECS + EC2",
            usdPerMonth: r.ecs.usdPerMonth
          },
          { scenario: Scenario.displayName(r.scenario), provider: "Fly.io", usdPerMonth: r.fly.usdPerMonth }
        ])
      )
    )
    const written = Results.write(options.out, {
      "compare.json": Results.stableJson({
        schemaVersion: Results.schemaVersion,
        kind: "compare",
        scenarios: results.map((r) => ({
          name: Scenario.displayName(r.scenario),
          seed: r.scenario.seed,
          days: r.scenario.days,
          seedClaim: r.scenario.seedClaim ?? null,
          ecs: {
            ...r.ecs,
            startLatencySeconds: undefined,
            p95StartSeconds: quantile(r.ecs.startLatencySeconds, 0.95)
          },
          fly: {
            ...r.fly,
            startLatencySeconds: undefined,
            p95StartSeconds: quantile(r.fly.startLatencySeconds, 0.95)
          }
        })),
        sensitivity
      }),
      "compare.md": CompareReport.markdown(
        results,
        `## Does the seed reproduce?\n\n${reproduction.map((l) => `- ${l}`).join("\n")}\n\n## Sensitivity\n\n${Table.markdown(Sensitivity.columns, sensitivity)}\n`
      ),
      "compare-cost-per-scenario.svg": chart
    })
    yield* Console.log(
      `\n${path === "wire" ? "wire path" : "engine"}: wall ${wall.toFixed(1)} s on ${Math.min(workers, jobs.length)} thread(s); ${events} simulated events (${Math.round(events / wall)} per second); ${(simulatedMillis / 1000 / wall).toFixed(0)} simulated seconds per wall second`
    )
    yield* Console.log(`wrote ${written.join(", ")}`)
  })

const quantile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0)
}

/**
 * Each scenario as `tuned.yaml` configures it (both sides tuned to its start-latency target), followed by the
 * scenario as its file configures it: the seed's configuration, labelled so.
 */
export const tunedAndSeed = (
  scenarios: ReadonlyArray<Scenario.Scenario>,
  tuned: Tune.Tuned
): ReadonlyArray<Scenario.Scenario> =>
  scenarios.flatMap((s) => {
    const choice = tuned[s.name]
    if (choice === undefined) return [s]
    return [
      { ...Tune.withFly(Tune.withEcs(s, choice.ecs), choice.fly), label: "tuned" },
      { ...s, label: "seed's config" }
    ]
  })

export const compare = (options: CommonOptions): Effect.Effect<void, ComputeError.InvalidRequest> =>
  Effect.gen(function* () {
    const scenarios = yield* Scenarios.seedScenarios
    const tuned = yield* Effect.orDie(Tune.readTuned(Scenarios.tunedFile))
    return yield* compareScenarios(tunedAndSeed(scenarios, tuned), options)
  })

/** Tunes each scenario (or the one named): per side, the cheapest configuration meeting its target. */
export const tune = (
  options: CommonOptions & { readonly scenario: Option.Option<string>; readonly sliceDays: number }
): Effect.Effect<void, ComputeError.InvalidRequest> =>
  Effect.gen(function* () {
    const all = (yield* Scenarios.seedScenarios).map((s) => withOverrides(s, options))
    const name = Option.getOrUndefined(options.scenario)
    const chosen = name === undefined ? all : all.filter((s) => s.name === name)
    if (chosen.length === 0)
      return yield* new ComputeError.InvalidRequest({
        module: "Commands",
        method: "tune",
        field: "scenario",
        expected: `one of ${all.map((s) => s.name).join(", ")}`,
        actual: name ?? ""
      })
    const results: Array<Tune.TuneResult> = []
    for (const scenario of chosen) {
      yield* Console.log(
        `${scenario.name}: target p95 ≤ ${scenario.startLatencyP95Seconds} s; slices of ${options.sliceDays} days, then ${scenario.days} days for the best`
      )
      const result = Tune.tune(scenario, options.sliceDays, (line) => console.log(line))
      results.push(result)
      yield* Console.log(
        `${scenario.name}: ecs ${result.ecs.chosen === undefined ? "no configuration meets the target" : Tune.describeEcs(result.ecs.chosen)}; fly ${result.fly.chosen === undefined ? "no configuration meets the target" : Tune.describeFly(result.fly.chosen)}`
      )
    }
    const previous = yield* Effect.orDie(Tune.readTuned(Scenarios.tunedFile))
    Tune.writeTuned(Scenarios.tunedFile, previous, results)
    yield* Console.log(`wrote ${Scenarios.tunedFile}`)
  })

export const runFile = (
  options: CommonOptions & { readonly file: string }
): Effect.Effect<void, ComputeError.InvalidRequest> =>
  Effect.flatMap(Scenario.load(options.file), (scenario) => compareScenarios([scenario], options))
