/**
 * Runs one task on ECS through EcsProvider and prints its output and what it cost. Against the simulator:
 *
 *   pnpm ecs-sim                                     # in one terminal: http://127.0.0.1:4281
 *   pnpm --filter @hangar/provider-ecs example       # in another
 *
 * It sets up what it needs on the simulator (an Auto Scaling group through `/_sim`, a cluster and a capacity
 * provider through the ECS API), then creates a session, runs `echo` through ECS Exec, releases the session
 * (which stops its task) and prints the session's cost and the cluster's.
 */
import {
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  DescribeCapacityProvidersCommand,
  ECSClient,
  type ECSClientConfig,
  PutClusterCapacityProvidersCommand
} from "@aws-sdk/client-ecs"
import { Money, type VirtualClock } from "@hangar/core"
import { type Duration, Effect } from "effect"
import * as EcsProvider from "../src/EcsProvider.js"

export interface ExampleOptions {
  /** The simulator (default AWS_ENDPOINT_URL_ECS, else http://127.0.0.1:4281). */
  readonly endpoint?: string
  /** In-process runs (the test): the simulator's request handler and clock, and how to run on that clock. */
  readonly requestHandler?: ECSClientConfig["requestHandler"]
  readonly clock?: VirtualClock.SimulationClock
  readonly run?: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly print?: (line: string) => void
  /** How long the session works before it is released (default a minute). */
  readonly work?: Duration.DurationInput
}

const cluster = "hangar-example"
// A local simulator takes any key; the SDK's chain would otherwise look for real credentials.
const localCredentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local" }

/** An Auto Scaling group, a cluster and a capacity provider on the simulator, unless they exist already. */
const setUp = async (endpoint: string, client: ECSClient) => {
  const groups = (await (await fetch(`${endpoint}/_sim/autoscaling-groups`)).json()) as {
    autoScalingGroups: ReadonlyArray<{ name: string; arn: string }>
  }
  let arn = groups.autoScalingGroups.find((g) => g.name === cluster)?.arn
  if (arn === undefined) {
    const created = await fetch(`${endpoint}/_sim/autoscaling-groups`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: cluster, instanceType: "t3.large", min: 1, max: 2, desired: 1 })
    })
    arn = ((await created.json()) as { arn: string }).arn
  }
  await client.send(new CreateClusterCommand({ clusterName: cluster }))
  const existing = await client.send(new DescribeCapacityProvidersCommand({ capacityProviders: [cluster] }))
  if ((existing.capacityProviders ?? []).length === 0)
    await client.send(
      new CreateCapacityProviderCommand({
        name: cluster,
        autoScalingGroupProvider: { autoScalingGroupArn: arn, managedScaling: { status: "ENABLED" } }
      })
    )
  await client.send(
    new PutClusterCapacityProvidersCommand({
      cluster,
      capacityProviders: [cluster],
      defaultCapacityProviderStrategy: [{ capacityProvider: cluster }]
    })
  )
}

export const main = async (options: ExampleOptions = {}): Promise<ReadonlyArray<string>> => {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_ECS ?? "http://127.0.0.1:4281"
  const run = options.run ?? (<A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect))
  const lines: Array<string> = []
  const print = (line: string) => {
    lines.push(line)
    ;(options.print ?? console.log)(line)
  }
  const sdk = {
    region: "us-east-1",
    endpoint,
    credentials: localCredentials,
    ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler })
  }
  await setUp(endpoint, new ECSClient(sdk))

  const program = Effect.gen(function* () {
    const ecs = yield* EcsProvider.EcsProvider
    const session = yield* ecs.create({
      taskId: `readme-${Date.now().toString(36)}`,
      repository: "acme/webapp"
    })
    print(`session ${session.id}: ${session.status} (${session.metadata.taskArn})`)
    const result = yield* ecs.exec(session.id, ["echo", "hello from ECS"])
    print(`exit ${result.exitCode}: ${result.stdout.trim()}`)
    yield* Effect.sleep(options.work ?? "1 minute") // the agent works a while
    yield* ecs.sleep(session.id) // ECS tasks do not sleep: releasing the session stops its task
    const usage = yield* ecs.usage(session.id)
    print(`session: ${Math.round(usage.seconds.running)} s running, ${Money.format(usage.costMicroUsd, 6)}`)
    const bill = yield* EcsProvider.clusterCost()
    print(
      `cluster: ${bill.instances.length} instance(s), ${Money.format(bill.totalMicroUsd, 6)} so far ` +
        `(${Money.format(bill.unattributedIdleMicroUsd, 6)} of it idle with no session running)`
    )
    yield* ecs.destroy(session.id)
  })
  await run(
    Effect.provide(
      program,
      EcsProvider.layer({
        cluster,
        capacityProviderStrategy: [{ capacityProvider: cluster }],
        endpoint,
        credentials: sdk.credentials,
        ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
        ...(options.clock === undefined ? {} : { clock: options.clock })
      })
    )
  )
  return lines
}

// Run when executed (`pnpm example`); a test that imports it calls `main` itself.
if (process.env.VITEST === undefined) {
  main().catch((error) => {
    console.error(String(error))
    process.exit(1)
  })
}
