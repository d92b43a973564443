/**
 * The Machines API's two ways of coordinating with a machine: a short lease around every mutation (one someone
 * else holds is waited for until it expires), and waits for a state that ask again on Fly's 60 s cap.
 */
import { type ComputeError, ComputeProvider } from "@hangar/core"
import { Clock, Effect, Exit, FiberRef, Schedule } from "effect"
import * as FlySchemas from "../FlySchemas.js"
import { type FlyEnvironment, machinePath } from "./FlyEnvironment.js"
import { timeoutError } from "./Provenance.js"

/** Seconds a lease is taken for: long enough for one mutation, short enough that a lost one soon expires. */
const leaseTtlSeconds = 30

export const getMachine = (
  env: FlyEnvironment,
  app: string,
  id: string
): Effect.Effect<FlySchemas.Machine, ComputeError.ComputeError> =>
  env.client.request("GET", machinePath(app, id), FlySchemas.Machine)

/**
 * Waits for one of `states`, asking again on each 408 until the wait deadline or the call's deadline, each
 * ask within Fly's 60 s cap.
 */
export const waitFor = (env: FlyEnvironment, app: string, id: string, states: string) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const until = Math.min(
      started + env.waitDeadlineMillis,
      yield* FiberRef.get(ComputeProvider.callDeadlineAt)
    )
    const ask = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now >= until
        ? Effect.fail(timeoutError("wait", now - started, `machine ${id} did not reach ${states}`))
        : env.client.request(
            "GET",
            `${machinePath(app, id)}/wait?${states}&timeout=${Math.min(60, Math.max(1, Math.ceil((until - now) / 1000)))}`,
            FlySchemas.WaitResponse
          )
    )
    // The retry is entered only on a 408, so an answered wait builds no schedule.
    const expired = (e: ComputeError.ComputeError) => e._tag === "Timeout" && e.reason === "WaitExpired"
    return yield* ask.pipe(Effect.catchIf(expired, () => Effect.retry(ask, { while: expired })))
  })

/** A short lease; a lease someone else holds is waited for (it expires), until the call's deadline. */
const acquireLease = (env: FlyEnvironment, app: string, id: string) => {
  const acquire = env.client.request("POST", `${machinePath(app, id)}/lease`, FlySchemas.LeaseResponse, {
    body: { ttl: leaseTtlSeconds, description: "hangar" }
  })
  const held = (e: ComputeError.ComputeError) => e._tag === "RateLimited" && e.reason === "Throttled"
  // Entered only when the lease is held, so a lease taken at once builds no schedule.
  return acquire.pipe(
    Effect.catchIf(held, () =>
      Effect.retry(Effect.zipRight(Effect.sleep("1 second"), acquire), {
        schedule: Schedule.spaced("1 second"),
        while: (e) =>
          held(e)
            ? Effect.zipWith(
                Clock.currentTimeMillis,
                FiberRef.get(ComputeProvider.callDeadlineAt),
                (now, deadline) => now + 1_000 < deadline
              )
            : Effect.succeed(false)
      })
    )
  )
}

/**
 * Runs a mutation of a machine under a short lease, released afterwards; `destroys`: a mutation that
 * succeeded destroyed the machine, and its lease with it, so there is nothing left to release.
 */
export const withLease = <A>(
  env: FlyEnvironment,
  app: string,
  id: string,
  mutate: (nonce: string) => Effect.Effect<A, ComputeError.ComputeError>,
  destroys = false
) =>
  Effect.acquireUseRelease(
    acquireLease(env, app, id),
    (lease) => mutate(lease.data.nonce),
    (lease, exit) =>
      destroys && Exit.isSuccess(exit)
        ? Effect.void
        : env.client
            .request("DELETE", `${machinePath(app, id)}/lease`, FlySchemas.Ok, { nonce: lease.data.nonce })
            .pipe(Effect.ignore)
  )

/** Posts `action` (start, stop, suspend) to the machine under a lease. */
export const postUnderLease = (env: FlyEnvironment, app: string, id: string, action: string) =>
  withLease(env, app, id, (nonce) =>
    env.client.request("POST", `${machinePath(app, id)}/${action}`, FlySchemas.Ok, { nonce })
  )
