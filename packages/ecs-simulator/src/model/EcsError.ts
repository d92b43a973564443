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

/** A client-given string as an error shows it: cut to 200 characters. */
export const shown = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text)
