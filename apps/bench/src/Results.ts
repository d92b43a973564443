/**
 * Where a run's results go: a folder of its own under the results directory (`results/<timestamp>/`, or
 * `results/<--name>/`), with `results/latest` pointing at it (a symbolic link, or a small file holding the
 * folder's name where links cannot be made). Nothing is overwritten: a name already taken is refused, a
 * timestamp already taken gets a suffix, and files are created exclusively. JSON is schema-versioned and
 * deterministic (same seed, same bytes; wall times are printed to the terminal only).
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync
} from "node:fs"
import { basename, dirname, join } from "node:path"
import { Data } from "effect"
import packageJson from "../package.json" with { type: "json" }

/** The tool that wrote a results document, named in it. */
export const tool = { name: "hangar-bench", version: packageJson.version } as const

/** 2: tool version, currency, the input scenario, p50/p95/p99, the cost breakdown, configurations, prices used. */
export const schemaVersion = 2

/** The name of the pointer to the newest run in a results directory. */
export const latest = "latest"

/** A run cannot be written where it was asked to be (a name taken or not usable as a folder): exit code 2. */
export class RunFolderError extends Data.TaggedError("RunFolderError")<{ readonly message: string }> {}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/** The folder's name for a run started at `now` (UTC, sortable, no characters a file system refuses). */
export const timestampName = (now: Date): string =>
  now
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replaceAll(":", "-")

/**
 * Why `name` cannot be a new run's folder under `root` (or `latest` there cannot point at it), if so: checked
 * before a run starts.
 */
export const checkName = (root: string, name: string | undefined): RunFolderError | undefined => {
  if (lstatSync(join(root, latest), { throwIfNoEntry: false })?.isDirectory() === true)
    return new RunFolderError({
      message: `--out: ${join(root, latest)} is a folder, not a pointer to a run; move it away`
    })
  if (name === undefined) return undefined
  if (!namePattern.test(name) || name === latest)
    return new RunFolderError({
      message: `--name: expected letters, digits, '.', '_' or '-' (not "${latest}"); found "${name}"`
    })
  if (existsSync(join(root, name)))
    return new RunFolderError({
      message: `--name: ${join(root, name)} already exists; choose another name or remove that folder`
    })
  return undefined
}

/** Creates the run's own folder under `root` (never one that exists) and returns its path. */
export const createRunFolder = (
  root: string,
  name: string | undefined,
  now: Date
): RunFolderError | string => {
  const refused = checkName(root, name)
  if (refused !== undefined) return refused
  mkdirSync(root, { recursive: true })
  if (name !== undefined) {
    const folder = join(root, name)
    mkdirSync(folder)
    return folder
  }
  const base = timestampName(now)
  for (let n = 1; ; n++) {
    const folder = join(root, n === 1 ? base : `${base}-${n}`)
    try {
      mkdirSync(folder)
      return folder
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
  }
}

/** Points `root/latest` at `folder`: a relative symbolic link, or a file holding the folder's name. */
export const pointLatest = (root: string, folder: string): string => {
  const pointer = join(root, latest)
  const target = basename(folder)
  const temporary = join(root, `.${latest}-${process.pid}`)
  try {
    symlinkSync(target, temporary, "dir")
  } catch {
    writeFileSync(temporary, `${target}\n`)
  }
  const existing = lstatSync(pointer, { throwIfNoEntry: false })
  if (existing?.isDirectory() === true) {
    unlinkSync(temporary)
    throw new Error(`${pointer} is a folder, not a pointer to a run: move it away`)
  }
  renameSync(temporary, pointer)
  return pointer
}

/** Writes each file into the run's folder; a file that exists is an error, never replaced. */
export const write = (directory: string, files: Readonly<Record<string, string>>): ReadonlyArray<string> => {
  mkdirSync(directory, { recursive: true })
  return Object.entries(files).map(([name, content]) => {
    const path = join(directory, name)
    writeFileSync(path, content.endsWith("\n") ? content : `${content}\n`, { flag: "wx" })
    return path
  })
}

/**
 * The results file a path names: a run's folder (its `file`), `latest` (a link, or a file holding a folder's
 * name), or the JSON file itself.
 */
export const resolve = (path: string, file: string): string => {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return path
  if (stat.isDirectory()) return join(path, file)
  const text = readFileSync(path, "utf8")
  const name = text.trim()
  return !text.trimStart().startsWith("{") && namePattern.test(name) ? join(dirname(path), name, file) : path
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
