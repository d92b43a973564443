/**
 * Resource references as ECS takes them: a name (or id) or a full ARN of this region and account. Anything
 * else, `a/../b` included, is no reference (undefined): nothing is normalised, so a path-like spelling never
 * reaches another resource.
 */

const name = /^[A-Za-z0-9_-]{1,255}$/
const arnOf = (kind: string) =>
  new RegExp(`^arn:aws:ecs:([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):${kind}/(.{1,600})$`)
const clusterArn = arnOf("cluster")
const taskDefinitionArn = arnOf("task-definition")
const taskArn = arnOf("task")

export interface Scope {
  readonly region: string
  readonly account: string
}

/** The ARN's resource part when it is an ARN of `kind` in `scope`; undefined for another scope; false if malformed. */
const resourceOf = (pattern: RegExp, ref: string, scope: Scope): string | undefined | false => {
  const m = pattern.exec(ref)
  if (m === null) return false
  return m[1] === scope.region && m[2] === scope.account ? m[3]! : undefined
}

/** A cluster's name from a name or ARN; undefined when the ARN is another region's or account's, false if malformed. */
export const clusterName = (ref: string, scope: Scope): string | undefined | false => {
  if (name.test(ref)) return ref
  const resource = resourceOf(clusterArn, ref, scope)
  if (resource === false || resource === undefined) return resource
  return name.test(resource) ? resource : false
}

/** `family`, `family:revision` or a task definition ARN; false if malformed, undefined if another scope's. */
export const taskDefinition = (
  ref: string,
  scope: Scope
): { readonly family: string; readonly revision: number | undefined } | undefined | false => {
  const resource = ref.startsWith("arn:") ? resourceOf(taskDefinitionArn, ref, scope) : ref
  if (resource === false || resource === undefined) return resource
  const m = /^([A-Za-z0-9_-]{1,255})(?::([1-9][0-9]{0,8}))?$/.exec(resource)
  if (m === null) return false
  return { family: m[1]!, revision: m[2] === undefined ? undefined : Number(m[2]) }
}

/** A task's cluster (when given as a long ARN) and id, from an id or an ARN; false if malformed. */
export const task = (
  ref: string,
  scope: Scope
): { readonly cluster: string | undefined; readonly id: string } | undefined | false => {
  if (/^[A-Za-z0-9-]{1,64}$/.test(ref)) return { cluster: undefined, id: ref }
  const resource = resourceOf(taskArn, ref, scope)
  if (resource === false || resource === undefined) return resource
  const m = /^(?:([A-Za-z0-9_-]{1,255})\/)?([A-Za-z0-9-]{1,64})$/.exec(resource)
  return m === null ? false : { cluster: m[1], id: m[2]! }
}
