/**
 * What the multi-instance test and the benchmark share: a hangar-serve configuration on Postgres against the
 * simulators (`bench/Simulators.ts`), and `psql` on the test database.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { TestPostgres } from "@hangar/router/testing"

/** Writes a TOML configuration: Postgres, the seed's rules, a long fixed idle timeout, both simulators. */
export const writeConfig = (
  file: string,
  settings: {
    readonly prefix: string
    readonly concurrencyPerProvider: number
    readonly reconcileSeconds: number
    readonly extra?: ReadonlyArray<string>
  }
): string => {
  writeFileSync(
    file,
    [
      "[server]",
      "port = 0",
      `concurrency_per_provider = ${settings.concurrencyPerProvider}`,
      "[store]",
      'kind = "postgres"',
      "max_connections = 8",
      "[idle]",
      'policy = "fixed-timeout"',
      "minutes = 60",
      "[reconcile]",
      `interval_seconds = ${settings.reconcileSeconds}`,
      "grace_seconds = 30",
      ...(settings.extra ?? []),
      "[providers.fly]",
      'regions = ["iad"]',
      `app_prefix = "${settings.prefix}"`,
      "[providers.ecs]",
      'cluster = "hangar"',
      'capacity_provider = "cp"',
      `family_prefix = "${settings.prefix}"`
    ].join("\n")
  )
  return file
}

/** Rows of a query as arrays of text fields. */
export const psql = (url: string, query: string): Array<Array<string>> =>
  execFileSync(join(TestPostgres.binaries(), "psql"), [url, "-At", "-F", "\t", "-c", query])
    .toString()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"))
