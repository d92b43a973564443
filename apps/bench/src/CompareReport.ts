/** The cost comparison table, its details and assumptions, as text and Markdown. */
import { Pricing, PricingCatalog } from "@hangar/core"
import type { SideResult } from "./CostTable.js"
import { displayName, execLimitSeconds, type Scenario } from "./Scenario.js"
import * as Table from "./Table.js"

export interface ScenarioResult {
  readonly scenario: Scenario
  readonly ecs: SideResult
  readonly fly: SideResult
}

const savings = (r: ScenarioResult) => 1 - r.fly.usdPerMonth / r.ecs.usdPerMonth

const percentile = (values: ReadonlyArray<number>, p: number) => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0
}

export const mainColumns: ReadonlyArray<Table.Column<ScenarioResult>> = [
  { header: "Scenario", value: (r) => displayName(r.scenario) },
  { header: "ECS + EC2 $/mo", align: "right", value: (r) => Table.usd(r.ecs.usdPerMonth) },
  { header: "Fly.io $/mo", align: "right", value: (r) => Table.usd(r.fly.usdPerMonth) },
  { header: "Savings", align: "right", value: (r) => Table.percent(savings(r)) },
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

const latencyRows = (results: ReadonlyArray<ScenarioResult>) =>
  results.flatMap((r) =>
    [r.ecs, r.fly].map((side) => ({
      scenario: displayName(r.scenario),
      provider: side.provider,
      tasks: side.tasks,
      failed: side.failed,
      cold: side.coldStarts,
      p50: percentile(side.startLatencySeconds, 0.5),
      p95: percentile(side.startLatencySeconds, 0.95),
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
  { header: "Machine-hours by state", value: (r) => r.hours }
]

/** Fly's prices and, per AWS region a scenario used, the EC2 prices its bill used (instance types run, disks, IPv4, EFS, transfer). */
const priceRows = (results: ReadonlyArray<ScenarioResult>) => {
  const ec2Keys = new Map<string, Set<string>>()
  for (const r of results)
    for (const region of r.scenario.regions) {
      const aws = Pricing.awsRegionOf[region] ?? region
      const keys = ec2Keys.get(aws) ?? new Set<string>()
      for (const k of [`instance:${r.scenario.ecs.instanceType}`, "ebs:gp3", "ipv4:public", "efs:standard"])
        keys.add(k)
      keys.add("transfer:internet-out")
      ec2Keys.set(aws, keys)
    }
  const ec2 = [...ec2Keys].flatMap(([aws, keys]) => {
    const catalog = PricingCatalog.ec2ByRegion.get(aws)
    return catalog === undefined
      ? []
      : catalog.prices.filter((p) => keys.has(p.key)).map((p) => ({ c: catalog, p }))
  })
  return [...PricingCatalog.fly.prices.map((p) => ({ c: PricingCatalog.fly, p })), ...ec2].map(
    ({ c, p }) => ({
      provider: c.region === undefined ? c.provider : `${c.provider} ${c.region}`,
      key: p.key,
      price:
        p.unit === "ratio"
          ? `×${p.usd}`
          : p.unit === "GB-transferred"
            ? `$${p.usd} per GB`
            : `$${p.usd} per ${p.per}${p.unit === "GB" ? " per GB" : ""}`,
      source: p.source,
      asOf: p.asOf,
      note: p.note ?? ""
    })
  )
}
type PriceRow = ReturnType<typeof priceRows>[number]
const priceColumns: ReadonlyArray<Table.Column<PriceRow>> = [
  { header: "Provider", value: (r) => r.provider },
  { header: "Price", value: (r) => r.key },
  { header: "Amount", value: (r) => r.price },
  { header: "Source", value: (r) => r.source },
  { header: "As of", value: (r) => r.asOf }
]

const assumptions = (results: ReadonlyArray<ScenarioResult>) =>
  results.map(
    (r) =>
      `- ${displayName(r.scenario)}: ${r.scenario.description}; ${r.scenario.days} simulated days (seed ${r.scenario.seed}), size ${r.scenario.size} (the same vCPUs and memory per session on both sides); start-latency target p95 ≤ ${r.scenario.startLatencyP95Seconds} s. ` +
      `ECS: ${r.scenario.ecs.instanceType}, Auto Scaling group min ${r.scenario.ecs.minInstances} / max ${r.scenario.ecs.maxInstances} per region, managed scaling at targetCapacity ${r.scenario.ecs.targetCapacity}, one task per session (its own compute) released when its work ends, each instance with a public IPv4 and a 30 GiB gp3 root; each repository's workspace an EFS access point holding ${r.scenario.workspaceDataGb} GB, shared by its concurrent sessions — ${r.scenario.ecs.rationale} ` +
      `Fly: one machine per repository and region, sized for the most sessions of it that overlap (each gets the preset), ${r.scenario.fly.sleepsBy} after ${r.scenario.fly.idleTimeoutMinutes} idle minutes (fixed-timeout idle policy), a ${r.scenario.fly.volumeGb} GB workspace volume each. ` +
      `Both: prices of each region's own catalog; ${r.scenario.egressMbPerTaskMinute} MB sent to the internet per task-minute; a task's command may run up to ${execLimitSeconds(r.scenario)} s (the longest task plus 10 minutes).`
  )

/** Each side's bill by component (Infracost style), $ per 30 days. */
export const breakdownRows = (results: ReadonlyArray<ScenarioResult>) =>
  results.flatMap((r) =>
    [r.ecs, r.fly].flatMap((side) =>
      side.components.map((c) => ({
        scenario: displayName(r.scenario),
        side: side.provider,
        component: c.component,
        usd: c.usdPerMonth
      }))
    )
  )
type BreakdownRow = ReturnType<typeof breakdownRows>[number]
const breakdownColumns: ReadonlyArray<Table.Column<BreakdownRow>> = [
  { header: "Scenario", value: (r) => r.scenario },
  { header: "Side", value: (r) => r.side },
  { header: "Component", value: (r) => r.component },
  { header: "$/mo", align: "right", value: (r) => Table.usd(r.usd) }
]

/** Why tasks failed, per scenario and provider (empty when every task completed). */
export const failures = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<string> =>
  results.flatMap((r) =>
    [r.ecs, r.fly].flatMap((side) =>
      side.failureReasons.map((f) => `${displayName(r.scenario)} ${side.provider}: ${f.count} × ${f.reason}`)
    )
  )

export const text = (results: ReadonlyArray<ScenarioResult>) =>
  [
    Table.text(mainColumns, results),
    "",
    "Task start latency and machine time",
    Table.text(latencyColumns, latencyRows(results)),
    "",
    "Bill by component",
    Table.text(breakdownColumns, breakdownRows(results)),
    ...(failures(results).length === 0 ? [] : ["", "Why tasks failed", ...failures(results)]),
    "",
    "Assumptions",
    ...assumptions(results),
    "",
    "Prices (every price with its source and date)",
    Table.text(priceColumns, priceRows(results))
  ].join("\n")

export const markdown = (results: ReadonlyArray<ScenarioResult>, extra: string) =>
  [
    "# ECS + EC2 vs Fly.io: the seed's cost table, simulated",
    "",
    "Costs are what the simulators billed for each scenario's trace, dispatched through the real Router and provider plugins in virtual time; $/mo is scaled to 30 days.",
    "",
    Table.markdown(mainColumns, results),
    "",
    "## Task start latency and machine time",
    "",
    Table.markdown(latencyColumns, latencyRows(results)),
    "",
    "## Bill by component",
    "",
    Table.markdown(breakdownColumns, breakdownRows(results)),
    "",
    ...(failures(results).length === 0
      ? []
      : ["## Why tasks failed", "", ...failures(results).map((f) => `- ${f}`), ""]),
    extra,
    "## Assumptions",
    "",
    ...assumptions(results),
    "",
    "## Prices",
    "",
    Table.markdown(priceColumns, priceRows(results))
  ].join("\n")

/**
 * Whether a seed row reproduces, judged in dollars: both monthly figures within 15% of the seed's and the
 * savings within 10 points; if not, which of the three is off and by how much.
 */
export const reproduction = (r: ScenarioResult): string => {
  const claim = r.scenario.seedClaim
  if (claim === undefined) return ""
  const ours = savings(r) * 100
  const off = (ours: number, seed: number) => (ours - seed) / seed
  const ecsOff = off(r.ecs.usdPerMonth, claim.ecsUsdPerMonth)
  const flyOff = off(r.fly.usdPerMonth, claim.flyUsdPerMonth)
  const points = ours - claim.savingsPercent
  const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(0)}%`
  const figures = `ECS ${Table.usd(r.ecs.usdPerMonth)} vs the seed's ${Table.usd(claim.ecsUsdPerMonth, 0)} (${pct(ecsOff)}), Fly ${Table.usd(r.fly.usdPerMonth)} vs ${Table.usd(claim.flyUsdPerMonth, 0)} (${pct(flyOff)}), savings ${ours.toFixed(0)}% vs ${claim.savingsPercent}% (${points >= 0 ? "+" : ""}${points.toFixed(0)} pts)`
  const holds = Math.abs(ecsOff) <= 0.15 && Math.abs(flyOff) <= 0.15 && Math.abs(points) <= 10
  return `${displayName(r.scenario)}: ${holds ? "reproduces" : "does not reproduce"} in dollars (both within 15%, savings within 10 points): ${figures}.`
}
