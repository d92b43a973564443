/**
 * hangar-bench's command line: the cost comparison of the seed's four workloads (default command), a user's own
 * workload (`run FILE`), the routing × idle policy benchmark (`policies`), the configuration search (`tune`), the
 * sensitivity by re-simulation (`sensitivity`), the seed rows' nearest reproducing configuration (`reproduce`) and
 * the difference of two runs (`diff A B`). `run` answers the process's exit code: 0 success, 1 a failed run, 2 a
 * usage or input error (printed once, one or two lines per issue, no stack and no log line).
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import { SimulatorCli } from "@hangar/core/simulation"
import { Cause, Console, Effect, Option } from "effect"
import * as Commands from "./Commands.js"
import * as Diff from "./Diff.js"
import * as Results from "./Results.js"
import * as Scenarios from "./Scenarios.js"

// ---- options

const seed = Options.integer("seed").pipe(
  Options.withDescription("override every scenario's seed"),
  Options.optional
)
const out = Options.directory("out").pipe(
  Options.withDefault("results"),
  Options.withDescription(
    "results directory: each run writes a folder of its own there; `latest` points at it"
  )
)
const name = Options.text("name").pipe(
  Options.withDescription("the run folder's name (default: the start time); a name already taken is refused"),
  Options.optional
)
const format = SimulatorCli.oneOf("format", Commands.formats).pipe(
  Options.withDescription("what stdout gets: the table, the results JSON (as the run folder's) or Markdown")
)
const days = Options.integer("days").pipe(
  Options.withDescription("simulate this many days instead of each scenario's own"),
  Options.optional
)
const workers = Options.integer("workers").pipe(
  Options.withDescription(
    "worker threads for the simulations (default: one per core; 1 runs in this thread)"
  ),
  Options.optional
)
const wire = Options.boolean("wire").pipe(
  Options.withDescription(
    "simulate through the provider plugins and the simulators' HTTP APIs instead of the engine (slow; the engine's check)"
  )
)
const common = { seed, out, name, format, days, workers, wire }
/** The seed scenario a command is limited to (default: all of them). */
const scenarioName = Args.text({ name: "scenario" }).pipe(Args.optional)
const seedConfig = Options.boolean("seed-config").pipe(
  Options.withDescription(
    "beside each tuned scenario, also simulate it as its file configures it (the seed's configuration): twice the work"
  )
)

// ---- commands

const compare = Command.make("compare", { ...common, seedConfig }, Commands.compare).pipe(
  Command.withDescription(
    "The seed's cost table: its four scenarios on ECS + EC2 and on Fly.io, each side tuned (tuned.yaml), one simulated month each"
  )
)

const tune = Command.make(
  "tune",
  {
    scenario: scenarioName,
    sliceDays: Options.integer("slice-days").pipe(
      Options.withDefault(7),
      Options.withDescription(
        "days of the short slices that rank the candidates before the best are run in full"
      )
    ),
    seed,
    days
  },
  Commands.tune
).pipe(
  Command.withDescription(
    "Per side, the cheapest configuration meeting the scenario's start-latency target, on the engine; writes tuned.yaml"
  )
)

const sensitivity = Command.make(
  "sensitivity",
  { scenario: scenarioName, seed, out, name, format, days, workers },
  Commands.sensitivity
).pipe(
  Command.withDescription(
    "Each seed scenario (or the one named) re-simulated with one variable changed from its tuned configuration: instance type × group minimum, Fly idle timeout, workspace size, sessions per day"
  )
)

const reproduce = Command.make(
  "reproduce",
  {
    scenario: scenarioName,
    file: Options.file("file").pipe(
      Options.withDefault(Scenarios.reproduceFile),
      Options.withDescription(
        "the file the answers are merged into (default: the package's reproduce.yaml, which compare reads)"
      )
    ),
    seed,
    days,
    workers
  },
  Commands.reproduce
).pipe(
  Command.withDescription(
    "Per seed row, the configuration nearest to the tuned one under which it reproduces (both $/mo within 15%, savings within 10 points), searched on the engine; writes reproduce.yaml"
  )
)

const run = Command.make(
  "run",
  { file: Args.file({ name: "scenario", exists: "yes" }), ...common },
  Commands.runFile
).pipe(
  Command.withDescription(
    "Run your own workload file (YAML or JSON; see apps/bench/scenarios/ and schema/scenario.schema.json) on both providers"
  )
)

const policies = Command.make(
  "policies",
  {
    seed,
    out,
    name,
    format,
    days,
    workers,
    router: Options.boolean("router").pipe(
      Options.withDescription(
        "drive each run with the Router itself instead of the engine's kernel (slow; the kernel's check)"
      )
    ),
    waitUsdPerHour: Options.float("wait-usd-per-hour").pipe(
      Options.withDefault(60),
      Options.withDescription("what an hour of waiting for sessions to start is worth")
    )
  },
  Commands.policies
).pipe(
  Command.withDescription(
    "Every routing × idle policy on every scenario and on Azure-shaped traces, on the engine, against the oracles"
  )
)

const diff = Command.make(
  "diff",
  { a: Args.text({ name: "A" }), b: Args.text({ name: "B" }), format },
  ({ a, b, format }) =>
    Effect.gen(function* () {
      const before = yield* Diff.read(a)
      const after = yield* Diff.read(b)
      const result = Diff.diff(a, before, b, after)
      yield* Console.log(
        format === "json"
          ? Diff.json(result)
          : format === "markdown"
            ? Diff.markdown(result)
            : Diff.text(result)
      )
    })
).pipe(
  Command.withDescription(
    "Compare two runs (run folders, results/latest or compare.json files): $/mo and percent, latency, configuration"
  )
)

const bench = Command.make("hangar-bench", { ...common, seedConfig }, Commands.compare).pipe(
  Command.withDescription("Hangar's cost and policy benchmarks (default: the cost comparison table)"),
  Command.withSubcommands([compare, run, policies, tune, sensitivity, reproduce, diff])
)

// ---- running it

/** The exit code of a usage or input error (as the simulators use); 1 is a run that failed. */
export const usageExitCode = 2
export const failureExitCode = 1

const cli = Command.run(bench, { name: Results.tool.name, version: Results.tool.version })

/** What a failure prints (once, on stderr) and the exit code it gives. */
const report = (cause: Cause.Cause<unknown>): Effect.Effect<number> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    // @effect/cli has printed its own usage errors already.
    if (ValidationError.isValidationError(error)) return Effect.succeed(usageExitCode)
    const tag = (error as { _tag?: string })._tag
    const message = (error as { message?: string }).message ?? String(error)
    const usage = tag === "InvalidInput" || tag === "RunFolderError" || tag === "InvalidRequest"
    return Effect.as(Console.error(message), usage ? usageExitCode : failureExitCode)
  }
  if (Cause.isInterruptedOnly(cause)) return Effect.as(Console.error("interrupted"), 130)
  const defect = Cause.squash(cause)
  const message = defect instanceof Error ? defect.message : String(defect)
  return Effect.as(Console.error(`${Results.tool.name}: the run failed: ${message}`), failureExitCode)
}

/** Runs hangar-bench on `args` (without `node` and the script) and answers the exit code. */
export const main = (args: ReadonlyArray<string>) =>
  cli(["node", Results.tool.name, ...args]).pipe(
    SimulatorCli.withoutStylesOffTerminal,
    Effect.matchCauseEffect({ onSuccess: () => Effect.succeed(0), onFailure: report })
  )
