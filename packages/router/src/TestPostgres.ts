/**
 * A real Postgres for tests. With `HANGAR_TEST_DATABASE_URL` set (`.ci/run` may start one), each call creates a
 * fresh database on that server; otherwise it starts a cluster of its own from Debian's `postgresql` package
 * (initdb and pg_ctl under /usr/lib/postgresql/<version>/bin) in a temporary directory, on 127.0.0.1 and a free
 * port, as the `postgres` user when running as root (initdb refuses root). `stop()` removes what it made.
 */
import { execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface TestDatabase {
  /** postgres://…@127.0.0.1:<port>/<database> */
  readonly url: string
  readonly stop: () => Promise<void>
}

/** The directory of Debian's newest installed Postgres binaries; fails saying what to install. */
export const binaries = (): string => {
  const root = "/usr/lib/postgresql"
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : []
  if (versions[0] === undefined)
    throw new Error(
      "no Postgres found under /usr/lib/postgresql: install Debian's postgresql (apt-get install -y postgresql) or set HANGAR_TEST_DATABASE_URL"
    )
  return join(root, versions[0], "bin")
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const asRoot = typeof process.getuid === "function" && process.getuid() === 0

/** Runs a Postgres binary, as the `postgres` user when this process is root. */
const run = (bin: string, args: ReadonlyArray<string>) =>
  asRoot
    ? execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { stdio: "pipe" })
    : execFileSync(bin, args, { stdio: "pipe" })

const userId = (name: string): { uid: number; gid: number } => {
  const uid = Number(execFileSync("id", ["-u", name]).toString().trim())
  const gid = Number(execFileSync("id", ["-g", name]).toString().trim())
  return { uid, gid }
}

const randomName = (prefix: string) => `${prefix}_${Math.random().toString(36).slice(2, 10)}`

/** Creates database `name` through `psql` on the server at host:port. */
const createDatabase = (bin: string, url: URL, name: string) =>
  execFileSync(
    join(bin, "psql"),
    [url.toString(), "-v", "ON_ERROR_STOP=1", "-qc", `CREATE DATABASE ${name}`],
    {
      stdio: "pipe"
    }
  )

/** A cluster of its own in a temporary directory, with one database. */
const startCluster = async (): Promise<TestDatabase> => {
  const bin = binaries()
  const dir = mkdtempSync(join(tmpdir(), "hangar-pg-"))
  if (asRoot) {
    const { gid, uid } = userId("postgres")
    chownSync(dir, uid, gid)
  }
  const data = join(dir, "data")
  run(join(bin, "initdb"), ["-D", data, "-U", "hangar", "--auth=trust", "-E", "UTF8", "--no-sync"])
  const port = await freePort()
  const settings = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    "-c max_connections=200",
    "-c fsync=off",
    "-c full_page_writes=off"
  ].join(" ")
  run(join(bin, "pg_ctl"), ["-D", data, "-o", settings, "-l", join(dir, "log"), "-w", "start"])
  const database = randomName("hangar")
  const url = new URL(`postgres://hangar@127.0.0.1:${port}/postgres`)
  createDatabase(bin, url, database)
  url.pathname = `/${database}`
  return {
    url: url.toString(),
    stop: async () => {
      try {
        run(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

/** A fresh database: on the server of HANGAR_TEST_DATABASE_URL when set, else on a cluster of its own. */
export const start = async (): Promise<TestDatabase> => {
  const shared = process.env.HANGAR_TEST_DATABASE_URL
  if (shared === undefined || shared === "") return startCluster()
  const url = new URL(shared)
  const database = randomName("hangar")
  createDatabase(binaries(), url, database)
  url.pathname = `/${database}`
  return { url: url.toString(), stop: async () => {} }
}
