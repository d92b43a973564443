/**
 * Repository workspaces on ECS: one EFS access point per repository on the team's file system, as a team runs
 * persistent per-repository directories under ECS on EC2. ECS mounts an EFS access point natively (the task
 * definition's `efsVolumeConfiguration.authorizationConfig.accessPointId`) in every Availability Zone, concurrent
 * sessions of a repository can share it, and nothing is created per task (ECS-managed EBS volumes are created per
 * task and cannot be attached again: reusing one per repository would need a snapshot per stop). An access point
 * is made once per repository (idempotent by client token, as EFS's CreateAccessPoint) and lives until deleted;
 * its storage is billed on the data it holds (`storedGb`, the stated assumption), per second, from creation.
 */
import type * as Tags from "./Tags.js"

export interface AccessPoint {
  readonly id: string
  readonly arn: string
  readonly fileSystemId: string
  readonly clientToken: string
  readonly rootDirectory: string
  readonly tags: ReadonlyArray<Tags.Tag>
  /** GB of workspace data billed while it exists (EFS bills bytes stored). */
  readonly storedGb: number
  readonly createdAt: number
  deletedAt: number | undefined
}

/** An EFS API refusal: the HTTP status and error code EFS answers with. */
export class EfsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

export interface CreateAccessPoint {
  readonly fileSystemId: string
  readonly clientToken: string
  readonly rootDirectory: string
  readonly tags: ReadonlyArray<Tags.Tag>
}

const fileSystemIdPattern = /^fs-[0-9a-f]{8,40}$/
/** EFS's quota of access points per file system. */
export const maxAccessPointsPerFileSystem = 10_000

/** The repository a workspace belongs to (its `hangar:repository` tag). */
export const repositoryOf = (ap: AccessPoint): string | undefined =>
  ap.tags.find((t) => t.key === "hangar:repository")?.value

const validate = (request: CreateAccessPoint): void => {
  if (!fileSystemIdPattern.test(request.fileSystemId))
    throw new EfsError(
      400,
      "BadRequest",
      `FileSystemId: expected fs- and 8-40 hex digits, got "${request.fileSystemId}"`
    )
  if (request.clientToken.length < 1 || request.clientToken.length > 64)
    throw new EfsError(400, "BadRequest", "ClientToken: expected 1-64 characters")
  if (!request.rootDirectory.startsWith("/") || request.rootDirectory.length > 100)
    throw new EfsError(
      400,
      "BadRequest",
      "RootDirectory.Path: expected an absolute path of at most 100 characters"
    )
}

export class Workspaces {
  /** The EFS file systems that exist (made by the team with the cluster: `provisionFileSystem`). */
  readonly fileSystems = new Set<string>()
  readonly accessPoints = new Map<string, AccessPoint>()
  private readonly byToken = new Map<string, AccessPoint>()
  private counter = 0

  constructor(
    private readonly region: string,
    private readonly account: string,
    private readonly storedGb: number,
    /** Called with what changed (a file system's or an access point's id), so the store journals it. */
    private readonly changed: (id: string) => void = () => undefined
  ) {}

  /** Puts back a saved access point (the data dir's), its id counter past it. */
  restore(ap: AccessPoint): void {
    this.accessPoints.set(ap.id, ap)
    this.byToken.set(`${ap.fileSystemId}\n${ap.clientToken}`, ap)
    this.counter = Math.max(this.counter, Number.parseInt(ap.id.slice("fsap-".length), 16) || 0)
  }

  /** A file system the team made (as `provisionCluster` makes the cluster). */
  provisionFileSystem(fileSystemId: string): void {
    if (!fileSystemIdPattern.test(fileSystemId))
      throw new EfsError(
        400,
        "BadRequest",
        `FileSystemId: expected fs- and 8-40 hex digits, got "${fileSystemId}"`
      )
    this.fileSystems.add(fileSystemId)
    this.changed(fileSystemId)
  }

  private requireFileSystem(fileSystemId: string): void {
    if (!this.fileSystems.has(fileSystemId))
      throw new EfsError(
        404,
        "FileSystemNotFound",
        `File system '${fileSystemId.slice(0, 64)}' does not exist.`
      )
  }

  /** CreateAccessPoint: validated before any change; the same client token answers the same access point. */
  create(request: CreateAccessPoint, now: number): AccessPoint {
    validate(request)
    this.requireFileSystem(request.fileSystemId)
    const key = `${request.fileSystemId}\n${request.clientToken}`
    const previous = this.byToken.get(key)
    if (previous !== undefined) {
      if (previous.rootDirectory !== request.rootDirectory)
        throw new EfsError(
          409,
          "IdempotentParameterMismatch",
          "ClientToken: already used with another RootDirectory"
        )
      return previous
    }
    const live = [...this.accessPoints.values()].filter(
      (a) => a.fileSystemId === request.fileSystemId && a.deletedAt === undefined
    ).length
    if (live >= maxAccessPointsPerFileSystem)
      throw new EfsError(403, "AccessPointLimitExceeded", `${request.fileSystemId} has ${live} access points`)
    this.counter++
    const id = `fsap-${this.counter.toString(16).padStart(17, "0")}`
    const ap: AccessPoint = {
      id,
      arn: `arn:aws:elasticfilesystem:${this.region}:${this.account}:access-point/${id}`,
      fileSystemId: request.fileSystemId,
      clientToken: request.clientToken,
      rootDirectory: request.rootDirectory,
      tags: [...request.tags],
      storedGb: this.storedGb,
      createdAt: now,
      deletedAt: undefined
    }
    this.accessPoints.set(id, ap)
    this.byToken.set(key, ap)
    this.changed(id)
    return ap
  }

  /** The live access point `id` on `fileSystemId`, if there is one (what a task's EFS volume mounts). */
  live(id: string, fileSystemId: string): AccessPoint | undefined {
    const ap = this.accessPoints.get(id)
    return ap !== undefined && ap.deletedAt === undefined && ap.fileSystemId === fileSystemId ? ap : undefined
  }

  /** DeleteAccessPoint: unknown or deleted is AccessPointNotFound (404). */
  delete(id: string, now: number): void {
    const ap = this.accessPoints.get(id)
    if (ap === undefined || ap.deletedAt !== undefined)
      throw new EfsError(404, "AccessPointNotFound", `Access point ${id} does not exist.`)
    ap.deletedAt = now
    this.changed(id)
  }

  /** DescribeAccessPoints of a file system (live ones, oldest first). */
  describe(fileSystemId: string): Array<AccessPoint> {
    this.requireFileSystem(fileSystemId)
    return [...this.accessPoints.values()].filter(
      (a) => a.fileSystemId === fileSystemId && a.deletedAt === undefined
    )
  }

  reset(): void {
    this.fileSystems.clear()
    this.accessPoints.clear()
    this.byToken.clear()
    this.counter = 0
  }
}
