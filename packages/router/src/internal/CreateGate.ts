/**
 * A provider's create gate: creates under way there (from just before the provider is asked until the session is
 * recorded), and a gate reconciliation closes while it destroys an orphan, so that no create can pick that
 * compute up meanwhile.
 */
import { Effect } from "effect"

export interface CreateGate {
  creates: number
  closed: boolean
  readonly latch: Effect.Latch
}

export const make: Effect.Effect<CreateGate> = Effect.map(Effect.makeLatch(true), (latch) => ({
  creates: 0,
  closed: false,
  latch
}))

/** Enters the provider's create phase, waiting while reconciliation holds its gate closed. */
const enterCreate = (gate: CreateGate): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (gate.closed) return Effect.zipRight(gate.latch.await, enterCreate(gate))
    gate.creates++
    return Effect.void
  })

const leaveCreate = (gate: CreateGate) => Effect.sync(() => void gate.creates--)

/** Runs a create inside the gate's create phase (waiting while the gate is closed); no gate: runs it as it is. */
export const withinCreate = <A, E, R>(
  gate: CreateGate | undefined,
  create: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  gate === undefined
    ? create
    : Effect.acquireUseRelease(
        enterCreate(gate),
        () => create,
        () => leaveCreate(gate)
      )

/**
 * Runs `act` with the gate closed, if it can be closed now: not while a create is under way or the gate is
 * already closed (then `deferred`). No gate: runs `act` as it is.
 */
export const whileClosed = <A, E, R>(
  gate: CreateGate | undefined,
  act: Effect.Effect<A, E, R>
): Effect.Effect<A | "deferred", E, R> => {
  const close = Effect.sync(() => {
    if (gate === undefined) return true
    if (gate.creates > 0 || gate.closed) return false
    gate.closed = true
    gate.latch.unsafeClose()
    return true
  })
  const open = Effect.sync(() => {
    if (gate === undefined) return
    gate.closed = false
    gate.latch.unsafeOpen()
  })
  return Effect.acquireUseRelease(
    close,
    (closed): Effect.Effect<A | "deferred", E, R> => (closed ? act : Effect.succeed("deferred" as const)),
    (closed) => (closed ? open : Effect.void)
  )
}
