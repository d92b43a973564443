/**
 * The tasks hangar-serve was asked to run, and who runs each: one row per task id in `hangar_tasks` (SQLite or
 * Postgres through @effect/sql, schema by the migrator), written before a POST is answered, so an acknowledged
 * task survives kill -9.
 *
 * Ownership is a lease on the row: `owner`, `lease_expires_at` and a `fencing_token` that grows by one with every
 * claim. A claim succeeds only on a task nobody holds (no owner, or a lease past its expiry); the sweep for
 * expired leases selects with `FOR UPDATE SKIP LOCKED` on Postgres, so instances sweeping together take disjoint
 * tasks. Every later write of the holder (a dispatch step, "the command is being sent", the outcome) names its
 * token and changes nothing once another instance has claimed the task since. Instances renew their leases and
 * their row in `hangar_instances` on a heartbeat; one that stops renewing loses its tasks at the expiry.
 */
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { PostgresStore } from "@hangar/router/postgres"
import { Data, Effect, Option, Schema } from "effect"

export const TaskState = Schema.Literal("queued", "running", "succeeded", "failed")
export type TaskState = typeof TaskState.Type

const Millis = Schema.Union(Schema.Number, Schema.NumberFromString)
const Nullable = <S extends Schema.Schema.Any>(schema: S) => Schema.NullOr(schema)

const Row = Schema.Struct({
  task_id: Schema.String,
  spec: Schema.String,
  state: TaskState,
  step: Nullable(Schema.String),
  owner: Nullable(Schema.String),
  lease_expires_at: Millis,
  fencing_token: Millis,
  exec_sent: Millis,
  provider: Nullable(Schema.String),
  decision: Nullable(Schema.String),
  result: Nullable(Schema.String),
  error: Nullable(Schema.String),
  attempts: Millis,
  start_latency_millis: Nullable(Millis),
  created_at: Millis,
  updated_at: Millis
})

/** A task as the book holds it; `spec`, `decision` and `result` are JSON text as written. */
export interface TaskRow {
  readonly taskId: string
  readonly spec: string
  readonly state: TaskState
  readonly step: string | undefined
  readonly owner: string | undefined
  readonly leaseExpiresAt: number
  readonly fencingToken: number
  /** The holder recorded that it was sending the task's command (a later holder does not send it again). */
  readonly execSent: boolean
  readonly provider: string | undefined
  readonly decision: string | undefined
  readonly result: string | undefined
  readonly error: string | undefined
  /** Claims so far (1 when one instance ran it start to end). */
  readonly attempts: number
  readonly startLatencyMillis: number | undefined
  readonly createdAt: number
  readonly updatedAt: number
}

/** The right to run a task: its row as claimed, with the token every later write names. */
export interface Lease {
  readonly taskId: string
  readonly token: number
  readonly row: TaskRow
}

export interface Outcome {
  readonly state: "succeeded" | "failed"
  readonly provider?: string | undefined
  readonly decision?: string | undefined
  readonly result?: string | undefined
  readonly error?: string | undefined
  readonly startLatencyMillis?: number | undefined
}

export class TaskBookError extends Data.TaggedError("TaskBookError")<{
  readonly operation: string
  readonly detail: string
}> {
  override get message(): string {
    return `task book ${this.operation} failed: ${this.detail}`
  }
}

const orUndefined = <A>(value: A | null): A | undefined => (value === null ? undefined : value)

const toTask = (row: typeof Row.Type): TaskRow => ({
  taskId: row.task_id,
  spec: row.spec,
  state: row.state,
  step: orUndefined(row.step),
  owner: orUndefined(row.owner),
  leaseExpiresAt: row.lease_expires_at,
  fencingToken: row.fencing_token,
  execSent: row.exec_sent !== 0,
  provider: orUndefined(row.provider),
  decision: orUndefined(row.decision),
  result: orUndefined(row.result),
  error: orUndefined(row.error),
  attempts: row.attempts,
  startLatencyMillis: orUndefined(row.start_latency_millis),
  createdAt: row.created_at,
  updatedAt: row.updated_at
})

const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

// ---- schema

export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_tasks_and_instances": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TABLE IF NOT EXISTS hangar_tasks (
        task_id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL, step TEXT, owner TEXT,
        lease_expires_at BIGINT NOT NULL DEFAULT 0, fencing_token BIGINT NOT NULL DEFAULT 0,
        exec_sent INTEGER NOT NULL DEFAULT 0, provider TEXT, decision TEXT, result TEXT, error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0, start_latency_millis BIGINT,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
      )`,
      sql`CREATE INDEX IF NOT EXISTS hangar_tasks_by_lease ON hangar_tasks (state, lease_expires_at)`,
      sql`CREATE TABLE IF NOT EXISTS hangar_instances (
        instance_id TEXT PRIMARY KEY, started_at BIGINT NOT NULL, expires_at BIGINT NOT NULL
      )`
    ])
  )
}

const migrate = Migrator.make({})({
  loader: Migrator.fromRecord(migrations),
  table: "hangar_server_migrations"
})

const migrationLockKey = 0x68736576

// ---- the book

export interface TaskBook {
  /** Records the task unless its id is known; answers the row either way and whether this call created it. */
  readonly submit: (
    taskId: string,
    spec: string,
    now: number
  ) => Effect.Effect<{ readonly row: TaskRow; readonly created: boolean }, TaskBookError>
  readonly get: (taskId: string) => Effect.Effect<Option.Option<TaskRow>, TaskBookError>
  /** Takes the task's lease if nobody holds it and it is not finished. */
  readonly claim: (taskId: string, now: number) => Effect.Effect<Option.Option<Lease>, TaskBookError>
  /** Takes up to `limit` unfinished tasks whose lease expired (or that nobody claimed). */
  readonly claimExpired: (now: number, limit: number) => Effect.Effect<ReadonlyArray<Lease>, TaskBookError>
  /** Renews this instance's row and the leases it still holds of `held` (those not expired). */
  readonly heartbeat: (now: number, held: ReadonlyArray<Lease>) => Effect.Effect<void, TaskBookError>
  /** Records a dispatch step, fenced: false when another instance has claimed the task since. */
  readonly step: (lease: Lease, step: string, now: number) => Effect.Effect<boolean, TaskBookError>
  /** Records, fenced, that the command is about to be sent: false means it must not be sent. */
  readonly markExec: (lease: Lease, now: number) => Effect.Effect<boolean, TaskBookError>
  /** Records the outcome, fenced, and gives the lease up. */
  readonly complete: (lease: Lease, outcome: Outcome, now: number) => Effect.Effect<boolean, TaskBookError>
  /**
   * Task ids this instance must leave alone: unfinished tasks it does not hold (their holder, or the next one,
   * will run them), and tasks whose session records another live instance owns (Postgres: several instances).
   */
  readonly heldElsewhere: (now: number) => Effect.Effect<ReadonlySet<string>, TaskBookError>
  /** Instances whose heartbeat has not expired. */
  readonly liveInstances: (now: number) => Effect.Effect<ReadonlyArray<string>, TaskBookError>
  /** Tasks by state (for /metrics). */
  readonly countByState: () => Effect.Effect<ReadonlyArray<{ state: string; count: number }>, TaskBookError>
}

const fail = (operation: string) => (e: unknown) =>
  new TaskBookError({
    operation,
    detail:
      e instanceof Error ? `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ""}` : String(e)
  })

export interface BookOptions {
  /** This instance's id, written as the owner of what it claims. */
  readonly instanceId: string
  readonly leaseMillis: number
  /** Several instances share the database (Postgres): look at the others' sessions and take turns migrating. */
  readonly shared: boolean
}

/** The book over the SqlClient in context (SQLite or Postgres), migrated first. */
export const make = (options: BookOptions): Effect.Effect<TaskBook, TaskBookError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const me = options.instanceId
    const ttl = options.leaseMillis
    yield* (options.shared ? PostgresStore.withAdvisoryLockWaiting(migrationLockKey)(migrate) : migrate).pipe(
      Effect.mapError(fail("migrate"))
    )
    const rows = (operation: string) => (effect: Effect.Effect<ReadonlyArray<unknown>, unknown>) =>
      effect.pipe(
        Effect.flatMap(decodeRows),
        Effect.map((decoded) => decoded.map(toTask)),
        Effect.mapError(fail(operation))
      )
    const leases = (rows: ReadonlyArray<TaskRow>): ReadonlyArray<Lease> =>
      rows.map((row) => ({ taskId: row.taskId, token: row.fencingToken, row }))
    const changed = (operation: string) => (effect: Effect.Effect<ReadonlyArray<unknown>, unknown>) =>
      effect.pipe(
        Effect.map((r) => r.length > 0),
        Effect.mapError(fail(operation))
      )

    // ---- submitting and reading

    const get = (taskId: string) =>
      rows("get")(sql`SELECT * FROM hangar_tasks WHERE task_id = ${taskId}`).pipe(
        Effect.map((found) => Option.fromNullable(found[0]))
      )

    const submit = (taskId: string, spec: string, now: number) =>
      Effect.gen(function* () {
        const inserted = yield* sql`INSERT INTO hangar_tasks (task_id, spec, state, created_at, updated_at)
          VALUES (${taskId}, ${spec}, 'queued', ${now}, ${now}) ON CONFLICT (task_id) DO NOTHING
          RETURNING task_id`.pipe(Effect.mapError(fail("submit")))
        const row = yield* get(taskId)
        if (Option.isNone(row))
          return yield* Effect.fail(new TaskBookError({ operation: "submit", detail: `${taskId} vanished` }))
        return { row: row.value, created: inserted.length > 0 }
      })

    // ---- leases

    const claim = (taskId: string, now: number) =>
      rows("claim")(
        sql`UPDATE hangar_tasks SET owner = ${me}, lease_expires_at = ${now + ttl},
              fencing_token = fencing_token + 1, attempts = attempts + 1, updated_at = ${now}
            WHERE task_id = ${taskId} AND state IN ('queued', 'running')
              AND (owner IS NULL OR lease_expires_at < ${now})
            RETURNING *`
      ).pipe(Effect.map((claimed) => Option.fromNullable(leases(claimed)[0])))

    const expired = (now: number, limit: number) =>
      sql.onDialectOrElse({
        pg: () => sql`SELECT task_id FROM hangar_tasks
          WHERE state IN ('queued', 'running') AND lease_expires_at < ${now}
          ORDER BY created_at LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
        orElse: () => sql`SELECT task_id FROM hangar_tasks
          WHERE state IN ('queued', 'running') AND lease_expires_at < ${now}
          ORDER BY created_at LIMIT ${limit}`
      })

    const claimExpired = (now: number, limit: number) =>
      rows("claimExpired")(
        sql`UPDATE hangar_tasks SET owner = ${me}, lease_expires_at = ${now + ttl},
              fencing_token = fencing_token + 1, attempts = attempts + 1, updated_at = ${now}
            WHERE task_id IN (${expired(now, limit)}) AND state IN ('queued', 'running')
              AND lease_expires_at < ${now}
            RETURNING *`
      ).pipe(Effect.map(leases))

    const heartbeat = (now: number, held: ReadonlyArray<Lease>) =>
      Effect.all([
        sql`INSERT INTO hangar_instances (instance_id, started_at, expires_at) VALUES (${me}, ${now}, ${now + ttl})
            ON CONFLICT (instance_id) DO UPDATE SET expires_at = excluded.expires_at`,
        ...(held.length === 0
          ? []
          : [
              sql`UPDATE hangar_tasks SET lease_expires_at = ${now + ttl}
                  WHERE owner = ${me} AND task_id IN ${sql.in(held.map((l) => l.taskId))}
                    AND state IN ('queued', 'running') AND lease_expires_at >= ${now}`
            ])
      ]).pipe(Effect.asVoid, Effect.mapError(fail("heartbeat")))

    // ---- fenced writes

    const step = (lease: Lease, name: string, now: number) =>
      changed("step")(
        sql`UPDATE hangar_tasks SET step = ${name}, state = 'running', updated_at = ${now}
            WHERE task_id = ${lease.taskId} AND fencing_token = ${lease.token} AND owner = ${me}
              AND state IN ('queued', 'running') RETURNING task_id`
      )

    const markExec = (lease: Lease, now: number) =>
      changed("markExec")(
        sql`UPDATE hangar_tasks SET step = 'exec', exec_sent = 1, state = 'running', updated_at = ${now}
            WHERE task_id = ${lease.taskId} AND fencing_token = ${lease.token} AND owner = ${me}
              AND state IN ('queued', 'running') AND lease_expires_at >= ${now} RETURNING task_id`
      )

    const complete = (lease: Lease, outcome: Outcome, now: number) =>
      changed("complete")(
        sql`UPDATE hangar_tasks SET state = ${outcome.state}, provider = ${outcome.provider ?? null},
              decision = ${outcome.decision ?? null}, result = ${outcome.result ?? null},
              error = ${outcome.error ?? null}, start_latency_millis = ${outcome.startLatencyMillis ?? null},
              updated_at = ${now}, lease_expires_at = 0
            WHERE task_id = ${lease.taskId} AND fencing_token = ${lease.token} AND owner = ${me}
              AND state IN ('queued', 'running') RETURNING task_id`
      )

    // ---- what others hold

    const others = (now: number) =>
      options.shared
        ? sql`SELECT s.task_id FROM hangar_sessions s JOIN hangar_instances i ON i.instance_id = s.owner
              WHERE s.owner <> ${me} AND i.expires_at >= ${now} AND s.state NOT IN ('released', 'failed')`
        : Effect.succeed([])

    const heldElsewhere = (now: number) =>
      Effect.gen(function* () {
        const unfinished = yield* sql`SELECT task_id FROM hangar_tasks WHERE state IN ('queued', 'running')
          AND NOT (COALESCE(owner, '') = ${me} AND lease_expires_at >= ${now})`
        const owned = yield* others(now)
        return new Set([...unfinished, ...owned].map((r) => String((r as { task_id: unknown }).task_id)))
      }).pipe(Effect.mapError(fail("heldElsewhere")))

    const liveInstances = (now: number) =>
      sql`SELECT instance_id FROM hangar_instances WHERE expires_at >= ${now} ORDER BY instance_id`.pipe(
        Effect.map((found) => found.map((r) => String(r.instance_id))),
        Effect.mapError(fail("liveInstances"))
      )

    const countByState = () =>
      sql`SELECT state, COUNT(*) AS count FROM hangar_tasks GROUP BY state`.pipe(
        Effect.map((found) => found.map((r) => ({ state: String(r.state), count: Number(r.count) }))),
        Effect.mapError(fail("countByState"))
      )

    return {
      submit,
      get,
      claim,
      claimExpired,
      heartbeat,
      step,
      markExec,
      complete,
      heldElsewhere,
      liveInstances,
      countByState
    } satisfies TaskBook
  })
