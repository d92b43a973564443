/**
 * /metrics in Prometheus' text format (prom-client, one registry per server): tasks finished by provider and
 * outcome, the start-latency histogram, sessions by state and tasks by state (read when scraped), failovers,
 * reconcile actions.
 */
import type { Router } from "@hangar/router"
import { Counter, Gauge, Histogram, Registry } from "prom-client"

export interface Metrics {
  readonly taskFinished: (provider: string, outcome: "succeeded" | "failed" | "unknown") => void
  readonly startLatency: (millis: number) => void
  readonly failovers: (count: number) => void
  readonly reconciled: (report: Router.ReconcileReport) => void
  /** The text, with the gauges set from what the stores hold now. */
  readonly render: (gauges: {
    readonly sessionsByState: ReadonlyMap<string, number>
    readonly tasksByState: ReadonlyArray<{ readonly state: string; readonly count: number }>
  }) => Promise<string>
  readonly contentType: string
}

export const make = (instanceId: string): Metrics => {
  const registry = new Registry()
  registry.setDefaultLabels({ instance_id: instanceId })
  const tasks = new Counter({
    name: "hangar_tasks_finished_total",
    help: "Tasks this instance finished, by provider and outcome",
    labelNames: ["provider", "outcome"],
    registers: [registry]
  })
  const latency = new Histogram({
    name: "hangar_task_start_latency_seconds",
    help: "From dispatch to a running session",
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry]
  })
  const sessions = new Gauge({
    name: "hangar_sessions",
    help: "Live session records by state (all instances of the store)",
    labelNames: ["state"],
    registers: [registry]
  })
  const byState = new Gauge({
    name: "hangar_tasks",
    help: "Tasks by state (all instances of the store)",
    labelNames: ["state"],
    registers: [registry]
  })
  const failovers = new Counter({
    name: "hangar_failovers_total",
    help: "Providers a dispatch failed over from",
    registers: [registry]
  })
  const reconcile = new Counter({
    name: "hangar_reconcile_actions_total",
    help: "What reconciliation rounds of this instance did, by action",
    labelNames: ["action"],
    registers: [registry]
  })
  for (const action of ["adopted", "released", "destroyed", "stopped", "intents_failed", "orphans_seen"])
    reconcile.inc({ action }, 0)
  return {
    taskFinished: (provider, outcome) => tasks.inc({ provider, outcome }),
    startLatency: (millis) => latency.observe(millis / 1000),
    failovers: (count) => {
      if (count > 0) failovers.inc(count)
    },
    reconciled: (report) => {
      reconcile.inc({ action: "adopted" }, report.adopted.length)
      reconcile.inc({ action: "released" }, report.released.length)
      reconcile.inc({ action: "destroyed" }, report.destroyed.length)
      reconcile.inc({ action: "stopped" }, report.stopped.length)
      reconcile.inc({ action: "intents_failed" }, report.intentsFailed.length)
      reconcile.inc({ action: "orphans_seen" }, report.orphans.length)
    },
    render: async ({ sessionsByState, tasksByState }) => {
      sessions.reset()
      for (const [state, count] of sessionsByState) sessions.set({ state }, count)
      byState.reset()
      for (const { count, state } of tasksByState) byState.set({ state }, count)
      return registry.metrics()
    },
    contentType: registry.contentType
  }
}
