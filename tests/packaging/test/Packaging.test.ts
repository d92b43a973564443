/**
 * The packages as a user outside the monorepo gets them: every publishable package is packed with `pnpm pack`
 * (which turns `workspace:*` into real versions), the tarballs are installed with npm into an empty project in
 * the system's temporary directory (so nothing can be found through the repository), and the commands run from
 * there. A second project installs only what a Fly-only team composes: no better-sqlite3, nothing compiled.
 * Needs every package's dist: turbo builds them first (`@hangar/packaging-test#test` in turbo.json).
 */
import { execFile } from "node:child_process"
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync
} from "node:fs"
import { readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { basename, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const execFileAsync = promisify(execFile)
const repository = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..")
const work = mkdtempSync(join(tmpdir(), "hangar-packaging-"))

// ---------------------------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------------------------

interface Outcome {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end; a non-zero exit is an outcome, not a throw, so tests can show its output. */
const run = async (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  env: NodeJS.ProcessEnv = {}
): Promise<Outcome> => {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
      maxBuffer: 64 * 1024 * 1024
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string }
    return {
      code: typeof failed.code === "number" ? failed.code : -1,
      stdout: failed.stdout ?? "",
      stderr: failed.stderr ?? String(error)
    }
  }
}

const succeed = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Outcome> => {
  const outcome = await run(command, args, cwd)
  assert.strictEqual(
    outcome.code,
    0,
    `${command} ${args.join(" ")} in ${cwd} exited ${outcome.code}\n${outcome.stdout}\n${outcome.stderr}`
  )
  return outcome
}

// ---------------------------------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------------------------------

interface Manifest {
  readonly name: string
  readonly version?: string
  readonly private?: boolean
  readonly license?: string
  readonly description?: string
  readonly files?: ReadonlyArray<string>
  readonly bin?: Record<string, string>
  readonly exports?: Record<string, string | Record<string, string>>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
}

interface Packed {
  readonly directory: string
  readonly manifest: Manifest
  readonly tarball: string
  readonly bytes: number
  /** Paths inside the tarball, without the leading `package/`. */
  readonly entries: ReadonlyArray<string>
  /** package.json as packed. */
  readonly packedManifest: Manifest
  /** LICENSE as packed. */
  readonly license: string
}

const readManifest = (directory: string): Manifest =>
  JSON.parse(readFileSync(join(directory, "package.json"), "utf8")) as Manifest

/** Every workspace package under packages/ and apps/ (the test itself lives under tests/ and is not one). */
const workspacePackages = (): ReadonlyArray<{ readonly directory: string; readonly manifest: Manifest }> =>
  ["packages", "apps"].flatMap((group) =>
    readdirSync(join(repository, group))
      .map((name) => join(repository, group, name))
      .filter((directory) => existsSync(join(directory, "package.json")))
      .map((directory) => ({ directory, manifest: readManifest(directory) }))
  )

/** The pnpm that runs this test (`pnpm test` sets npm_execpath), else the one on the PATH. */
const pnpm = (args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] => {
  const execPath = process.env.npm_execpath ?? ""
  return /pnpm\.c?js$/.test(execPath) ? [process.execPath, [execPath, ...args]] : ["pnpm", args]
}

const pack = async (directory: string, manifest: Manifest, destination: string): Promise<Packed> => {
  const { stdout } = await succeed(...pnpm(["pack", "--pack-destination", destination]), directory)
  const tarball = stdout
    .trim()
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.endsWith(".tgz"))
    .at(-1)
  assert.isDefined(tarball, `pnpm pack in ${directory} named no tarball:\n${stdout}`)
  const path = resolve(destination, tarball!)
  const listing = await succeed("tar", ["-tzf", path], destination)
  const entries = listing.stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => line.replace(/^package\//, ""))
  const packedJson = await succeed("tar", ["-xzOf", path, "package/package.json"], destination)
  const license = entries.includes("LICENSE")
    ? (await succeed("tar", ["-xzOf", path, "package/LICENSE"], destination)).stdout
    : ""
  return {
    directory,
    manifest,
    tarball: path,
    bytes: statSync(path).size,
    entries,
    packedManifest: JSON.parse(packedJson.stdout) as Manifest,
    license
  }
}

/** What each export points at in dist (the `source` condition is for the workspace and is not shipped). */
const exportTargets = (manifest: Manifest): ReadonlyArray<string> =>
  Object.values(manifest.exports ?? {}).flatMap((target) =>
    typeof target === "string"
      ? [target]
      : Object.entries(target)
          .filter(([condition]) => condition !== "source")
          .map(([, path]) => path)
  )

const stripDotSlash = (path: string) => path.replace(/^\.\//, "")

// ---------------------------------------------------------------------------------------------------------------
// Installing
// ---------------------------------------------------------------------------------------------------------------

/** An empty project in the temporary directory with these tarballs installed by npm. */
const installProject = async (name: string, tarballs: ReadonlyArray<string>): Promise<string> => {
  const project = join(work, name)
  mkdirSync(project)
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify({ name, version: "0.0.0", private: true }, null, 2)}\n`
  )
  await succeed("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], project)
  return project
}

/**
 * Every file below `directory` whose name passes `keep`, as paths relative to `directory`; asynchronous, so a
 * large node_modules does not block the test worker.
 */
const findFiles = async (directory: string, keep: (name: string) => boolean): Promise<Array<string>> =>
  (await readdir(directory, { recursive: true })).filter((path) => keep(basename(path)))

/** The package-lock.json path (`node_modules/a/node_modules/@b/c`) of the package a file below the project is in. */
const owningPackage = (path: string): string => {
  const parts = path.split("/")
  const at = parts.lastIndexOf("node_modules")
  const length = (parts[at + 1] ?? "").startsWith("@") ? 3 : 2
  return parts.slice(0, at + length).join("/")
}

interface Lock {
  readonly packages: Record<
    string,
    {
      readonly resolved?: string
      readonly optional?: boolean
      readonly dependencies?: Record<string, string>
      readonly optionalDependencies?: Record<string, string>
      readonly peerDependencies?: Record<string, string>
    }
  >
}

const readLock = (project: string): Lock =>
  JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as Lock

/** Every installed package (lock path) that `roots` need, found as Node resolves: nearest node_modules first. */
const closure = (lock: Lock, roots: ReadonlyArray<string>): Set<string> => {
  const seen = new Set<string>()
  const resolveFrom = (from: string, name: string): string | undefined => {
    for (let base = from; ; base = base.slice(0, Math.max(0, base.lastIndexOf("/node_modules/")))) {
      const candidate = base.length === 0 ? `node_modules/${name}` : `${base}/node_modules/${name}`
      if (lock.packages[candidate] !== undefined) return candidate
      if (base.length === 0) return undefined
    }
  }
  const visit = (path: string) => {
    if (seen.has(path)) return
    seen.add(path)
    const entry = lock.packages[path] ?? {}
    const names = [entry.dependencies, entry.optionalDependencies, entry.peerDependencies].flatMap((d) =>
      Object.keys(d ?? {})
    )
    for (const name of names) {
      const found = resolveFrom(path, name)
      if (found !== undefined) visit(found)
    }
  }
  for (const root of roots) visit(`node_modules/${root}`)
  return seen
}

// ---------------------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------------------

/** The packages the Quick start and a Fly-only team need, whatever else the workspace holds. */
const expected = [
  "@hangar/core",
  "@hangar/provider-fly",
  "@hangar/provider-ecs",
  "@hangar/fly-simulator",
  "@hangar/ecs-simulator",
  "@hangar/router",
  "@hangar/bench"
]
const flyOnly = ["@hangar/core", "@hangar/provider-fly", "@hangar/fly-simulator", "@hangar/router"]
const commands = {
  "fly-sim": "@hangar/fly-simulator",
  "ecs-sim": "@hangar/ecs-simulator",
  "hangar-bench": "@hangar/bench"
}

/** A day of a small workload, written as a user would write their own. */
const smallScenario = `name: packaged-small
description: a day of short tasks in one region, from the packed packages
seed: 5
days: 1
repositories: 2
regions: [iad]
size: dev
arrival: { kind: poisson, perDay: 20 }
duration: { kind: fixed, seconds: 180 }
ecs: { instanceType: t3.medium, minInstances: 1, maxInstances: 2, rationale: packaging test }
fly: { idleTimeoutMinutes: 5, sleepsBy: suspend, volumeGb: 10 }
`

/** npm downloads every third-party dependency on a cold cache; generous, never asserted. */
const installTimeout = 900_000

const packed = new Map<string, Packed>()
let everything = ""

describe("the packages installed from their tarballs with npm, outside the monorepo", () => {
  beforeAll(async () => {
    const tarballs = join(work, "tarballs")
    mkdirSync(tarballs)
    const publishable = workspacePackages().filter(({ manifest }) => manifest.private !== true)
    for (const { directory, manifest } of publishable)
      packed.set(manifest.name, await pack(directory, manifest, tarballs))
    const rows = [...packed.values()].map(
      (p) =>
        `${p.packedManifest.name}@${p.packedManifest.version}  ${(p.bytes / 1024).toFixed(1)} KiB  ${p.entries.length} files`
    )
    console.log(`packed into ${tarballs}:\n${rows.join("\n")}`)
    everything = await installProject(
      "everything",
      [...packed.values()].map((p) => p.tarball)
    )
  }, installTimeout)

  afterAll(async () => {
    if (process.env.HANGAR_PACKAGING_KEEP === undefined) await rm(work, { recursive: true, force: true })
    else console.log(`work directory kept for inspection: ${work}`)
  })

  it("every package under packages/ and apps/bench is publishable, with a version, a license and a description", () => {
    const required = workspacePackages().filter(
      ({ directory }) =>
        relative(repository, directory).startsWith("packages/") || directory.endsWith("apps/bench")
    )
    for (const { manifest } of required) {
      assert.notStrictEqual(manifest.private, true, `${manifest.name} is private`)
      assert.match(manifest.version ?? "", /^\d+\.\d+\.\d+/, `${manifest.name} has no version`)
      assert.strictEqual(manifest.license, "MIT", `${manifest.name}'s license`)
      assert.isAbove((manifest.description ?? "").length, 0, `${manifest.name} has no description`)
    }
    assert.includeMembers([...packed.keys()], expected)
  })

  it("each tarball holds its LICENSE, every export's files and types, and no TypeScript sources", () => {
    for (const p of packed.values()) {
      const name = p.manifest.name
      assert.include(p.entries, "LICENSE", `${name}: LICENSE`)
      assert.match(p.license, /^MIT License\n\nCopyright \(c\) 2026 Hangar contributors\n/, `${name}: MIT`)
      const targets = exportTargets(p.packedManifest)
      assert.isTrue(
        targets.some((t) => t.endsWith(".d.ts")),
        `${name}: an export with types`
      )
      for (const target of targets)
        assert.include(p.entries, stripDotSlash(target), `${name}: export ${target}`)
      assert.deepStrictEqual(
        p.entries.filter((e) => e.startsWith("src/")),
        [],
        `${name}: sources are not shipped`
      )
    }
  })

  it("workspace:* dependencies become the real versions in the packed package.json", () => {
    for (const p of packed.values()) {
      for (const field of ["dependencies", "peerDependencies", "optionalDependencies"] as const) {
        for (const [dependency, range] of Object.entries(p.packedManifest[field] ?? {})) {
          assert.notInclude(range, "workspace:", `${p.manifest.name} ${field}.${dependency}`)
          const sibling = packed.get(dependency)
          if (sibling !== undefined)
            assert.strictEqual(range, sibling.manifest.version, `${p.manifest.name} ${field}.${dependency}`)
        }
      }
    }
    assert.strictEqual(packed.get("@hangar/bench")?.packedManifest.dependencies?.["@hangar/core"], "0.1.0")
  })

  it("npm installed each @hangar package from its tarball, not from the registry", () => {
    const lock = readLock(everything)
    for (const name of packed.keys()) {
      const entry = lock.packages[`node_modules/${name}`]
      assert.isDefined(entry, `${name} in package-lock.json`)
      assert.match(entry?.resolved ?? "", /^file:.*\.tgz$/, `${name} resolved from`)
    }
    const nested = Object.keys(lock.packages).filter((path) =>
      /node_modules\/.+\/node_modules\/@hangar\//.test(path)
    )
    assert.deepStrictEqual(nested, [], "no second copy of a @hangar package")
  })

  it("the commands are linked, with a node shebang on each", () => {
    for (const [command, name] of Object.entries(commands)) {
      const bin = packed.get(name)?.packedManifest.bin?.[command]
      assert.isDefined(bin, `${name} declares the ${command} command`)
      assert.include(packed.get(name)?.entries ?? [], stripDotSlash(bin!))
      const linked = readFileSync(join(everything, "node_modules", ".bin", command), "utf8")
      assert.isTrue(linked.startsWith("#!/usr/bin/env node\n"), `${command} starts with a node shebang`)
    }
  })

  it("npx fly-sim --help and npx ecs-sim --help exit 0 and describe their flags", async () => {
    const fly = await succeed("npx", ["--yes=false", "fly-sim", "--help"], everything)
    assert.include(fly.stdout, "fly-sim")
    assert.include(fly.stdout, "--port")
    const ecs = await succeed("npx", ["--yes=false", "ecs-sim", "--help"], everything)
    assert.include(ecs.stdout, "ecs-sim")
    assert.include(ecs.stdout, "--port")
  })

  it("npx hangar-bench run <small scenario> --days 1 --format json simulates it on both providers and writes its results", async () => {
    const scenario = join(everything, "packaged-small.yaml")
    writeFileSync(scenario, smallScenario)
    const out = join(everything, "results")
    const bench = await succeed(
      "npx",
      ["--yes=false", "hangar-bench", "run", scenario, "--days", "1", "--out", out, "--format", "json"],
      everything
    )
    const reports = (await findFiles(out, (name) => name === "compare.json")).filter(
      (path) => !path.startsWith("latest/")
    )
    assert.lengthOf(reports, 1, `one compare.json under ${out}`)
    assert.deepStrictEqual(
      JSON.parse(bench.stdout),
      JSON.parse(readFileSync(join(out, reports[0]!), "utf8")),
      "--format json prints the results file"
    )
    const report = JSON.parse(bench.stdout) as {
      kind: string
      scenarios: ReadonlyArray<{
        name: string
        days: number
        ecs: { usdPerMonth: number }
        fly: { usdPerMonth: number }
      }>
    }
    assert.strictEqual(report.kind, "compare")
    assert.deepStrictEqual(
      report.scenarios.map((s) => [s.name, s.days]),
      [["packaged-small", 1]]
    )
    const [only] = report.scenarios
    assert.isAbove(only!.ecs.usdPerMonth, 0)
    assert.isAbove(only!.fly.usdPerMonth, 0)
  })

  it("hangar-bench --days 1 finds the seed's scenarios beside the installed module, run from another directory", async () => {
    const shipped = (packed.get("@hangar/bench")?.entries ?? [])
      .filter((e) => /^scenarios\/.+\.yaml$/.test(e))
      .map((e) => readFileSync(join(everything, "node_modules", "@hangar", "bench", e), "utf8"))
      .map((text) => /^name: (.+)$/m.exec(text)?.[1]?.trim())
    assert.isAbove(shipped.length, 0, "the bench ships its scenarios")
    const elsewhere = join(work, "elsewhere")
    mkdirSync(elsewhere)
    const out = join(elsewhere, "results")
    await succeed(
      process.execPath,
      [join(everything, "node_modules", ".bin", "hangar-bench"), "--days", "1", "--out", out],
      elsewhere
    )
    const reports = (await findFiles(out, (name) => name === "compare.json")).filter(
      (path) => !path.startsWith("latest/")
    )
    assert.lengthOf(reports, 1, `one compare.json under ${out}`)
    const report = JSON.parse(readFileSync(join(out, reports[0]!), "utf8")) as {
      scenarios: ReadonlyArray<{ name: string }>
    }
    assert.sameMembers(
      report.scenarios.map((s) => s.name),
      shipped
    )
  })

  it("the SQLite store is a separate entry point that needs its optional peer; the router's main entry loads without it", {
    timeout: installTimeout
  }, async () => {
    const router = packed.get("@hangar/router")!.packedManifest
    assert.isUndefined(router.dependencies?.["@effect/sql-sqlite-node"])
    assert.isDefined(router.peerDependencies?.["@effect/sql-sqlite-node"])
    // core and the router alone (everything else brings its own choices: hangar-serve depends on SQLite).
    const routerOnly = await installProject(
      "router-only",
      ["@hangar/core", "@hangar/router"].map((name) => packed.get(name)!.tarball)
    )
    assert.isFalse(existsSync(join(routerOnly, "node_modules", "better-sqlite3")), "better-sqlite3 installed")
    const main = await succeed(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        "const r = await import('@hangar/router'); console.log(Object.keys(r).sort().join(','))"
      ],
      routerOnly
    )
    assert.include(main.stdout, "Router")
    assert.include(main.stdout, "SessionStore")
    const sqlite = await run(
      process.execPath,
      ["--input-type=module", "-e", "await import('@hangar/router/sqlite')"],
      routerOnly
    )
    assert.notStrictEqual(sqlite.code, 0)
    assert.include(sqlite.stderr, "@effect/sql-sqlite-node")
  })

  it(
    "a Fly-only install (core, provider-fly, fly-simulator, router) holds no better-sqlite3, compiles nothing and has no required native addon",
    async () => {
      const project = await installProject(
        "fly-only",
        flyOnly.map((name) => packed.get(name)!.tarball)
      )
      const modules = join(project, "node_modules")
      assert.isFalse(existsSync(join(modules, "better-sqlite3")))
      assert.isFalse(existsSync(join(modules, "@effect", "sql-sqlite-node")))
      const lock = readLock(project)
      assert.deepStrictEqual(
        Object.keys(lock.packages).filter((path) => /sqlite/.test(path)),
        [],
        "no SQLite package in the lock"
      )
      const native = await findFiles(project, (name) => name.endsWith(".node"))
      console.log(`native files in the Fly-only install: ${native.length === 0 ? "none" : native.join(", ")}`)
      // Effect's own platform packages bring optional, prebuilt accelerators (msgpackr-extract under
      // @effect/platform, @parcel/watcher's binary under @effect/platform-node): optional, per platform, never
      // compiled. A required addon (better-sqlite3 under @effect/sql-sqlite-node) would not be optional.
      assert.deepStrictEqual(
        native.filter((file) => lock.packages[owningPackage(file)]?.optional !== true),
        [],
        "every native file is in an optional prebuilt package"
      )
      // The router and the Fly plugin add no native file to what core (effect's platform) already brings.
      const core = closure(lock, ["@hangar/core"])
      for (const name of ["@hangar/router", "@hangar/provider-fly"])
        assert.deepStrictEqual(
          native.filter(
            (file) => closure(lock, [name]).has(owningPackage(file)) && !core.has(owningPackage(file))
          ),
          [],
          `${name} adds no native file`
        )
      assert.deepStrictEqual(
        (await findFiles(project, (name) => name === "binding.gyp")).filter((gyp) =>
          existsSync(join(project, gyp, "..", "build"))
        ),
        [],
        "nothing was compiled"
      )
      const loaded = await succeed(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          "await import('@hangar/router'); await import('@hangar/provider-fly'); await import('@hangar/fly-simulator'); console.log('loaded')"
        ],
        project
      )
      assert.include(loaded.stdout, "loaded")
      const fly = await succeed("npx", ["--yes=false", "fly-sim", "--help"], project)
      assert.include(fly.stdout, "fly-sim")
    },
    installTimeout
  )
})
