/**
 * Both simulators as processes (their built `dist/main.js`) on 127.0.0.1, in virtual time, for the multi-instance
 * test, the benchmark and `pnpm --filter @hangar/server simulators`: fly-sim with rate limits off, ecs-sim with a
 * cluster `hangar` whose capacity provider `cp` scales a t3.large group (set up through the AWS SDK, as a team
 * would), and a driver that moves both clocks forward `stepMillis` every `everyMillis` of wall time. `env` is
 * what hangar-serve needs to reach them.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import {
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  ECSClient,
  PutClusterCapacityProvidersCommand
} from "@aws-sdk/client-ecs"

const require = createRequire(import.meta.url)
/** A workspace package's built CLI. */
const distMain = (name: string) => join(dirname(require.resolve(`${name}/package.json`)), "dist", "main.js")

export interface SimulatorProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly output: () => string
}

/** Spawns a simulator's CLI and resolves once it prints where it listens. */
export const spawnListening = (
  main: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv = process.env,
  pattern = /listening on (http:\/\/127\.0\.0\.1:\d+)/
) =>
  new Promise<SimulatorProcess>((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"], env })
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const url = pattern.exec(out)?.[1]
      if (url !== undefined) resolve({ child, url, output: () => out })
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.on("exit", (code, signal) => reject(new Error(`${main} exited (${code ?? signal}): ${out}`)))
  })

export const killed = (child: ChildProcess, signal: NodeJS.Signals = "SIGKILL") =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill(signal)
  })

export interface Simulators {
  readonly fly: SimulatorProcess
  readonly ecs: SimulatorProcess
  /** The environment hangar-serve reads to reach both (FLY_*, AWS_*). */
  readonly env: Readonly<Record<string, string>>
  readonly flyToken: string
  readonly ecsCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  /** Moves both clocks forward `millis`. */
  readonly advance: (millis: number) => Promise<void>
  /** Stops the clock driver and both simulators. */
  readonly stop: () => Promise<void>
}

export interface SimulatorOptions {
  readonly seed?: number
  /** Virtual milliseconds per driver tick (default 1000). */
  readonly stepMillis?: number
  /** Wall milliseconds between ticks (default 10). */
  readonly everyMillis?: number
  /** Most t3.large instances the ECS group scales to (default 40). */
  readonly maxInstances?: number
  /** `real`: the simulators keep time themselves and no driver runs (interactive use); default `virtual`. */
  readonly clock?: "real" | "virtual"
  /** Ports (default 0: free ones). */
  readonly flyPort?: number
  readonly ecsPort?: number
}

const provisionEcs = async (url: string, credentials: Simulators["ecsCredentials"], maxInstances: number) => {
  const group = await fetch(`${url}/_sim/autoscaling-groups`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${credentials.secretAccessKey}` },
    body: JSON.stringify({ name: "asg", instanceType: "t3.large", min: 2, max: maxInstances, desired: 2 })
  })
  const { arn } = (await group.json()) as { arn: string }
  const ecs = new ECSClient({ region: "us-east-1", endpoint: url, credentials })
  await ecs.send(new CreateClusterCommand({ clusterName: "hangar" }))
  await ecs.send(
    new CreateCapacityProviderCommand({
      name: "cp",
      autoScalingGroupProvider: {
        autoScalingGroupArn: arn,
        managedScaling: { status: "ENABLED", targetCapacity: 100 }
      }
    })
  )
  await ecs.send(
    new PutClusterCapacityProvidersCommand({
      cluster: "hangar",
      capacityProviders: ["cp"],
      defaultCapacityProviderStrategy: [{ capacityProvider: "cp" }]
    })
  )
  ecs.destroy()
}

export const start = async (options: SimulatorOptions = {}): Promise<Simulators> => {
  const seed = String(options.seed ?? 7)
  const flyToken = "fly-sim-serve-token"
  const ecsCredentials = { accessKeyId: "AKIDHANGARSERVE", secretAccessKey: "ecs-sim-serve-secret" }
  const clock = options.clock ?? "virtual"
  const common = ["--host", "127.0.0.1", "--clock", clock, "--seed", seed]
  const fly = await spawnListening(distMain("@hangar/fly-simulator"), [
    ...common,
    "--port",
    String(options.flyPort ?? 0),
    "--token",
    flyToken,
    "--rate-limits",
    "off"
  ])
  const ecs = await spawnListening(distMain("@hangar/ecs-simulator"), [
    ...common,
    "--port",
    String(options.ecsPort ?? 0),
    "--access-key",
    ecsCredentials.accessKeyId,
    "--secret-key",
    ecsCredentials.secretAccessKey
  ])
  await provisionEcs(ecs.url, ecsCredentials, options.maxInstances ?? 40)
  const advanceOne = async (url: string, bearer: string, millis: number) => {
    const response = await fetch(`${url}/_sim/clock/advance`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ millis })
    })
    await response.arrayBuffer()
  }
  const advance = async (millis: number) => {
    await Promise.all([
      advanceOne(fly.url, flyToken, millis),
      advanceOne(ecs.url, ecsCredentials.secretAccessKey, millis)
    ])
  }
  let driving = clock === "virtual"
  const driver = (async () => {
    while (driving) {
      await advance(options.stepMillis ?? 1000).catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, options.everyMillis ?? 10))
    }
  })()
  return {
    fly,
    ecs,
    flyToken,
    ecsCredentials,
    env: {
      FLY_API_TOKEN: flyToken,
      FLY_FLAPS_BASE_URL: fly.url,
      AWS_ENDPOINT_URL_ECS: ecs.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: ecsCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ecsCredentials.secretAccessKey,
      HANGAR_ECS_CLUSTER: "hangar",
      HANGAR_ECS_CAPACITY_PROVIDER: "cp",
      FLY_REGIONS: "iad"
    },
    advance,
    stop: async () => {
      driving = false
      await driver
      await Promise.all([killed(fly.child, "SIGTERM"), killed(ecs.child, "SIGTERM")])
    }
  }
}
