/**
 * The repository's workspace, as the options choose it. EFS (the persistent workspace): one access point per
 * repository on the team's file system, rooted at /workspaces/<owner>/<name>, made on the repository's first
 * session with a client token derived from the repository (so a retry, another process or a concurrent session
 * gets the same one back), mounted at /workspace by a task definition per size and repository. Nothing is made
 * per task, so nothing is left behind when one stops; a repository's workspace lives until it is deleted.
 * EBS: a scratch volume ECS creates for each task and deletes with it (it does not persist: ECS cannot attach a
 * volume again to a later task, so keeping it would only leak one volume per task).
 */
import { CreateAccessPointCommand } from "@aws-sdk/client-efs"
import type { ComputeError } from "@hangar/core"
import { Effect } from "effect"
import { accessPointRequest } from "../Conventions.js"
import type { Options } from "../EcsProvider.js"
import type { EcsEnvironment } from "./EcsEnvironment.js"

/** The agent's workspace directory, on either kind. */
export const containerPath = "/workspace"

/** What the task definition's settings hash records of the workspace. */
export const settingsKey = (options: Options): string =>
  options.workspace?.kind === "efs" ? options.workspace.fileSystemId : "ebs-scratch"

/** The agent container's mount of the `workspace` volume. */
export const mountPoint = { sourceVolume: "workspace", containerPath }

/** The agent's user owns the workspace directory EFS creates on first mount. */
const agentUser = { Uid: 1000, Gid: 1000 }

/** The repository's access point id: remembered, or made (CreateAccessPoint is idempotent by client token). */
export const ensureAccessPoint = (
  env: EcsEnvironment,
  fileSystemId: string,
  repository: string
): Effect.Effect<string, ComputeError.ComputeError> => {
  const known = env.state.accessPoints.get(repository)
  if (known !== undefined) return Effect.succeed(known)
  const request = accessPointRequest(fileSystemId, repository)
  return env
    .send("CreateAccessPoint", () =>
      env.efs.send(
        new CreateAccessPointCommand({
          FileSystemId: request.fileSystemId,
          ClientToken: request.clientToken,
          RootDirectory: {
            Path: request.rootDirectory,
            CreationInfo: { OwnerUid: agentUser.Uid, OwnerGid: agentUser.Gid, Permissions: "750" }
          },
          PosixUser: agentUser,
          Tags: request.tags.map((t) => ({ Key: t.key, Value: t.value }))
        })
      )
    )
    .pipe(
      Effect.map((r) => r.AccessPointId ?? ""),
      Effect.tap((id) => Effect.sync(() => env.state.accessPoints.set(repository, id)))
    )
}

/** The task definition's `workspace` volume: the repository's access point (EFS), or one configured at launch. */
export const taskDefinitionVolume = (options: Options, accessPointId: string | undefined) =>
  options.workspace?.kind === "efs" && accessPointId !== undefined
    ? {
        name: "workspace",
        efsVolumeConfiguration: {
          fileSystemId: options.workspace.fileSystemId,
          transitEncryption: "ENABLED" as const,
          authorizationConfig: { accessPointId, iam: "DISABLED" as const }
        }
      }
    : { name: "workspace", configuredAtLaunch: true }

/** RunTask's volume configuration: a scratch EBS volume deleted with the task (none for EFS). */
export const runTaskVolumes = (options: Options, repository: string) =>
  options.workspace?.kind === "efs"
    ? {}
    : {
        volumeConfigurations: [
          {
            name: "workspace",
            managedEBSVolume: {
              roleArn: options.workspace?.roleArn,
              volumeType: options.workspace?.volumeType ?? "gp3",
              sizeInGiB: options.workspace?.sizeInGiB ?? 20,
              filesystemType: "ext4" as const,
              tagSpecifications: [
                {
                  resourceType: "volume" as const,
                  tags: [{ key: "hangar:repository", value: repository }]
                }
              ],
              terminationPolicy: { deleteOnTermination: true }
            }
          }
        ]
      }
