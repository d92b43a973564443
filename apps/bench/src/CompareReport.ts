/** The cost comparison table, its details and assumptions, as text and Markdown. */
import { PricingCatalog, Statistics } from "@hangar/core"
import type { SideResult } from "./CostTable.js"
import { execLimitSeconds, type Scenario } from "./Scenario.js"
import * as Table from "./Table.js"

export interface ScenarioResult {
  readonly scenario: Scenario
  readonly ecs: SideResult
  readonly fly: SideResult
}

const savings = (r: ScenarioResult) => 1 - r.fly.usdPerMonth / r.ecs.usdPerMonth

export const mainColumns: ReadonlyArray<Table.Column<ScenarioResult>> = [
  { header: "Scenario", value: (r) => r.scenario.name },
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
      scenario: r.scenario.name,
      provider: side.provider,
      tasks: side.tasks,
      failed: side.failed,
      cold: side.coldStarts,
      p50: Statistics.percentile(side.startLatencySeconds, 0.5),
      p95: Statistics.percentile(side.startLatencySeconds, 0.95),
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

const priceRows = () =>
  [PricingCatalog.fly, PricingCatalog.ec2].flatMap((c) =>
    c.prices.map((p) => ({
      provider: c.provider,
      key: p.key,
      price: p.unit === "ratio" ? `×${p.usd}` : `$${p.usd} per ${p.per}${p.unit === "GB" ? " per GB" : ""}`,
      source: p.source,
      asOf: p.asOf,
      note: p.note ?? ""
    }))
  )
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
      `- ${r.scenario.name}: ${r.scenario.description}; ${r.scenario.days} simulated days (seed ${r.scenario.seed}), size ${r.scenario.size}. ` +
      `ECS: ${r.scenario.ecs.instanceType}, Auto Scaling group min ${r.scenario.ecs.minInstances} / max ${r.scenario.ecs.maxInstances} per region, managed scaling at targetCapacity 100, one task per session released when its work ends — ${r.scenario.ecs.rationale} ` +
      `Fly: one machine per repository and region, ${r.scenario.fly.sleepsBy} after ${r.scenario.fly.idleTimeoutMinutes} idle minutes (fixed-timeout idle policy), a ${r.scenario.fly.volumeGb} GB workspace volume each. ` +
      `Both: a task's command may run up to ${execLimitSeconds(r.scenario)} s (the longest task plus 10 minutes).`
  )

/** Why tasks failed, per scenario and provider (empty when every task completed). */
export const failures = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<string> =>
  results.flatMap((r) =>
    [r.ecs, r.fly].flatMap((side) =>
      side.failureReasons.map((f) => `${r.scenario.name} ${side.provider}: ${f.count} × ${f.reason}`)
    )
  )

export const text = (results: ReadonlyArray<ScenarioResult>) =>
  [
    Table.text(mainColumns, results),
    "",
    "Task start latency and machine time",
    Table.text(latencyColumns, latencyRows(results)),
    ...(failures(results).length === 0 ? [] : ["", "Why tasks failed", ...failures(results)]),
    "",
    "Assumptions",
    ...assumptions(results),
    "",
    "Prices (every price with its source and date)",
    Table.text(priceColumns, priceRows())
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
    Table.markdown(priceColumns, priceRows())
  ].join("\n")

/** Why a seed row does not reproduce: what ECS would have to cost, or Fly, for the seed's savings to hold. */
export const reproduction = (r: ScenarioResult): string => {
  const claim = r.scenario.seedClaim
  if (claim === undefined) return ""
  const ours = savings(r) * 100
  if (Math.abs(ours - claim.savingsPercent) <= 10)
    return `${r.scenario.name}: reproduces within 10 points (${ours.toFixed(0)}% vs ${claim.savingsPercent}%).`
  const ecsNeeded = r.fly.usdPerMonth / (1 - claim.savingsPercent / 100)
  return `${r.scenario.name}: does not reproduce (${ours.toFixed(0)}% vs the seed's ${claim.savingsPercent}%). With this Fly bill (${Table.usd(r.fly.usdPerMonth)}), the seed's savings need ECS at ${Table.usd(ecsNeeded)}/mo; the simulated ECS bill is ${Table.usd(r.ecs.usdPerMonth)}. The seed's absolute figures (${Table.usd(claim.ecsUsdPerMonth, 0)} vs ${Table.usd(claim.flyUsdPerMonth, 0)}) imply ${claim.ecsUsdPerMonth >= r.ecs.usdPerMonth ? "a larger or more numerous" : "a smaller"} ECS fleet than this scenario's.`
}
