/**
 * What every module of the ECS plugin works with: the SDK client and how requests are sent, the options as
 * resolved once, and the one mutable state the provider keeps (its sessions, the tasks it started, the
 * instances it has seen). `EcsProvider.make` builds one environment and hands it to each module.
 */
import { randomUUID } from "node:crypto"
import { ECSClient, type Task } from "@aws-sdk/client-ecs"
import { EFSClient } from "@aws-sdk/client-efs"
import { type ComputeError, Pricing, PricingCatalog, type TaskSpec } from "@hangar/core"
import { Duration, Effect } from "effect"
import type * as ClusterCost from "../ClusterCost.js"
import * as EcsErrors from "../EcsErrors.js"
import type { Options } from "../EcsProvider.js"

/** A session as this process knows it. */
export interface SessionState {
  readonly task: TaskSpec.TaskSpec
  /** Every task the session has had, oldest first (across a destroy and a later create of the same task id). */
  readonly arns: Array<string>
  destroyed: boolean
  readonly createdAt: number
}

/** An instance's lifetime as observed; `final` once it was seen deregistered (nothing more will change). */
export type InstanceRecord = ClusterCost.InstanceLifetime & { readonly final: boolean }

/** Everything the provider remembers between calls. */
export interface EcsState {
  /** Sessions by id, created here or recovered from the tasks' tags. */
  readonly sessions: Map<string, SessionState>
  /** Task definition ARNs by family, once described or registered (a family's settings never change). */
  readonly definitions: Map<string, string>
  /** What cost attribution needs of every task this provider started, kept once the task has stopped. */
  readonly taskRecords: Map<string, { readonly sessionId: string; task: Task }>
  /** The session of every task this provider started or adopted. */
  readonly sessionOfTask: Map<string, string>
  /** The cluster's instances as far as the ECS API has shown them (deregistered ones cannot be listed). */
  readonly instanceRecords: Map<string, InstanceRecord>
  /** Container instances tasks ran on that have not been described yet. */
  readonly unseenInstances: Set<string>
  /** When each instance was last seen registered (an estimate of its termination without the attribute). */
  readonly lastSeenRegistered: Map<string, number>
  /**
   * The live tasks as they were when this process first created a session: those a predecessor left running.
   * Taken once; a listing that failed is asked for again by the next create.
   */
  inherited: ReadonlyArray<Task> | undefined
  /** Each repository's workspace access point, once made (or answered again for its client token). */
  readonly accessPoints: Map<string, string>
}

export interface EcsEnvironment {
  readonly options: Options
  readonly cluster: string
  /** Task definition families' prefix, and `startedBy` of every task. */
  readonly prefix: string
  readonly client: ECSClient
  /** The EFS client the repositories' workspace access points are made with. */
  readonly efs: EFSClient
  /** Sends one SDK command (tracked on the simulation clock, if any), its failure mapped to core's errors. */
  readonly send: <A>(method: string, request: () => Promise<A>) => Effect.Effect<A, ComputeError.ComputeError>
  /** Tracks a promise on the simulation clock, if any. */
  readonly track: <A>(promise: Promise<A>) => Promise<A>
  readonly pricing: Pricing.Ec2Pricing
  readonly rootVolumeGib: number
  /**
   * Part of a session's first clientToken: retries within this process share it, while a later process (whose
   * create first adopts any task still running for the task id) does not get an old, stopped task back.
   */
  readonly nonce: string
  /** How long create/start waits for RUNNING, and stop for STOPPED. */
  readonly startDeadlineMillis: number
  readonly stopDeadlineMillis: number
  readonly state: EcsState
}

/** Resolves `options` once; a catalog for another region is a configuration bug (a defect naming both). */
export const make = (options: Options): Effect.Effect<EcsEnvironment> =>
  Effect.sync(() => {
    const cluster = options.cluster
    const pricing = Pricing.ec2Pricing(
      options.awsRegion ?? "us-east-1",
      options.pricing === undefined ? undefined : PricingCatalog.parse(options.pricing, "pricing"),
      "awsRegion"
    )
    const client = new ECSClient({
      region: options.awsRegion ?? "us-east-1",
      maxAttempts: 1,
      // The middleware stack is resolved once per command class instead of on every send: nothing here changes it.
      cacheMiddleware: true,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials })
    })
    const efs = new EFSClient({
      region: options.awsRegion ?? "us-east-1",
      maxAttempts: 1,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials })
    })
    const track = <A>(p: Promise<A>) => (options.clock === undefined ? p : options.clock.track(p))
    return {
      options,
      cluster,
      prefix: options.familyPrefix ?? "hangar",
      client,
      efs,
      track,
      send: <A>(method: string, request: () => Promise<A>) =>
        Effect.tryPromise({ try: () => track(request()), catch: EcsErrors.fromSdk(method, cluster) }),
      pricing,
      rootVolumeGib: options.rootVolumeGib ?? Pricing.defaultEbsRootGib,
      nonce: randomUUID(),
      startDeadlineMillis: Duration.toMillis(options.startDeadline ?? "30 minutes"),
      stopDeadlineMillis: 10 * 60_000,
      state: {
        sessions: new Map(),
        definitions: new Map(),
        taskRecords: new Map(),
        sessionOfTask: new Map(),
        instanceRecords: new Map(),
        unseenInstances: new Set(),
        lastSeenRegistered: new Map(),
        inherited: undefined,
        accessPoints: new Map()
      }
    }
  })

/** The session's latest task, if it has had one. */
export const latestArn = (state: SessionState): string | undefined => state.arns[state.arns.length - 1]

/** A task's tag. */
export const tagOf = (task: Task, key: string): string | undefined =>
  task.tags?.find((tag) => tag.key === key)?.value
