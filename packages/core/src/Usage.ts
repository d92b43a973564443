/** What a session has used so far: seconds in each billable state and what they cost. */
import { Schema } from "effect"
import { MicroUsd } from "./Money.js"
import type { SessionStatus } from "./Session.js"

const Seconds = Schema.NonNegative.pipe(Schema.finite())

export const SecondsByState = Schema.Struct({
  provisioning: Seconds,
  running: Seconds,
  suspended: Seconds,
  stopped: Seconds
})
export type SecondsByState = typeof SecondsByState.Type

export class Usage extends Schema.Class<Usage>("Usage")({
  sessionId: Schema.NonEmptyString,
  seconds: SecondsByState,
  costMicroUsd: MicroUsd
}) {}

export const zeroSeconds: SecondsByState = { provisioning: 0, running: 0, suspended: 0, stopped: 0 }

/** A session's status from an instant on (clock millis), as providers that keep their own history record it. */
export interface StatusInterval {
  readonly status: SessionStatus
  readonly from: number
}

/** Seconds spent in each billable state by a history of status changes (oldest first), up to `now`. */
export const secondsByState = (history: ReadonlyArray<StatusInterval>, now: number): SecondsByState => {
  const millis = { provisioning: 0, running: 0, suspended: 0, stopped: 0 }
  for (let i = 0; i < history.length; i++) {
    const interval = history[i]!
    const end = history[i + 1]?.from ?? now
    if (interval.status in millis) millis[interval.status as keyof SecondsByState] += end - interval.from
  }
  return {
    provisioning: millis.provisioning / 1000,
    running: millis.running / 1000,
    suspended: millis.suspended / 1000,
    stopped: millis.stopped / 1000
  }
}
