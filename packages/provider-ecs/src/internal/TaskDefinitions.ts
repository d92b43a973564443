/**
 * One task definition per size preset (GPU ones with resourceRequirements) and, with EFS workspaces, per
 * repository's access point (a task definition names the access point its volume mounts), looked up with
 * DescribeTaskDefinition before being registered, then remembered for the life of the provider.
 */
import { createHash } from "node:crypto"
import { DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand } from "@aws-sdk/client-ecs"
import { type ComputeError, Pricing, type SizePreset } from "@hangar/core"
import { Effect } from "effect"
import type { Options } from "../EcsProvider.js"
import type { EcsEnvironment } from "./EcsEnvironment.js"
import * as Workspaces from "./Workspaces.js"

const networkMode = (options: Options) => (options.subnets === undefined ? "bridge" : "awsvpc")

/**
 * What the task definition holds besides its size: a change of image, role, network mode or workspace gives
 * new families instead of reusing ones registered with the old settings.
 */
const settingsHash = (options: Options) =>
  createHash("sha256")
    .update(
      JSON.stringify([
        options.image ?? null,
        options.taskRoleArn ?? null,
        networkMode(options),
        Workspaces.settingsKey(options)
      ])
    )
    .digest("hex")
    .slice(0, 8)

/** `<prefix>-<size>[-gpu]-<hash of the settings>[-<access point>]`. */
export const family = (
  env: EcsEnvironment,
  size: SizePreset.SizePreset,
  gpu: boolean,
  accessPointId?: string
): string =>
  `${env.prefix}-${size}${gpu ? "-gpu" : ""}-${settingsHash(env.options)}${accessPointId === undefined ? "" : `-${accessPointId}`}`

/** The family's task definition ARN: remembered, described, or registered now. */
export const ensure = (
  env: EcsEnvironment,
  size: SizePreset.SizePreset,
  gpu: boolean,
  accessPointId?: string
): Effect.Effect<string, ComputeError.ComputeError> => {
  const name = family(env, size, gpu, accessPointId)
  const known = env.state.definitions.get(name)
  return known === undefined
    ? Effect.tap(lookUpOrRegister(env, name, size, gpu, accessPointId), (arn) =>
        Effect.sync(() => env.state.definitions.set(name, arn))
      )
    : Effect.succeed(known)
}

const lookUpOrRegister = (
  env: EcsEnvironment,
  name: string,
  size: SizePreset.SizePreset,
  gpu: boolean,
  accessPointId: string | undefined
) =>
  env
    .send("DescribeTaskDefinition", () =>
      env.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: name }))
    )
    .pipe(
      Effect.map((r) => r.taskDefinition?.taskDefinitionArn ?? name),
      Effect.catchTag("InvalidRequest", () => register(env, name, size, gpu, accessPointId))
    )

const register = (
  env: EcsEnvironment,
  name: string,
  size: SizePreset.SizePreset,
  gpu: boolean,
  accessPointId: string | undefined
) => {
  const { options } = env
  const resources = Pricing.ecsTaskBySize[size]
  return env
    .send("RegisterTaskDefinition", () =>
      env.client.send(
        new RegisterTaskDefinitionCommand({
          family: name,
          cpu: String(resources.cpu),
          memory: String(resources.memoryMib),
          ...(options.taskRoleArn === undefined ? {} : { taskRoleArn: options.taskRoleArn }),
          networkMode: networkMode(options),
          containerDefinitions: [
            {
              name: "agent",
              image: options.image ?? "ghcr.io/hangar/agent:latest",
              essential: true,
              mountPoints: [Workspaces.mountPoint],
              ...(gpu ? { resourceRequirements: [{ type: "GPU", value: "1" }] } : {})
            }
          ],
          volumes: [Workspaces.taskDefinitionVolume(options, accessPointId)]
        })
      )
    )
    .pipe(Effect.map((r) => r.taskDefinition?.taskDefinitionArn ?? name))
}
