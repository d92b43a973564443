/**
 * Writes a run's results to a directory: JSON (schema-versioned, deterministic: same seed, same bytes; wall
 * times are printed to the terminal only), Markdown, and SVG charts.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const schemaVersion = 1

export const write = (directory: string, files: Readonly<Record<string, string>>): ReadonlyArray<string> => {
  mkdirSync(directory, { recursive: true })
  return Object.entries(files).map(([name, content]) => {
    const path = join(directory, name)
    writeFileSync(path, content.endsWith("\n") ? content : `${content}\n`)
    return path
  })
}

/** JSON with sorted keys and numbers rounded to 6 decimals, so equal results are equal bytes. */
export const stableJson = (value: unknown): string =>
  JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === "number") return Number.isFinite(v) ? Math.round(v * 1e6) / 1e6 : null
      if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Map)) {
        return Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))
        )
      }
      return v
    },
    2
  )
