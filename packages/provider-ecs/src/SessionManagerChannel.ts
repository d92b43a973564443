/**
 * The client side of the ECS Exec data channel: opens the session's WebSocket with its token, acknowledges
 * every message, answers the agent's handshake, collects stdout (Output) and stderr (StdErr), and resolves with
 * the exit code from channel_closed. A connection that drops first is a typed error, never a hang.
 *
 * Handshake (as the session-manager-plugin does): the agent's HandshakeRequest lists actions for the client;
 * `SessionType` is accepted, `KMSEncryption` is refused (this client has no KMS data key exchange), anything else
 * is answered Unsupported, in one `input_stream_data` HandshakeResponse. A channel the agent then closes because
 * an action was refused is `Unsupported` naming it.
 */
import { ComputeError } from "@hangar/core"
import { SessionManagerMessage } from "@hangar/core/protocols"
import WebSocket from "ws"

export interface ChannelOutcome {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

interface RequestedAction {
  readonly ActionType?: unknown
}

/** ActionStatus of the plugin's ProcessedClientAction. */
const ActionStatus = { Success: 1, Failed: 2, Unsupported: 3 } as const

/** The HandshakeResponse payload for a HandshakeRequest payload, and the actions it refused. */
export const handshakeResponse = (
  request: Uint8Array
): { readonly payload: string; readonly refused: ReadonlyArray<string> } => {
  let actions: ReadonlyArray<RequestedAction> = []
  try {
    const parsed = JSON.parse(Buffer.from(request).toString("utf8")) as { RequestedClientActions?: unknown }
    if (Array.isArray(parsed.RequestedClientActions)) actions = parsed.RequestedClientActions
  } catch {
    actions = []
  }
  const refused: Array<string> = []
  const processed = actions.map((action) => {
    const type = typeof action.ActionType === "string" ? action.ActionType : String(action.ActionType)
    if (type === "SessionType") return { ActionType: type, ActionStatus: ActionStatus.Success, Error: "" }
    refused.push(type)
    return type === "KMSEncryption"
      ? {
          ActionType: type,
          ActionStatus: ActionStatus.Failed,
          Error: "KMS encryption of exec sessions is not supported by this client"
        }
      : { ActionType: type, ActionStatus: ActionStatus.Unsupported, Error: `${type} is not supported` }
  })
  return {
    payload: JSON.stringify({ ClientVersion: "hangar-1", ProcessedClientActions: processed, Errors: [] }),
    refused
  }
}

/** Runs the channel to its end; aborting `signal` (the caller's timeout or interruption) closes it. */
export const run = (streamUrl: string, tokenValue: string, signal?: AbortSignal): Promise<ChannelOutcome> =>
  new Promise((resolve, reject) => {
    const context = { module: "SessionManagerChannel", method: "run", provider: "ecs" }
    const ws = new WebSocket(streamUrl)
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    let sequence = 0
    /** Sequence numbers of the client's own input stream (the handshake response). */
    let inputSequence = 0
    let refused: ReadonlyArray<string> = []
    /** Sequence numbers already taken in: a message the agent sends again (no acknowledgement seen) is not. */
    const seen = new Set<number>()
    let done = false
    const fail = (detail: string) => {
      if (done) return
      done = true
      ws.terminate()
      reject(
        refused.length > 0
          ? new ComputeError.Unsupported({
              ...context,
              feature: `exec session action ${refused.join(", ")}`,
              providerReason: `the agent closed the channel after the client refused it (${detail})`
            })
          : new ComputeError.ProviderUnavailable({ ...context, reason: "Transport", detail })
      )
    }
    const onAbort = () => fail("the caller stopped waiting (timeout or interruption)")
    if (signal?.aborted) onAbort()
    signal?.addEventListener("abort", onAbort, { once: true })
    ws.on("close", () => signal?.removeEventListener("abort", onAbort))
    ws.on("open", () => ws.send(SessionManagerMessage.openDataChannel(tokenValue)))
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return
      let message: SessionManagerMessage.Message
      try {
        message = SessionManagerMessage.decode(data)
      } catch (e) {
        fail(`malformed data-channel message: ${(e as Error).message}`)
        return
      }
      // The agent's acknowledgements of the client's input are not acknowledged in turn.
      if (message.messageType === SessionManagerMessage.MessageType.Acknowledge) return
      ws.send(
        SessionManagerMessage.encode(SessionManagerMessage.acknowledge(message, sequence++, Date.now()))
      )
      if (seen.has(message.sequenceNumber)) return
      seen.add(message.sequenceNumber)
      if (
        message.messageType === SessionManagerMessage.MessageType.OutputStreamData &&
        message.payloadType === SessionManagerMessage.PayloadType.HandshakeRequest
      ) {
        const response = handshakeResponse(message.payload)
        refused = response.refused
        ws.send(
          SessionManagerMessage.encode(
            SessionManagerMessage.make(
              SessionManagerMessage.MessageType.InputStreamData,
              SessionManagerMessage.PayloadType.HandshakeResponse,
              response.payload,
              inputSequence++,
              Date.now()
            )
          )
        )
      } else if (
        message.messageType === SessionManagerMessage.MessageType.OutputStreamData &&
        (message.payloadType === SessionManagerMessage.PayloadType.Output ||
          message.payloadType === SessionManagerMessage.PayloadType.StdErr)
      ) {
        ;(message.payloadType === SessionManagerMessage.PayloadType.StdErr ? stderr : stdout).push(
          Buffer.from(message.payload)
        )
      } else if (message.messageType === SessionManagerMessage.MessageType.ChannelClosed) {
        let exitCode = -1
        try {
          exitCode = Number(
            (JSON.parse(Buffer.from(message.payload).toString("utf8")) as { ExitCode?: unknown }).ExitCode ??
              -1
          )
        } catch {
          exitCode = -1
        }
        done = true
        ws.close()
        resolve({
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderr: Buffer.concat(stderr).toString("utf8"),
          exitCode
        })
      }
    })
    ws.on("error", (e) => fail(`data channel error: ${e.message}`))
    ws.on("close", (code, reason) =>
      fail(`data channel closed before the command finished (${code} ${reason.toString()})`)
    )
  })
