/**
 * hangar-bench's command line, in process: a broken workload is refused before anything runs, with one or two
 * lines per issue and exit code 2; a run prints the chosen format to stdout (the JSON is the run folder's
 * document), writes a folder of its own that `latest` points at, and never overwrites one; `diff` compares two.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { assert, describe, it } from "vitest"
import * as Reproduce from "../src/Reproduce.js"
import * as Results from "../src/Results.js"
import * as Style from "../src/Style.js"
import * as Table from "../src/Table.js"
import { file, run, runSmall, smallWorkload, temporary } from "./CommandLine.js"

const regions = "iad, lhr, nrt, syd, lax, sjc, ams, fra, sin"
const instanceTypes =
  "t3.medium, t3.large, t3.xlarge, m6i.large, m7i.large, c6i.large, g4dn.xlarge, t4g.medium, t4g.large, m6g.large, c6g.large, m7g.large, c7g.large"

/** Broken workloads: the change to the small one, and the exact message (after the file's name). */
const broken: ReadonlyArray<{ readonly name: string; readonly text: string; readonly message: string }> = [
  {
    name: "unknown-region.yaml",
    text: smallWorkload.replace("[iad, lhr]", "[iad, xyz]"),
    message: `:7:16: regions[1]: expected a region, one of ${regions}; found "xyz"`
  },
  {
    name: "unpriced-instance.yaml",
    text: smallWorkload.replace("t3.large", "t3.nano"),
    message: `:11:22: ecs.instanceType: expected an EC2 instance type the price catalog has, one of ${instanceTypes}; found "t3.nano"`
  },
  {
    name: "misspelt-field.yaml",
    text: smallWorkload.replace("size: dev", "sizee: dev"),
    message: `:8:1: sizee: expected one of the fields name, description, seedClaim, seed, days, repositories, regions, size, arrival, duration, gpuShare, startLatencyP95Seconds, workspaceDataGb, egressMbPerTaskMinute, ecs, fly; found an unknown field "sizee"\n  did you mean "size"?`
  },
  {
    name: "missing-field.yaml",
    text: smallWorkload.replace("days: 1\n", ""),
    message: ":2:1: days: expected a positive number; found nothing (the field is missing)"
  },
  {
    name: "bad-syntax.yaml",
    text: smallWorkload.replace("[iad, lhr]", "[iad, lhr"),
    message:
      ":8:1: (document): expected a YAML or JSON document; found a syntax error (Flow sequence in block collection must be sufficiently indented and end with a ])"
  },
  {
    name: "minimum-above-maximum.yaml",
    text: smallWorkload.replace("minInstances: 1", "minInstances: 3"),
    message: ":11:46: ecs.minInstances: expected at most ecs.maxInstances (2); found 3"
  },
  {
    name: "unknown-arrival.yaml",
    text: smallWorkload.replace("kind: poisson", "kind: poison"),
    message: `:9:18: arrival.kind: expected a string, one of poisson, diurnal, bursty, periodic, continuous; found "poison"\n  did you mean "poisson"?`
  },
  {
    name: "words-for-a-number.yaml",
    text: smallWorkload.replace("repositories: 3", "repositories: three"),
    message: ':6:15: repositories: expected a whole number of 1 or more; found "three"'
  },
  {
    name: "unpriced-in-a-region.yaml",
    text: smallWorkload.replace("t3.large", "m6i.large"),
    message:
      ':7:16: regions[1]: expected a region whose EC2 prices (eu-west-2) price ecs.instanceType "m6i.large"; eu-west-2 prices t3.medium, t3.large; found "lhr"'
  },
  {
    name: "too-big-to-suspend.yaml",
    text: smallWorkload
      .replace("size: dev", "size: high-perf")
      .replace("t3.large", "t3.xlarge")
      .replace("regions: [iad, lhr]", "regions: [iad]"),
    message:
      ':12:41: fly.sleepsBy: expected "stop" for size high-perf (4096 MB): Fly suspends machines of at most 2048 MB; found "suspend"'
  }
]

describe("a broken workload is refused before anything runs", () => {
  for (const { name, text, message } of broken)
    it(`${name}: exit code 2 and the message, once`, async () => {
      const dir = temporary("broken")
      const path = file(dir, name, text)
      const outcome = await run(["run", path, "--out", join(dir, "results")])
      assert.strictEqual(outcome.err, `${path}${message}`)
      assert.strictEqual(outcome.out, "")
      assert.strictEqual(outcome.code, 2)
      assert.isFalse(existsSync(join(dir, "results")), "nothing is written")
    })

  it("a usage error names the flag and exits 2", async () => {
    const dir = temporary("usage")
    const outcome = await run(["run", file(dir, "small.yaml", smallWorkload), "--format", "xml"])
    assert.include(outcome.err, "--format must be table, json or markdown, got xml")
    assert.strictEqual(outcome.code, 2)
  })
})

describe("a run's output", () => {
  it("--format json prints the run folder's document and nothing else; latest points at the folder", async () => {
    const { results, outcome } = await runSmall("json", ["--format", "json"])
    assert.strictEqual(outcome.code, 0, outcome.err)
    const [folder, ...others] = readdirSync(results).filter((f) => f !== "latest")
    assert.deepStrictEqual(others, [])
    assert.match(folder!, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/)
    assert.strictEqual(readlinkSync(join(results, "latest")), folder)
    const written = readFileSync(join(results, "latest", "compare.json"), "utf8")
    assert.strictEqual(`${outcome.out}\n`, written)
    const document = JSON.parse(outcome.out)
    assert.strictEqual(document.schemaVersion, 2)
    assert.strictEqual(document.currency, "USD")
    assert.deepStrictEqual(document.tool, { name: "hangar-bench", version: "0.1.0" })
    const [scenario] = document.scenarios
    assert.strictEqual(scenario.input.name, "small")
    assert.deepStrictEqual(scenario.input.regions, ["iad", "lhr"])
    assert.strictEqual(scenario.configuration.ecs.instanceType, "t3.large")
    for (const side of [scenario.ecs, scenario.fly]) {
      const { p50, p95, p99 } = side.startLatencySeconds
      assert.isTrue(p50 > 0 && p50 <= p95 && p95 <= p99, JSON.stringify(side.startLatencySeconds))
    }
    // The breakdown adds up to each side's bill.
    for (const side of ["ecs", "fly"] as const) {
      const parts = scenario.breakdown.filter((c: { side: string }) => c.side === side)
      const total = parts.reduce((sum: number, c: { usd: number }) => sum + c.usd, 0)
      assert.isAbove(parts.length, 0)
      assert.approximately(total, scenario[side].usd, 1e-5)
    }
    assert.includeMembers(
      scenario.breakdown.map((c: { component: string }) => c.component),
      ["compute (instances running)", "root disk (30 GiB gp3 per instance)", "compute (started)"]
    )
    // Only the prices used: the t3.large's, none of the other instance types'.
    const keys = document.prices.map((p: { key: string }) => p.key)
    assert.include(keys, "instance:t3.large")
    assert.notInclude(keys, "instance:t3.medium")
  })

  it("the table says $/mo is extrapolated, shows no seed columns for one's own workload, lists the prices used", async () => {
    const dir = temporary("table")
    const outcome = await run(["run", file(dir, "small.yaml", smallWorkload), "--out", join(dir, "r")])
    assert.strictEqual(outcome.code, 0, outcome.err)
    assert.include(outcome.out, "$/mo from 1 simulated day, scaled to 30 days")
    assert.notInclude(outcome.out, "Seed's")
    assert.notInclude(outcome.out, "Does the seed reproduce?")
    assert.include(outcome.out, "instance:t3.large")
    assert.notInclude(outcome.out, "instance:m7i.large")
    assert.notInclude(outcome.out, "\u001b[", "no colours off a terminal")
    assert.include(outcome.err, "thread(s)")
  })

  it("--format markdown prints the run folder's Markdown", async () => {
    const { results, outcome } = await runSmall("markdown", ["--format", "markdown"])
    assert.strictEqual(outcome.code, 0, outcome.err)
    assert.strictEqual(`${outcome.out}\n`, readFileSync(join(results, "latest", "compare.md"), "utf8"))
    assert.include(outcome.out, "| Scenario | ECS + EC2 $/mo |")
  })

  it("a run never overwrites another: a taken --name is refused (exit 2) before simulating", async () => {
    const dir = temporary("name")
    const results = join(dir, "r")
    const workload = file(dir, "small.yaml", smallWorkload)
    const first = await run(["run", workload, "--out", results, "--name", "baseline"])
    assert.strictEqual(first.code, 0, first.err)
    const before = readFileSync(join(results, "baseline", "compare.json"), "utf8")
    const second = await run(["run", workload, "--out", results, "--name", "baseline", "--seed", "8"])
    assert.strictEqual(second.code, 2)
    assert.strictEqual(
      second.err,
      `--name: ${join(results, "baseline")} already exists; choose another name or remove that folder`
    )
    assert.strictEqual(readFileSync(join(results, "baseline", "compare.json"), "utf8"), before)
    const third = await run(["run", workload, "--out", results])
    assert.strictEqual(third.code, 0, third.err)
    assert.notStrictEqual(readlinkSync(join(results, "latest")), "baseline")
    assert.strictEqual(readdirSync(results).length, 3)
  })

  it("a folder named latest in the results directory is refused (exit 2), not replaced", async () => {
    const dir = temporary("latest-folder")
    mkdirSync(join(dir, "results", "latest"), { recursive: true })
    const outcome = await run(["run", file(dir, "small.yaml", smallWorkload), "--out", join(dir, "results")])
    assert.strictEqual(outcome.code, 2)
    assert.strictEqual(
      outcome.err,
      `--out: ${join(dir, "results", "latest")} is a folder, not a pointer to a run; move it away`
    )
    assert.deepStrictEqual(readdirSync(join(dir, "results")), ["latest"])
  })
})

describe("a run that fails", () => {
  it("exits 1 with one line saying why (here: worker threads asked for, but no built worker beside the sources)", async () => {
    const { outcome } = await runSmall("failed", ["--workers", "2"])
    assert.strictEqual(outcome.code, 1)
    assert.match(
      outcome.err,
      /^hangar-bench: the run failed: --workers needs the built worker at \S+worker\.js$/
    )
  })
})

describe("hangar-bench diff", () => {
  it("per scenario and provider: dollars and percent, latency, configuration changes", async () => {
    const dir = temporary("diff")
    const results = join(dir, "r")
    const a = await run(["run", file(dir, "a.yaml", smallWorkload), "--out", results, "--name", "a"])
    const changed = smallWorkload
      .replace("minInstances: 1", "minInstances: 2")
      .replace("perDay: 20", "perDay: 30")
    const b = await run(["run", file(dir, "b.yaml", changed), "--out", results, "--name", "b"])
    assert.strictEqual(a.code + b.code, 0, a.err + b.err)
    const docA = JSON.parse(readFileSync(join(results, "a", "compare.json"), "utf8"))
    const docB = JSON.parse(readFileSync(join(results, "b", "compare.json"), "utf8"))
    const outcome = await run(["diff", join(results, "a"), join(results, "latest"), "--format", "json"])
    assert.strictEqual(outcome.code, 0, outcome.err)
    const diff = JSON.parse(outcome.out)
    const ecs = diff.sides.find((s: { provider: string }) => s.provider === "ecs")
    const [ecsA, ecsB] = [docA.scenarios[0].ecs.usdPerMonth, docB.scenarios[0].ecs.usdPerMonth]
    assert.approximately(ecs.usdPerMonth.delta, ecsB - ecsA, 1e-5)
    assert.approximately(ecs.usdPerMonth.percent, (ecsB - ecsA) / ecsA, 1e-5)
    assert.isAbove(ecs.usdPerMonth.delta, 0, "two warm instances per region cost more than one")
    assert.strictEqual(ecs.startLatencySeconds.p95.a, docA.scenarios[0].ecs.startLatencySeconds.p95)
    assert.deepStrictEqual(
      diff.configurationChanges.map((c: { field: string; a: unknown; b: unknown }) => [c.field, c.a, c.b]),
      [
        ["ecs.minInstances", 1, 2],
        ["workload.arrival.perDay", 20, 30]
      ]
    )
    const table = await run(["diff", join(results, "a"), join(results, "b")])
    assert.include(table.out, "ecs.minInstances")
    assert.match(table.out, /ECS \+ EC2 +\$\d+\.\d\d +\$\d+\.\d\d +\+\$\d+\.\d\d +\+\d+\.\d%/)
  })

  it("reads latest as a link or, where links cannot be made, as a file holding the folder's name", async () => {
    const dir = temporary("pointer")
    mkdirSync(join(dir, "run-1"))
    writeFileSync(join(dir, "pointer"), "run-1\n")
    assert.strictEqual(
      Results.resolve(join(dir, "pointer"), "compare.json"),
      join(dir, "run-1", "compare.json")
    )
    assert.strictEqual(
      Results.resolve(join(dir, "run-1"), "compare.json"),
      join(dir, "run-1", "compare.json")
    )
    writeFileSync(join(dir, "doc.json"), "{}")
    assert.strictEqual(Results.resolve(join(dir, "doc.json"), "compare.json"), join(dir, "doc.json"))
  })

  it("a path that holds no results is an input error", async () => {
    const dir = temporary("diff-missing")
    const outcome = await run(["diff", join(dir, "nothing"), join(dir, "nothing-either")])
    assert.strictEqual(outcome.code, 2)
    assert.strictEqual(
      outcome.err,
      `${join(dir, "nothing")}:1:1: (document): expected a run folder, results/latest or a compare.json file; found nothing at ${join(dir, "nothing")}`
    )
  })
})

describe("colours", () => {
  it("only on a terminal, and never with NO_COLOR set", () => {
    assert.isTrue(Style.coloured({ isTTY: true }, {}))
    assert.isFalse(Style.coloured({ isTTY: true }, { NO_COLOR: "1" }))
    assert.isFalse(Style.coloured({ isTTY: false }, {}))
    assert.isFalse(Style.coloured({}, {}))
    const columns = [{ header: "Scenario", value: (s: string) => s }]
    assert.include(Table.text(columns, ["small"], Style.forStream({ isTTY: true }, {})), "\u001b[1mScenario")
    assert.notInclude(
      Table.text(columns, ["small"], Style.forStream({ isTTY: true }, { NO_COLOR: "x" })),
      "\u001b["
    )
  })
})

describe("the README's sensitivity and reproduce examples", () => {
  it("sensitivity prints the run folder's rows: each variable with its tuned row, re-simulated", async () => {
    const dir = temporary("sensitivity")
    const results = join(dir, "results")
    const outcome = await run([
      "sensitivity",
      "always-on",
      "--days",
      "1",
      "--out",
      results,
      "--format",
      "json"
    ])
    assert.strictEqual(outcome.code, 0, outcome.err)
    assert.strictEqual(`${outcome.out}\n`, readFileSync(join(results, "latest", "sensitivity.json"), "utf8"))
    assert.isTrue(existsSync(join(results, "latest", "sensitivity.md")))
    const document = JSON.parse(outcome.out)
    assert.strictEqual(document.kind, "sensitivity")
    const rows: ReadonlyArray<{ variable: string; tuned: boolean; ecsUsdPerMonth: number }> = document.rows
    assert.sameMembers(
      [...new Set(rows.map((r) => r.variable))],
      ["ECS instance type × group minimum", "Fly idle timeout", "Workspace size", "Sessions per day"]
    )
    assert.strictEqual(rows.filter((r) => r.tuned).length, 4)
    assert.isAbove(
      new Set(rows.map((r) => r.ecsUsdPerMonth)).size,
      4,
      "the ECS rows are simulations of their own"
    )
    assert.match(outcome.err, /rows from \d+ side simulations on the engine/)
  }, 300_000)

  it("reproduce writes each searched row's answer to the file it is given, and refuses an unknown scenario", async () => {
    const dir = temporary("reproduce")
    const path = join(dir, "reproduce.yaml")
    const outcome = await run(["reproduce", "always-on", "--days", "1", "--file", path])
    assert.strictEqual(outcome.code, 0, outcome.err)
    assert.match(
      outcome.out,
      /^always-on: (nearest configuration that reproduces|none in the searched space)/
    )
    const entries = await Effect.runPromise(Reproduce.read(path))
    assert.deepStrictEqual(Object.keys(entries), ["always-on"])
    assert.strictEqual(entries["always-on"]!.days, 1)
    const unknown = await run(["reproduce", "nope", "--days", "1", "--file", path])
    assert.strictEqual(unknown.code, 2)
    assert.match(unknown.err, /scenario/)
    assert.match(unknown.err, /hundred-tasks-a-day, always-on, bursty, global/)
  }, 300_000)
})
