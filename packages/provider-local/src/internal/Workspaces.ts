/** Per-repository workspace directories under the provider's root: `acme/web` works in `<root>/acme__web`. */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { ComputeError } from "@hangar/core"
import { Effect } from "effect"
import { providerId } from "./Provenance.js"

/** The directory name of a repository's workspace (one path component; never `.` or `..`). */
export const directoryName = (repository: string): string => repository.split("/").join("__")

/** Creates (if needed) and returns the workspace of `repository` under `root`. */
export const ensure = (
  root: string,
  repository: string,
  provider: string = providerId
): Effect.Effect<string, ComputeError.InvalidRequest | ComputeError.ProviderUnavailable> =>
  Effect.suspend(
    (): Effect.Effect<string, ComputeError.InvalidRequest | ComputeError.ProviderUnavailable> => {
      const name = directoryName(repository)
      if (/^\.+$/.test(name)) {
        return Effect.fail(
          new ComputeError.InvalidRequest({
            module: "LocalProvider",
            method: "create",
            provider,
            field: "repository",
            expected: "a repository name that is not only dots",
            actual: repository
          })
        )
      }
      const path = join(root, name)
      return Effect.try({
        try: () => {
          mkdirSync(path, { recursive: true })
          return path
        },
        catch: (error) =>
          new ComputeError.ProviderUnavailable({
            module: "LocalProvider",
            method: "create",
            provider,
            reason: "Unknown",
            detail: `cannot create the workspace ${path}: ${(error as Error).message}`
          })
      })
    }
  )
