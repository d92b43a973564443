/**
 * The router's session store in memory, answering as `SessionStore.layerMemory` does (a record per task id;
 * `setSessionState` moves every record of a session that is not released), in constant time per call.
 * `layerMemory` walks every record on each `setSessionState`, once per sleep: over a simulated month of
 * thousands of tasks that walk, and the copies of a session's records, were most of the bench's time. Here a
 * session's state change is kept once, beside the records, and applied to a record when it is read, unless the
 * record was put after it or is released.
 */
import { SessionStore } from "@hangar/router"
import { Effect, Layer, Option } from "effect"

const keyOf = (provider: string, sessionId: string) => `${provider}\u0000${sessionId}`

interface Stamped<A> {
  readonly value: A
  /** Order of writes, to tell which of a record and its session's state change came last. */
  readonly seq: number
}

export const make = (): SessionStore.Service => {
  let seq = 0
  const records = new Map<string, Stamped<SessionStore.SessionRecord>>()
  const sessionStates = new Map<
    string,
    Stamped<{ readonly state: SessionStore.SessionState; readonly atMillis: number }>
  >()

  /** The record as `layerMemory` would hold it: its session's later state change applied. */
  const view = (entry: Stamped<SessionStore.SessionRecord>): SessionStore.SessionRecord => {
    const record = entry.value
    if (record.state === "released") return record
    const change = sessionStates.get(keyOf(record.provider, record.sessionId))
    return change === undefined || change.seq < entry.seq
      ? record
      : { ...record, state: change.value.state, updatedAtMillis: change.value.atMillis }
  }

  return {
    put: (record) => Effect.sync(() => void records.set(record.taskId, { value: record, seq: ++seq })),
    get: (taskId) =>
      Effect.sync(() => {
        const entry = records.get(taskId)
        return entry === undefined ? Option.none() : Option.some(view(entry))
      }),
    live: () =>
      Effect.sync(() => {
        const out: Array<SessionStore.SessionRecord> = []
        for (const entry of records.values()) {
          const record = view(entry)
          if (record.state !== "released") out.push(record)
        }
        return out
      }),
    setSessionState: (provider, sessionId, state, atMillis) =>
      Effect.sync(
        () => void sessionStates.set(keyOf(provider, sessionId), { value: { state, atMillis }, seq: ++seq })
      )
  }
}

export const layer: Layer.Layer<SessionStore.SessionStore> = Layer.sync(SessionStore.SessionStore, make)
