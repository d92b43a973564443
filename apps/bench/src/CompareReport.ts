/**
 * The cost comparison as the results document (JSON: what a later reader needs), as a terminal table and as
 * Markdown: the monthly table (the seed's columns only where a scenario carries the seed's claim), start latency
 * p50/p95/p99, what each bill is made of, the assumptions, and the prices the run used with their sources.
 */
import { Pricing, PricingCatalog, Statistics } from "@hangar/core"
import * as Reproduce from "./Reproduce.js"
import * as Results from "./Results.js"
import { displayName, execLimitSeconds, type Scenario } from "./Scenario.js"
import type { SideResult } from "./Sides.js"
import * as Style from "./Style.js"
import * as Table from "./Table.js"

export interface ScenarioResult {
  /** As simulated: the input with `--seed` and `--days` applied. */
  readonly scenario: Scenario
  /** As parsed from its file. */
  readonly input: Scenario
  readonly ecs: SideResult
  readonly fly: SideResult
  /** For a seed row: `reproduce.yaml`'s answer, the nearest configuration under which it reproduces. */
  readonly reproduce?: Reproduce.Entry
}

const savings = (r: ScenarioResult) => 1 - r.fly.usdPerMonth / r.ecs.usdPerMonth

const hasSeedClaims = (results: ReadonlyArray<ScenarioResult>) =>
  results.some((r) => r.scenario.seedClaim !== undefined)

const seedColumns: ReadonlyArray<Table.Column<ScenarioResult>> = [
  {
    header: "Seed's savings",
    align: "right",
    value: (r) => (r.scenario.seedClaim === undefined ? "—" : `${r.scenario.seedClaim.savingsPercent}%`)
  },
  {
    header: "Difference",
    align: "right",
    value: (r) =>
      r.scenario.seedClaim === undefined
        ? "—"
        : `${savings(r) * 100 - r.scenario.seedClaim.savingsPercent >= 0 ? "+" : ""}${(savings(r) * 100 - r.scenario.seedClaim.savingsPercent).toFixed(0)} pts`
  },
  {
    header: "Seed's $/mo (ECS / Fly)",
    align: "right",
    value: (r) =>
      r.scenario.seedClaim === undefined
        ? "—"
        : `${Table.usd(r.scenario.seedClaim.ecsUsdPerMonth, 0)} / ${Table.usd(r.scenario.seedClaim.flyUsdPerMonth, 0)}`
  }
]

/** The monthly table's columns; the seed's only when a scenario carries its claim. */
export const mainColumns = (
  results: ReadonlyArray<ScenarioResult>
): ReadonlyArray<Table.Column<ScenarioResult>> => [
  { header: "Scenario", value: (r) => displayName(r.scenario) },
  { header: "ECS + EC2 $/mo", align: "right", value: (r) => Table.usd(r.ecs.usdPerMonth) },
  { header: "Fly.io $/mo", align: "right", value: (r) => Table.usd(r.fly.usdPerMonth) },
  { header: "Savings", align: "right", value: (r) => Table.percent(savings(r)) },
  ...(hasSeedClaims(results) ? seedColumns : [])
]

/** Says when $/mo is scaled from fewer (or more) simulated days than a 30-day month. */
export const extrapolation = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<string> => {
  const scaled = results.filter((r) => r.scenario.days !== 30)
  if (scaled.length === 0) return []
  const days = new Set(scaled.map((r) => r.scenario.days))
  const plural = (d: number) => `${d} simulated day${d === 1 ? "" : "s"}`
  return days.size === 1 && scaled.length === results.length
    ? [`$/mo from ${plural(scaled[0]!.scenario.days)}, scaled to 30 days`]
    : scaled.map((r) => `${displayName(r.scenario)}: $/mo from ${plural(r.scenario.days)}, scaled to 30 days`)
}

const latencyRows = (results: ReadonlyArray<ScenarioResult>) =>
  results.flatMap((r) =>
    [r.ecs, r.fly].map((side) => ({
      scenario: displayName(r.scenario),
      provider: side.provider,
      tasks: side.tasks,
      failed: side.failed,
      cold: side.coldStarts,
      p50: Statistics.percentile(side.startLatencySeconds, 0.5),
      p95: Statistics.percentile(side.startLatencySeconds, 0.95),
      p99: Statistics.percentile(side.startLatencySeconds, 0.99),
      hours: Object.entries(side.hoursByState)
        .filter(([, h]) => h >= 0.01)
        .map(([state, h]) => `${state} ${h.toFixed(1)}`)
        .join(", ")
    }))
  )

type LatencyRow = ReturnType<typeof latencyRows>[number]
const latencyColumns: ReadonlyArray<Table.Column<LatencyRow>> = [
  { header: "Scenario", value: (r) => r.scenario },
  { header: "Provider", value: (r) => r.provider },
  { header: "Tasks", align: "right", value: (r) => String(r.tasks) },
  { header: "Failed", align: "right", value: (r) => String(r.failed) },
  { header: "Cold starts", align: "right", value: (r) => String(r.cold) },
  { header: "Start p50 s", align: "right", value: (r) => r.p50.toFixed(1) },
  { header: "Start p95 s", align: "right", value: (r) => r.p95.toFixed(1) },
  { header: "Start p99 s", align: "right", value: (r) => r.p99.toFixed(1) },
  { header: "Machine-hours by state", value: (r) => r.hours }
]

// ---- the breakdown

export interface BreakdownRow {
  readonly scenario: string
  readonly side: "fly" | "ecs"
  readonly component: string
  readonly usd: number
  readonly usdPerMonth: number
}

/** Each side's bill by component (Infracost style), from the ledgers' components and data transfer. */
export const breakdownRows = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<BreakdownRow> =>
  results.flatMap((r) =>
    [r.ecs, r.fly].flatMap((side) =>
      side.components.map((c) => ({
        scenario: displayName(r.scenario),
        side: side.provider,
        component: c.component,
        usd: c.usd,
        usdPerMonth: c.usdPerMonth
      }))
    )
  )

export const breakdownColumns: ReadonlyArray<Table.Column<BreakdownRow>> = [
  { header: "Scenario", value: (r) => r.scenario },
  { header: "Provider", value: (r) => r.side },
  { header: "Component", value: (r) => r.component },
  { header: "$ simulated", align: "right", value: (r) => Table.usd(r.usd) },
  { header: "$/mo", align: "right", value: (r) => Table.usd(r.usdPerMonth) }
]

// ---- the prices a run used

export interface PriceUsed {
  readonly provider: string
  readonly key: string
  readonly amount: string
  readonly source: string
  readonly asOf: string
  readonly note: string
  readonly scenarios: ReadonlyArray<string>
}

/** The catalog keys a scenario's bills are priced with. */
const priceKeys = (r: ScenarioResult): ReadonlyArray<readonly [PricingCatalog.PricingCatalog, string]> => {
  const guest = Pricing.flyGuestBySize[r.scenario.size]
  const included = Pricing.includedMemoryMbPerCpu[guest.cpuKind] * guest.cpus
  const fly = PricingCatalog.fly
  const billed = new Set(r.fly.components.filter((c) => c.usd > 0).map((c) => c.component))
  const ec2Keys = [
    `instance:${r.scenario.ecs.instanceType}`,
    "ebs:gp3",
    "ipv4:public",
    "efs:standard",
    "transfer:internet-out",
    "transfer:free-gb",
    "billing:minimum-seconds"
  ]
  const ec2 = [...new Set(r.scenario.regions.map((region) => Pricing.awsRegionOf[region] ?? region))].flatMap(
    (aws) => {
      const catalog = PricingCatalog.ec2ByRegion.get(aws)
      return catalog === undefined ? [] : ec2Keys.map((key) => [catalog, key] as const)
    }
  )
  return [
    [fly, `cpu:${guest.cpuKind}`],
    ...(guest.memoryMb > included ? [[fly, "memory:additional"] as const] : []),
    [fly, "rootfs:stopped"],
    [fly, "volume"],
    ...(billed.has("snapshots") ? [[fly, "snapshot"] as const, [fly, "snapshot:free-gb"] as const] : []),
    ...r.scenario.regions.map((region) => [fly, `region-markup:${region}`] as const),
    ...fly.prices.filter((p) => p.key.startsWith("egress:")).map((p) => [fly, p.key] as const),
    ...ec2
  ]
}

/** Every price the run's bills used, once, with the scenarios that used it (catalog order). */
export const pricesUsed = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<PriceUsed> => {
  const users = new Map<PricingCatalog.Price, Array<string>>()
  for (const r of results)
    for (const [catalog, key] of priceKeys(r)) {
      const price = PricingCatalog.find(catalog, key)
      if (price === undefined) continue
      const names = users.get(price) ?? []
      if (!names.includes(displayName(r.scenario))) names.push(displayName(r.scenario))
      users.set(price, names)
    }
  return [PricingCatalog.fly, ...PricingCatalog.ec2ByRegion.values()].flatMap((c) =>
    c.prices.flatMap((p) => {
      const scenarios = users.get(p)
      return scenarios === undefined
        ? []
        : [
            {
              provider: c.region === undefined ? c.provider : `${c.provider} ${c.region}`,
              key: p.key,
              amount:
                p.unit === "ratio"
                  ? `×${p.usd}`
                  : p.unit === "GB-transferred"
                    ? `$${p.usd} per GB`
                    : `$${p.usd} per ${p.per}${p.unit === "GB" ? " per GB" : ""}`,
              source: p.source,
              asOf: p.asOf,
              note: p.note ?? "",
              scenarios
            }
          ]
    })
  )
}

const priceColumns: ReadonlyArray<Table.Column<PriceUsed>> = [
  { header: "Provider", value: (r) => r.provider },
  { header: "Price", value: (r) => r.key },
  { header: "Amount", value: (r) => r.amount },
  { header: "Source", value: (r) => r.source },
  { header: "As of", value: (r) => r.asOf }
]

/** Why the cluster is configured so: the scenario file's reasoning, or, when tuned, where the choice came from. */
const ecsReason = (scenario: ScenarioResult["scenario"]): string =>
  scenario.label === "tuned"
    ? `chosen by hangar-bench tune (tuned.yaml), the cheapest meeting the target; the scenario file reasons for its own cluster: ${scenario.ecs.rationale}`
    : scenario.ecs.rationale

export const assumptions = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<string> =>
  results.map(
    (r) =>
      `${displayName(r.scenario)}: ${r.scenario.description}; ${r.scenario.days} simulated days (seed ${r.scenario.seed}), size ${r.scenario.size} (the same vCPUs and memory per session on both sides); start-latency target p95 ≤ ${r.scenario.startLatencyP95Seconds} s. ` +
      `ECS: ${r.scenario.ecs.instanceType}, Auto Scaling group min ${r.scenario.ecs.minInstances} / max ${r.scenario.ecs.maxInstances} per region, managed scaling at targetCapacity ${r.scenario.ecs.targetCapacity}, one task per session (its own compute) released when its work ends, each instance with a public IPv4 and a 30 GiB gp3 root; each repository's workspace an EFS access point holding ${r.scenario.workspaceDataGb} GB, shared by its concurrent sessions — ${ecsReason(r.scenario)} ` +
      `Fly: one machine per repository and region, sized for the most sessions of it that overlap (each gets the preset), ${r.scenario.fly.sleepsBy} after ${r.scenario.fly.idleTimeoutMinutes} idle minutes (fixed-timeout idle policy), a ${r.scenario.fly.volumeGb} GB workspace volume each. ` +
      `Both: prices of each region's own catalog; ${r.scenario.egressMbPerTaskMinute} MB sent to the internet per task-minute; a task's command may run up to ${execLimitSeconds(r.scenario)} s (the longest task plus 10 minutes).`
  )

/** Why tasks failed, per scenario and provider (empty when every task completed). */
export const failures = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<string> =>
  results.flatMap((r) =>
    [r.ecs, r.fly].flatMap((side) =>
      side.failureReasons.map((f) => `${displayName(r.scenario)} ${side.provider}: ${f.count} × ${f.reason}`)
    )
  )

/**
 * Whether a seed row reproduces, judged in dollars (Reproduce.judge: both monthly figures within 15% of the seed's
 * and the savings within 10 points); if not, which of the three is off and by how much. Then, from
 * `reproduce.yaml`, the nearest configuration under which the row reproduces, or the closest the search came.
 */
export const reproduction = (r: ScenarioResult): string => {
  const claim = r.scenario.seedClaim
  if (claim === undefined) return ""
  const j = Reproduce.judge(claim, r.ecs.usdPerMonth, r.fly.usdPerMonth)
  const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(0)}%`
  const figures = `ECS ${Table.usd(r.ecs.usdPerMonth)} vs the seed's ${Table.usd(claim.ecsUsdPerMonth, 0)} (${pct(j.ecsOff)}), Fly ${Table.usd(r.fly.usdPerMonth)} vs ${Table.usd(claim.flyUsdPerMonth, 0)} (${pct(j.flyOff)}), savings ${j.savingsPercent.toFixed(0)}% vs ${claim.savingsPercent}% (${j.points >= 0 ? "+" : ""}${j.points.toFixed(0)} pts)`
  const line = `${displayName(r.scenario)}: ${j.reproduces ? "reproduces" : "does not reproduce"} in dollars (both within 15%, savings within 10 points): ${figures}.`
  return r.reproduce === undefined ? line : `${line}\n  ${Reproduce.describe(r.reproduce)}.`
}

/** The seed's reproduction, one line per scenario that carries its claim (none for a user's own workload). */
export const reproductions = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<string> =>
  results.map(reproduction).filter((line) => line.length > 0)

// ---- as text and Markdown

/** A titled section of the terminal report. */
export interface Section {
  readonly title: string
  readonly text: string
  readonly markdown: string
  readonly html: string
}

const htmlList = (lines: ReadonlyArray<string>) =>
  `<ul>\n${lines.map((l) => `<li>${Table.escapeHtml(l)}</li>`).join("\n")}\n</ul>`

/** Every section after the monthly table, in the order the reports show them. */
export const sections = (results: ReadonlyArray<ScenarioResult>, extra: ReadonlyArray<Section>) => {
  const bullets = (lines: ReadonlyArray<string>) => lines.map((l) => `- ${l}`).join("\n")
  const failed = failures(results)
  const seed = reproductions(results)
  const breakdown = breakdownRows(results)
  return [
    {
      title: "Task start latency and machine time",
      text: Table.text(latencyColumns, latencyRows(results)),
      markdown: Table.markdown(latencyColumns, latencyRows(results)),
      html: Table.html(latencyColumns, latencyRows(results))
    },
    {
      title: "What each bill is made of (from the simulators' ledgers)",
      text: Table.text(breakdownColumns, breakdown),
      markdown: Table.markdown(breakdownColumns, breakdown),
      html: Table.html(breakdownColumns, breakdown)
    },
    ...(failed.length === 0
      ? []
      : [
          {
            title: "Why tasks failed",
            text: failed.join("\n"),
            markdown: bullets(failed),
            html: htmlList(failed)
          }
        ]),
    ...(seed.length === 0
      ? []
      : [
          {
            title: "Does the seed reproduce?",
            text: bullets(seed),
            markdown: bullets(seed),
            html: htmlList(seed)
          }
        ]),
    ...extra,
    {
      title: "Assumptions",
      text: bullets(assumptions(results)),
      markdown: bullets(assumptions(results)),
      html: htmlList(assumptions(results))
    },
    {
      title: "Prices used (each with its source and date)",
      text: Table.text(priceColumns, pricesUsed(results)),
      markdown: Table.markdown(priceColumns, pricesUsed(results)),
      html: Table.html(priceColumns, pricesUsed(results))
    }
  ]
}

export const text = (
  results: ReadonlyArray<ScenarioResult>,
  extra: ReadonlyArray<Section> = [],
  style: Style.Style = Style.plain
): string =>
  [
    Table.text(mainColumns(results), results, style),
    ...extrapolation(results).map(style.dim),
    ...sections(results, extra).flatMap((s) => ["", style.bold(s.title), s.text])
  ].join("\n")

export const markdown = (results: ReadonlyArray<ScenarioResult>, extra: ReadonlyArray<Section> = []) =>
  [
    hasSeedClaims(results)
      ? "# ECS + EC2 vs Fly.io: the seed's cost table, simulated"
      : "# ECS + EC2 vs Fly.io, simulated",
    "",
    "Costs are what the simulators billed for each scenario's trace, dispatched through the real Router and policies in virtual time; $/mo is scaled to 30 days.",
    "",
    Table.markdown(mainColumns(results), results),
    ...extrapolation(results).map((line) => `\n${line}.`),
    ...sections(results, extra).flatMap((s) => ["", `## ${s.title}`, "", s.markdown])
  ].join("\n")

// ---- the results document

const sideDocument = ({ startLatencySeconds, components: _components, ...side }: SideResult) => ({
  ...side,
  startLatencySeconds: {
    p50: Statistics.percentile(startLatencySeconds, 0.5),
    p95: Statistics.percentile(startLatencySeconds, 0.95),
    p99: Statistics.percentile(startLatencySeconds, 0.99)
  }
})

/** The configuration each side ran with. */
export const configuration = (scenario: Scenario) => ({
  regions: scenario.regions,
  ecs: {
    instanceType: scenario.ecs.instanceType,
    minInstances: scenario.ecs.minInstances,
    maxInstances: scenario.ecs.maxInstances,
    targetCapacity: scenario.ecs.targetCapacity,
    task: Pricing.ecsTaskBySize[scenario.size],
    rootVolumeGib: Pricing.defaultEbsRootGib,
    pricesOf: scenario.regions.map((region) => Pricing.awsRegionOf[region] ?? region)
  },
  fly: {
    guest: Pricing.flyGuestBySize[scenario.size],
    idleTimeoutMinutes: scenario.fly.idleTimeoutMinutes,
    sleepsBy: scenario.fly.sleepsBy,
    volumeGb: scenario.fly.volumeGb
  }
})

/** The results document: what `compare.json` holds and `--format json` prints. */
export const document = (results: ReadonlyArray<ScenarioResult>) => ({
  schemaVersion: Results.schemaVersion,
  kind: "compare",
  tool: Results.tool,
  currency: "USD",
  scenarios: results.map((r) => ({
    name: displayName(r.scenario),
    seed: r.scenario.seed,
    days: r.scenario.days,
    seedClaim: r.scenario.seedClaim ?? null,
    input: r.input,
    configuration: configuration(r.scenario),
    ecs: sideDocument(r.ecs),
    fly: sideDocument(r.fly),
    breakdown: breakdownRows([r]).map(({ scenario: _scenario, ...row }) => row),
    nearestReproducing: r.reproduce ?? null
  })),
  prices: pricesUsed(results)
})
