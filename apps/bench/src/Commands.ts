/** What each hangar-bench command does: check its inputs, run, print to stdout in the chosen format, write a run folder. */
import { ComputeError } from "@hangar/core"
import { Console, Effect, Option } from "effect"
import * as Charts from "./Charts.js"
import * as CompareReport from "./CompareReport.js"
import type * as Engine from "./engine/Engine.js"
import * as HtmlReport from "./HtmlReport.js"
import type * as InputIssues from "./InputIssues.js"
import * as Jobs from "./Jobs.js"
import * as PolicyBenchmark from "./PolicyBenchmark.js"
import * as PolicyReport from "./PolicyReport.js"
import * as Reproduce from "./Reproduce.js"
import * as Results from "./Results.js"
import * as Scenario from "./Scenario.js"
import * as Scenarios from "./Scenarios.js"
import * as Sensitivity from "./Sensitivity.js"
import * as SideRuns from "./SideRuns.js"
import * as Style from "./Style.js"
import * as Table from "./Table.js"
import * as Tune from "./Tune.js"

/** What stdout gets: the terminal table, the results document (as the run folder's JSON), or Markdown. */
export const formats = ["table", "json", "markdown"] as const
export type Format = (typeof formats)[number]

export interface CommonOptions {
  readonly seed: Option.Option<number>
  /** The results directory: each run writes a folder of its own in it, and `latest` points at the newest. */
  readonly out: string
  /** The run folder's name (default: the run's start time). */
  readonly name?: Option.Option<string>
  readonly format?: Format
  readonly days?: Option.Option<number>
  /** Worker threads for the simulations (default: one per core). */
  readonly workers?: Option.Option<number>
  /** Through the plugins and the simulators' HTTP APIs instead of the engine. */
  readonly wire?: boolean
}

/** Everything a command may fail with that the user can fix (exit code 2); anything else is a failed run. */
export type InputError = InputIssues.InvalidInput | Results.RunFolderError | ComputeError.InvalidRequest

// ---- the run folder and stdout

/** Refuses a `--name` that is taken or unusable before anything is simulated. */
const checkName = (options: CommonOptions): Effect.Effect<void, Results.RunFolderError> => {
  const error = Results.checkName(options.out, Option.getOrUndefined(options.name ?? Option.none()))
  return error === undefined ? Effect.void : Effect.fail(error)
}

/** Writes the run's folder, points `latest` at it, prints the chosen format to stdout and the paths to stderr. */
const publish = (
  options: CommonOptions,
  files: Readonly<Record<string, string>>,
  stdout: Readonly<Record<Format, () => string>>
): Effect.Effect<void, Results.RunFolderError> =>
  Effect.gen(function* () {
    const folder = Results.createRunFolder(
      options.out,
      Option.getOrUndefined(options.name ?? Option.none()),
      new Date()
    )
    if (folder instanceof Results.RunFolderError) return yield* Effect.fail(folder)
    const written = Results.write(folder, files)
    const pointer = Results.pointLatest(options.out, folder)
    yield* Console.log(stdout[options.format ?? "table"]())
    yield* Console.error(`wrote ${written.join(", ")} (${pointer} points here)`)
  })

export const withOverrides = (
  scenario: Scenario.Scenario,
  options: Pick<CommonOptions, "seed" | "days">
): Scenario.Scenario => ({
  ...scenario,
  seed: Option.getOrElse(options.seed, () => scenario.seed),
  days: Option.getOrElse(options.days ?? Option.none(), () => scenario.days)
})

/** Worker threads: `--workers`, else one per core. */
const workersOf = (options: Pick<CommonOptions, "workers">) =>
  Option.getOrElse(options.workers ?? Option.none(), Jobs.defaultWorkers)

/**
 * The Azure-shaped traces `policies` adds to the scenarios: 20 repositories over a week each (or `--days`), on
 * `ecs`.
 */
const azureTraces = (
  seed: number,
  days: number,
  ecs: Engine.ClusterShape
): ReadonlyArray<PolicyBenchmark.PolicyTrace> =>
  [1, 2, 3].map((n) => ({
    name: `azure-shaped-${n}`,
    source: { kind: "azure" as const, options: { seed: seed * 1000 + n, repositories: 20, days }, ecs }
  }))

export const policies = (
  options: CommonOptions & { readonly waitUsdPerHour: number; readonly router?: boolean }
): Effect.Effect<void, InputError> =>
  Effect.gen(function* () {
    yield* checkName(options)
    const started = performance.now()
    // ECS is the shared cluster `compare` simulates: each scenario's tuned one (`tuned.yaml`).
    const tuned = yield* Effect.orDie(Tune.readTuned(Scenarios.tunedFile))
    const scenarios = tunedAndSeed(yield* Scenarios.seedScenarios, tuned, false).map((s) =>
      withOverrides(s, options)
    )
    const seed = Option.getOrElse(options.seed, () => 1)
    const traces: ReadonlyArray<PolicyBenchmark.PolicyTrace> = [
      ...scenarios.map((scenario) => ({
        name: scenario.name,
        source: { kind: "scenario" as const, scenario }
      })),
      ...azureTraces(
        seed,
        Option.getOrElse(options.days ?? Option.none(), () => 7),
        scenarios[0]!.ecs
      )
    ]
    const settings = { waitUsdPerSecond: options.waitUsdPerHour / 3600, seed }
    const runs = PolicyBenchmark.runsOf(traces, settings)
    const driver: Engine.Driver = options.router === true ? "router" : "kernel"
    // Each trace's bounds are a job too: the workers compute them while the last runs finish.
    const jobs: ReadonlyArray<Jobs.Job> = [
      ...PolicyBenchmark.groupsOf(runs).map((group) => ({ kind: "policy" as const, runs: group, driver })),
      ...traces.map((trace) => ({ kind: "bounds" as const, trace, options: settings }))
    ]
    const workers = workersOf(options)
    const outputs = yield* Jobs.runWithProgress(jobs, workers, "policies")
    const bounds = outputs.flatMap((o) => (o.kind === "bounds" ? [o.bounds] : []))
    const rows = PolicyBenchmark.rank(
      bounds,
      PolicyBenchmark.inRunOrder(
        runs,
        outputs.flatMap((o) => (o.kind === "policy" ? o.rows : []))
      ),
      settings.waitUsdPerSecond
    )
    const model = outputs.flatMap((o) => (o.kind === "bounds" ? o.model : []))
    const chart = yield* Effect.promise(() =>
      Charts.costVersusLatency(rows.map((r) => ({ ...r, policy: `${r.routing} × ${r.idle}` })))
    )
    const json = Results.stableJson({
      schemaVersion: Results.schemaVersion,
      kind: "policies",
      tool: Results.tool,
      currency: "USD",
      seed,
      waitUsdPerHour: options.waitUsdPerHour,
      bounds,
      rows,
      idleInModel: model
    })
    const markdown = PolicyReport.markdown(bounds, rows, model, options.waitUsdPerHour)
    const seconds = (performance.now() - started) / 1000
    yield* Console.error(
      `${rows.length} policy runs over ${traces.length} traces (${bounds.reduce((n, b) => n + b.tasks, 0)} tasks) on the engine (${driver === "kernel" ? "its kernel" : "the Router"}) in ${seconds.toFixed(1)} s wall on ${Math.min(workers, jobs.length)} thread(s)`
    )
    yield* publish(
      options,
      { "policies.json": json, "policies.md": markdown, "policies-cost-vs-start.svg": chart },
      {
        table: () => PolicyReport.text(bounds, rows, model, options.waitUsdPerHour),
        json: () => json,
        markdown: () => markdown
      }
    )
  })

/** `reproduce.yaml`'s answer for a seed row (none for a workload that is not the seed's). */
const reproduceEntry = (scenario: Scenario.Scenario, found: Reproduce.File): Reproduce.Entry | undefined => {
  const entry = found[scenario.name]
  const claim = scenario.seedClaim
  return entry !== undefined &&
    claim !== undefined &&
    entry.seedClaim.ecsUsdPerMonth === claim.ecsUsdPerMonth &&
    entry.seedClaim.flyUsdPerMonth === claim.flyUsdPerMonth &&
    entry.seedClaim.savingsPercent === claim.savingsPercent
    ? entry
    : undefined
}

/** Simulates each scenario on both providers and writes the comparison. */
export const compareScenarios = (
  scenarios: ReadonlyArray<Scenario.Scenario>,
  options: CommonOptions
): Effect.Effect<void, InputError> =>
  Effect.gen(function* () {
    yield* checkName(options)
    const wallStart = performance.now()
    const chosen = scenarios.map((s) => withOverrides(s, options))
    const path = options.wire === true ? "wire" : "engine"
    const workers = workersOf(options)
    const resultOf = yield* SideRuns.simulate(
      chosen.flatMap((scenario) => [
        { side: "fly" as const, scenario },
        { side: "ecs" as const, scenario }
      ]),
      workers,
      path === "wire" ? "simulating (wire)" : "simulating",
      path
    )
    const found = yield* Effect.orDie(Reproduce.read(Scenarios.reproduceFile))
    const results = chosen.map((scenario, index): CompareReport.ScenarioResult => {
      const reproduce = reproduceEntry(scenario, found)
      return {
        scenario,
        input: scenarios[index]!,
        ecs: resultOf({ side: "ecs", scenario }),
        fly: resultOf({ side: "fly", scenario }),
        ...(reproduce === undefined ? {} : { reproduce })
      }
    })
    const events = results.reduce((n, r) => n + r.ecs.events + r.fly.events + r.ecs.tasks + r.fly.tasks, 0)
    const simulatedMillis = chosen.reduce((sum, s) => sum + 2 * s.days * 86_400_000, 0)
    const jobs = chosen.reduce((n, s) => n + 1 + s.regions.length, 0)
    const wall = (performance.now() - wallStart) / 1000
    const pointer =
      "Re-simulated with one variable changed at a time (instance type × group minimum, idle timeout, workspace size, sessions per day): hangar-bench sensitivity [scenario]"
    const sections: ReadonlyArray<CompareReport.Section> = [
      { title: "Sensitivity", text: pointer, markdown: pointer, html: `<p>${Table.escapeHtml(pointer)}</p>` }
    ]
    const costRows = results.flatMap((r) => [
      { scenario: Scenario.displayName(r.scenario), provider: "ECS + EC2", usdPerMonth: r.ecs.usdPerMonth },
      { scenario: Scenario.displayName(r.scenario), provider: "Fly.io", usdPerMonth: r.fly.usdPerMonth }
    ])
    const chart = yield* Effect.promise(() => Charts.costPerScenario(costRows))
    const json = Results.stableJson(CompareReport.document(results))
    const markdown = CompareReport.markdown(results, sections)
    const html = HtmlReport.compare(results, sections, [
      Charts.costPerScenarioSpec(costRows),
      Charts.breakdownSpec(CompareReport.breakdownRows(results))
    ])
    yield* Console.error(
      `${path === "wire" ? "wire path" : "engine"}: wall ${wall.toFixed(1)} s on ${Math.min(workers, jobs)} thread(s); ${events} simulated events (${Math.round(events / wall)} per second); ${(simulatedMillis / 1000 / wall).toFixed(0)} simulated seconds per wall second`
    )
    yield* publish(
      options,
      {
        "compare.json": json,
        "compare.md": markdown,
        "compare-cost-per-scenario.svg": chart,
        "report.html": html
      },
      {
        table: () => CompareReport.text(results, sections, Style.forStream(process.stdout)),
        json: () => json,
        markdown: () => markdown
      }
    )
  })

/**
 * Each scenario as `tuned.yaml` configures it (both sides tuned to its start-latency target) and, with
 * `seedConfig`, followed by the scenario as its file configures it: the seed's configuration, labelled so.
 */
export const tunedAndSeed = (
  scenarios: ReadonlyArray<Scenario.Scenario>,
  tuned: Tune.Tuned,
  seedConfig: boolean
): ReadonlyArray<Scenario.Scenario> =>
  scenarios.flatMap((s) => {
    const choice = tuned[s.name]
    if (choice === undefined) return [s]
    const best = { ...Tune.withFly(Tune.withEcs(s, choice.ecs), choice.fly), label: "tuned" }
    return seedConfig ? [best, { ...s, label: "seed's config" }] : [best]
  })

/** The seed's four scenarios, tuned (and as configured with `--seed-config`). */
export const compare = (
  options: CommonOptions & { readonly seedConfig?: boolean }
): Effect.Effect<void, InputError> =>
  Effect.gen(function* () {
    const scenarios = yield* Scenarios.seedScenarios
    const tuned = yield* Effect.orDie(Tune.readTuned(Scenarios.tunedFile))
    return yield* compareScenarios(tunedAndSeed(scenarios, tuned, options.seedConfig ?? false), options)
  })

/** The seed scenarios (with `--seed` and `--days`), or the one named; an unknown name is refused. */
const pickScenarios = (
  options: Pick<CommonOptions, "seed" | "days"> & { readonly scenario: Option.Option<string> },
  method: string,
  eligible: (s: Scenario.Scenario) => boolean = () => true
): Effect.Effect<ReadonlyArray<Scenario.Scenario>, InputError> =>
  Effect.gen(function* () {
    const all = (yield* Scenarios.seedScenarios).filter(eligible).map((s) => withOverrides(s, options))
    const name = Option.getOrUndefined(options.scenario)
    const chosen = name === undefined ? all : all.filter((s) => s.name === name)
    if (chosen.length === 0)
      return yield* new ComputeError.InvalidRequest({
        module: "Commands",
        method,
        field: "scenario",
        expected: `one of ${all.map((s) => s.name).join(", ")}`,
        actual: name ?? ""
      })
    return chosen
  })

/** Tunes each scenario (or the one named): per side, the cheapest configuration meeting its target. */
export const tune = (
  options: Pick<CommonOptions, "seed" | "days"> & {
    readonly scenario: Option.Option<string>
    readonly sliceDays: number
  }
): Effect.Effect<void, InputError> =>
  Effect.gen(function* () {
    const chosen = yield* pickScenarios(options, "tune")
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

// ---- sensitivity and reproduce: many whole simulations on the worker pool

/** The sensitivity of each seed scenario (or the one named) around its tuned configuration, re-simulated. */
export const sensitivity = (
  options: CommonOptions & { readonly scenario: Option.Option<string> }
): Effect.Effect<void, InputError> =>
  Effect.gen(function* () {
    yield* checkName(options)
    const started = performance.now()
    const tuned = yield* Effect.orDie(Tune.readTuned(Scenarios.tunedFile))
    const bases = tunedAndSeed(yield* pickScenarios(options, "sensitivity"), tuned, false).map(
      ({ label: _label, ...scenario }) => scenario
    )
    const workers = workersOf(options)
    const simulated = yield* Sensitivity.simulate(bases, workers)
    const rows = simulated.map((s) => s.row)
    const wall = (performance.now() - started) / 1000
    const json = Results.stableJson({
      schemaVersion: Results.schemaVersion,
      kind: "sensitivity",
      tool: Results.tool,
      currency: "USD",
      scenarios: bases.map((s) => ({
        name: s.name,
        days: s.days,
        seed: s.seed,
        tuned: tuned[s.name] ?? null
      })),
      rows
    })
    const note = `Each row: the scenario simulated again on the engine over ${[...new Set(bases.map((s) => s.days))].join(", ")} days, one variable changed from its tuned configuration (tuned.yaml); $/mo scaled to 30 days.`
    const markdown = [
      "# Sensitivity, re-simulated",
      "",
      note,
      "",
      Table.markdown(Sensitivity.columns, rows)
    ].join("\n")
    yield* Console.error(
      `${rows.length} rows from ${SideRuns.distinct(Sensitivity.runsOf(bases.flatMap(Sensitivity.variants))).length} side simulations on the engine in ${wall.toFixed(1)} s wall on ${workers} thread(s)`
    )
    yield* publish(
      options,
      { "sensitivity.json": json, "sensitivity.md": markdown },
      {
        table: () =>
          [Table.text(Sensitivity.columns, rows, Style.forStream(process.stdout)), note].join("\n"),
        json: () => json,
        markdown: () => markdown
      }
    )
  })

/**
 * For each seed row (or the one named), the configuration nearest to the tuned one under which it reproduces,
 * searched on the engine over tune's space; writes reproduce.yaml.
 */
export const reproduce = (
  options: Pick<CommonOptions, "seed" | "days" | "workers"> & {
    readonly scenario: Option.Option<string>
    readonly file: string
  }
): Effect.Effect<void, InputError> =>
  Effect.gen(function* () {
    const started = performance.now()
    const chosen = yield* pickScenarios(options, "reproduce", (s) => s.seedClaim !== undefined)
    // Read first: a file that does not decode fails the run before anything is simulated.
    const previous = yield* Effect.orDie(Reproduce.read(options.file))
    const tuned = yield* Effect.orDie(Tune.readTuned(Scenarios.tunedFile))
    const searches = chosen.map((scenario) => ({ scenario, candidates: Reproduce.candidates(scenario) }))
    const workers = workersOf(options)
    const resultOf = yield* SideRuns.simulate(
      searches.flatMap(({ candidates }) => [
        ...candidates.ecs.map((c) => ({ side: "ecs" as const, scenario: c.scenario })),
        ...candidates.fly.map((c) => ({ side: "fly" as const, scenario: c.scenario }))
      ]),
      workers,
      "reproduce"
    )
    const entries: Record<string, Reproduce.Entry> = {}
    for (const { scenario, candidates } of searches) {
      const from = tuned[scenario.name] ?? Tune.configOf(scenario)
      const ecs = candidates.ecs.map((c) =>
        Reproduce.evaluate(c.scenario, c.config, resultOf({ side: "ecs", scenario: c.scenario }))
      )
      const fly = candidates.fly.map((c) =>
        Reproduce.evaluate(c.scenario, c.config, resultOf({ side: "fly", scenario: c.scenario }))
      )
      const found = Reproduce.nearest(scenario.seedClaim!, from, ecs, fly)
      if (found === undefined) continue
      const entry: Reproduce.Entry = {
        seedClaim: scenario.seedClaim!,
        days: scenario.days,
        tuned: from,
        searched: { ecs, fly },
        reproduces: found.reproduces,
        configuration: found.choice
      }
      entries[scenario.name] = entry
      yield* Console.log(`${scenario.name}: ${Reproduce.describe(entry)}`)
    }
    Reproduce.write(options.file, previous, entries)
    yield* Console.log(
      `wrote ${options.file} (${((performance.now() - started) / 1000).toFixed(1)} s wall on ${workers} thread(s))`
    )
  })

export const runFile = (
  options: CommonOptions & { readonly file: string }
): Effect.Effect<void, InputError> =>
  Effect.flatMap(Scenario.load(options.file), (scenario) => compareScenarios([scenario], options))
