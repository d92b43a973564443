/** What a session has used so far: seconds in each billable state and what they cost. */
import { Schema } from "effect"
import { MicroUsd } from "./Money.js"

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
