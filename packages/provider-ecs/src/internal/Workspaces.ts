/**
 * The repository's workspace, as the options choose it. EBS (default): an ECS-managed volume per task, created
 * at RunTask, tagged with the repository and kept when the task stops. EFS: the file system mounted at
 * /workspaces, the repository's directory /workspaces/<owner>/<name>.
 */
import type { Options } from "../EcsProvider.js"

/** The repository's directory on an EFS workspace. */
const efsDirectory = (repository: string) => `/workspaces/${repository}`

/** What the task definition's settings hash records of the workspace. */
export const settingsKey = (options: Options): string =>
  options.workspace?.kind === "efs" ? options.workspace.fileSystemId : "ebs"

/** The agent container's mount of the `workspace` volume. */
export const mountPoint = (options: Options) => ({
  sourceVolume: "workspace",
  containerPath: options.workspace?.kind === "efs" ? "/workspaces" : "/workspace"
})

/** The task definition's `workspace` volume: the EFS file system, or one configured at launch (EBS). */
export const taskDefinitionVolume = (options: Options) =>
  options.workspace?.kind === "efs"
    ? {
        name: "workspace",
        efsVolumeConfiguration: {
          fileSystemId: options.workspace.fileSystemId,
          transitEncryption: "ENABLED" as const
        }
      }
    : { name: "workspace", configuredAtLaunch: true }

/** RunTask's volume configuration: a new EBS volume tagged with the repository (none for EFS). */
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
              terminationPolicy: { deleteOnTermination: false }
            }
          }
        ]
      }

/** The WORKSPACE the agent is told. */
export const directory = (options: Options, repository: string): string =>
  options.workspace?.kind === "efs" ? efsDirectory(repository) : "/workspace"
