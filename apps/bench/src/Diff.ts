/**
 * `hangar-bench diff A B`: what changed between two comparison runs (run folders, `results/latest`, or their
 * `compare.json`), per scenario and provider: $/mo in dollars and percent, start latency p50/p95/p99, tasks
 * failed, and every configuration field that differs, in the manner of `infracost diff`.
 */
import { existsSync, readFileSync } from "node:fs"
import { Effect, Either, Schema } from "effect"
import * as InputIssues from "./InputIssues.js"
import * as Results from "./Results.js"
import * as Table from "./Table.js"

const Latency = Schema.Struct({ p50: Schema.Number, p95: Schema.Number, p99: Schema.Number })
const Side = Schema.Struct({
  usdPerMonth: Schema.Number,
  tasks: Schema.Number,
  failed: Schema.Number,
  startLatencySeconds: Latency
})

/** The part of a results document (`compare.json`, schema 2) that a diff reads. */
export const CompareDocument = Schema.Struct({
  schemaVersion: Schema.Literal(Results.schemaVersion),
  kind: Schema.Literal("compare"),
  scenarios: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      days: Schema.Number,
      seed: Schema.Number,
      input: Schema.Struct({
        size: Schema.Unknown,
        repositories: Schema.Unknown,
        arrival: Schema.Unknown,
        duration: Schema.Unknown,
        gpuShare: Schema.Unknown
      }),
      configuration: Schema.Unknown,
      ecs: Side,
      fly: Side
    })
  )
})
export type CompareDocument = typeof CompareDocument.Type

const decode = Schema.decodeUnknownEither(CompareDocument, { errors: "all" })

/** Reads a comparison's results from a run folder, a `latest` pointer or the JSON file. */
export const read = (path: string): Effect.Effect<CompareDocument, InputIssues.InvalidInput> =>
  Effect.suspend(() => {
    const file = Results.resolve(path, "compare.json")
    if (!existsSync(file))
      return Effect.fail(
        InputIssues.invalidInput(path, [
          {
            path: [],
            expected: "a run folder, results/latest or a compare.json file",
            found: `nothing at ${file}`,
            line: 1,
            column: 1
          }
        ])
      )
    const source = InputIssues.parseSource(readFileSync(file, "utf8"), file)
    if (source instanceof InputIssues.InvalidInput) return Effect.fail(source)
    const decoded = decode(source.data)
    return Either.isRight(decoded)
      ? Effect.succeed(decoded.right)
      : Effect.fail(
          InputIssues.invalidInput(file, InputIssues.fromParseIssue(decoded.left.issue).map(source.locate))
        )
  })

// ---- the difference

type Figures = { readonly a: number; readonly b: number; readonly delta: number }

export interface SideDiff {
  readonly scenario: string
  readonly provider: "ecs" | "fly"
  /** Only in one of the runs: `added` (in B) or `removed` (only in A). */
  readonly change: "changed" | "added" | "removed"
  readonly usdPerMonth: Figures & { readonly percent: number | null }
  readonly failed: Figures
  readonly startLatencySeconds: { readonly p50: Figures; readonly p95: Figures; readonly p99: Figures }
}

export interface ConfigurationChange {
  readonly scenario: string
  readonly field: string
  readonly a: unknown
  readonly b: unknown
}

export interface Diff {
  readonly a: string
  readonly b: string
  readonly sides: ReadonlyArray<SideDiff>
  readonly totalUsdPerMonth: Figures & { readonly percent: number | null }
  readonly configurationChanges: ReadonlyArray<ConfigurationChange>
}

const figures = (a: number, b: number): Figures => ({ a, b, delta: b - a })
const withPercent = (a: number, b: number) => ({ ...figures(a, b), percent: a === 0 ? null : (b - a) / a })

/** Every leaf of a JSON value by its dotted path. */
const leaves = (value: unknown, path = ""): ReadonlyArray<readonly [string, unknown]> => {
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    return Object.entries(value).flatMap(([key, v]) => leaves(v, path === "" ? key : `${path}.${key}`))
  return [[path, value]]
}

const configurationChanges = (
  scenario: string,
  a: unknown,
  b: unknown
): ReadonlyArray<ConfigurationChange> => {
  const before = new Map(leaves(a))
  const after = new Map(leaves(b))
  const fields = [...new Set([...before.keys(), ...after.keys()])].sort()
  return fields.flatMap((field) =>
    JSON.stringify(before.get(field)) === JSON.stringify(after.get(field))
      ? []
      : [{ scenario, field, a: before.get(field) ?? null, b: after.get(field) ?? null }]
  )
}

type Scenario = CompareDocument["scenarios"][number]
const emptySide = {
  usdPerMonth: 0,
  tasks: 0,
  failed: 0,
  startLatencySeconds: { p50: 0, p95: 0, p99: 0 }
}

const sideDiff = (
  name: string,
  provider: "ecs" | "fly",
  a: Scenario | undefined,
  b: Scenario | undefined
): SideDiff => {
  const before = a?.[provider] ?? emptySide
  const after = b?.[provider] ?? emptySide
  const latency = (p: "p50" | "p95" | "p99") =>
    figures(before.startLatencySeconds[p], after.startLatencySeconds[p])
  return {
    scenario: name,
    provider,
    change: a === undefined ? "added" : b === undefined ? "removed" : "changed",
    usdPerMonth: withPercent(before.usdPerMonth, after.usdPerMonth),
    failed: figures(before.failed, after.failed),
    startLatencySeconds: { p50: latency("p50"), p95: latency("p95"), p99: latency("p99") }
  }
}

/** B against A: each scenario of either run, on both providers. */
export const diff = (aName: string, a: CompareDocument, bName: string, b: CompareDocument): Diff => {
  const before = new Map(a.scenarios.map((s) => [s.name, s]))
  const after = new Map(b.scenarios.map((s) => [s.name, s]))
  const names = [
    ...a.scenarios.map((s) => s.name),
    ...b.scenarios.map((s) => s.name).filter((n) => !before.has(n))
  ]
  const sides = names.flatMap((name) =>
    (["ecs", "fly"] as const).map((provider) => sideDiff(name, provider, before.get(name), after.get(name)))
  )
  const total = (pick: "a" | "b") => sides.reduce((sum, s) => sum + s.usdPerMonth[pick], 0)
  return {
    a: aName,
    b: bName,
    sides,
    totalUsdPerMonth: withPercent(total("a"), total("b")),
    configurationChanges: names.flatMap((name) => {
      const x = before.get(name)
      const y = after.get(name)
      if (x === undefined || y === undefined) return []
      const settings = (s: Scenario) => ({
        days: s.days,
        seed: s.seed,
        workload: s.input,
        ...(s.configuration as object)
      })
      return configurationChanges(name, settings(x), settings(y))
    })
  }
}

// ---- as text, Markdown and JSON

const signedUsd = (value: number) => `${value >= 0 ? "+" : "-"}${Table.usd(Math.abs(value))}`
const signedPercent = (value: number | null) =>
  value === null ? "—" : `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}%`
const seconds = (f: Figures) => `${f.a.toFixed(1)} → ${f.b.toFixed(1)}`
const providerName = { ecs: "ECS + EC2", fly: "Fly.io" } as const

const columns: ReadonlyArray<Table.Column<SideDiff>> = [
  { header: "Scenario", value: (s) => (s.change === "changed" ? s.scenario : `${s.scenario} (${s.change})`) },
  { header: "Provider", value: (s) => providerName[s.provider] },
  { header: "$/mo A", align: "right", value: (s) => Table.usd(s.usdPerMonth.a) },
  { header: "$/mo B", align: "right", value: (s) => Table.usd(s.usdPerMonth.b) },
  { header: "Change", align: "right", value: (s) => signedUsd(s.usdPerMonth.delta) },
  { header: "%", align: "right", value: (s) => signedPercent(s.usdPerMonth.percent) },
  { header: "Start p50 s", align: "right", value: (s) => seconds(s.startLatencySeconds.p50) },
  { header: "Start p95 s", align: "right", value: (s) => seconds(s.startLatencySeconds.p95) },
  { header: "Start p99 s", align: "right", value: (s) => seconds(s.startLatencySeconds.p99) },
  { header: "Failed", align: "right", value: (s) => `${s.failed.a} → ${s.failed.b}` }
]

const changeColumns: ReadonlyArray<Table.Column<ConfigurationChange>> = [
  { header: "Scenario", value: (c) => c.scenario },
  { header: "Field", value: (c) => c.field },
  { header: "A", value: (c) => JSON.stringify(c.a) },
  { header: "B", value: (c) => JSON.stringify(c.b) }
]

const totalLine = (d: Diff) =>
  `Total $/mo: ${Table.usd(d.totalUsdPerMonth.a)} → ${Table.usd(d.totalUsdPerMonth.b)} (${signedUsd(d.totalUsdPerMonth.delta)}, ${signedPercent(d.totalUsdPerMonth.percent)})`

export const text = (d: Diff): string =>
  [
    `A: ${d.a}`,
    `B: ${d.b}`,
    "",
    Table.text(columns, d.sides),
    "",
    totalLine(d),
    "",
    d.configurationChanges.length === 0
      ? "Configuration: no changes"
      : `Configuration changes\n${Table.text(changeColumns, d.configurationChanges)}`
  ].join("\n")

export const markdown = (d: Diff): string =>
  [
    `# ${d.b} against ${d.a}`,
    "",
    Table.markdown(columns, d.sides),
    "",
    `${totalLine(d)}`,
    "",
    "## Configuration changes",
    "",
    d.configurationChanges.length === 0 ? "None." : Table.markdown(changeColumns, d.configurationChanges)
  ].join("\n")

export const json = (d: Diff): string =>
  Results.stableJson({ schemaVersion: Results.schemaVersion, kind: "diff", tool: Results.tool, ...d })
