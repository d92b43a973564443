/**
 * An ECS API error: the `__type` the SDK maps to a typed exception (`ClusterNotFoundException`,
 * `InvalidParameterException`, …), a message that says what was wrong, and the HTTP status ECS uses.
 */
export class EcsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400
  ) {
    super(message)
  }
}

export const clusterNotFound = (ref: string) =>
  new EcsError("ClusterNotFoundException", `Cluster not found: ${ref}.`)

export const invalidParameter = (message: string) => new EcsError("InvalidParameterException", message)

export const client = (message: string) => new EcsError("ClientException", message)
