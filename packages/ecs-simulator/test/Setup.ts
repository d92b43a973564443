/** Shared test setup: a simulator with one Auto Scaling group behind a capacity provider, and an SDK client. */
import {
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  ECSClient,
  PutClusterCapacityProvidersCommand,
  RegisterTaskDefinitionCommand
} from "@aws-sdk/client-ecs"
import { VirtualClock } from "@hangar/core"
import * as EcsSimulator from "../src/EcsSimulator.js"

export const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "wJalrXUtnFEMI-local-test-secret" }

/** Fast lifecycle timings for tests on the real clock. */
export const quick = { taskStart: 20, imagePull: 0, taskStop: 20 } as const

export interface SetupOptions {
  readonly clock?: VirtualClock.SimulationClock
  readonly min?: number
  readonly max?: number
  readonly instanceType?: string
  readonly timing?: EcsSimulator.Options["timing"]
  readonly seed?: number
  readonly targetCapacity?: number
  readonly maxAttempts?: number
  readonly accessKeys?: ReadonlyArray<string>
  readonly dataDir?: string
  readonly exec?: EcsSimulator.Options["exec"]
  readonly execHandshake?: EcsSimulator.Options["execHandshake"]
  readonly execOpenTimeoutMs?: number
  readonly execSessionTtlMs?: number
  readonly secretKey?: EcsSimulator.Options["secretKey"]
  readonly region?: string
  readonly pricing?: EcsSimulator.Options["pricing"]
}

export const setup = async (options: SetupOptions = {}) => {
  const clock = options.clock ?? new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const sim = await EcsSimulator.make({
    clock,
    seed: options.seed ?? 5,
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    ...(options.accessKeys === undefined ? {} : { accessKeys: options.accessKeys }),
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.exec === undefined ? {} : { exec: options.exec }),
    ...(options.execHandshake === undefined ? {} : { execHandshake: options.execHandshake }),
    ...(options.execOpenTimeoutMs === undefined ? {} : { execOpenTimeoutMs: options.execOpenTimeoutMs }),
    ...(options.execSessionTtlMs === undefined ? {} : { execSessionTtlMs: options.execSessionTtlMs }),
    ...(options.secretKey === undefined ? {} : { secretKey: options.secretKey }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.pricing === undefined ? {} : { pricing: options.pricing })
  })
  // ECS is regional: the client signs for the simulator's region, whose state it works on.
  const client = new ECSClient({
    region: options.region ?? "us-east-1",
    endpoint: "http://ecs-sim.internal",
    credentials,
    requestHandler: sim.requestHandler,
    maxAttempts: options.maxAttempts ?? 1
  })
  const send = <T>(command: { input: unknown }): Promise<T> =>
    clock instanceof VirtualClock.VirtualClock
      ? VirtualClock.runToCompletion(clock, client.send(command as never) as Promise<T>)
      : (client.send(command as never) as Promise<T>)
  const { arn } = sim.createAutoScalingGroup({
    name: "asg",
    instanceType: options.instanceType ?? "t3.large",
    min: options.min ?? 1,
    max: options.max ?? 4,
    desired: options.min ?? 1
  })
  await send(new CreateClusterCommand({ clusterName: "hangar" }))
  await send(
    new CreateCapacityProviderCommand({
      name: "cp",
      autoScalingGroupProvider: {
        autoScalingGroupArn: arn,
        managedScaling: { status: "ENABLED", targetCapacity: options.targetCapacity ?? 100 },
        managedTerminationProtection: "ENABLED"
      }
    })
  )
  await send(
    new PutClusterCapacityProvidersCommand({
      cluster: "hangar",
      capacityProviders: ["cp"],
      defaultCapacityProviderStrategy: [{ capacityProvider: "cp" }]
    })
  )
  await send(
    new RegisterTaskDefinitionCommand({
      family: "agent",
      cpu: "1024",
      memory: "2048",
      containerDefinitions: [{ name: "agent", image: "hangar/agent", essential: true }]
    })
  )
  const virtual = clock instanceof VirtualClock.VirtualClock ? clock : undefined
  return { clock, virtual, sim, client, send, asgArn: arn }
}

export const live = (sim: EcsSimulator.Simulator) =>
  [...sim.model.instances.values()].filter((i) => i.state !== "terminated")
