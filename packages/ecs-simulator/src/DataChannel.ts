/**
 * The ECS Exec data channel: a loopback WebSocket speaking the Session Manager framing (core's
 * `SessionManagerMessage`). ExecuteCommand opens a session (id, single-use token); the client connects to its
 * streamUrl and sends the `open_data_channel` text frame with the token; the command runs through the exec
 * backend inside the task; stdout and stderr stream as `output_stream_data` (payload types Output and StdErr, in
 * 1 KiB chunks, sequence-numbered); then `channel_closed` carries the exit code.
 *
 * Acknowledgements are honoured: at most `window` messages are unacknowledged at a time, and one not
 * acknowledged within `retransmitAfterMs` is sent again (same sequence number and id). Client `input_stream_data`
 * is acknowledged (non-interactive commands ignore its content). A connection that drops before the command
 * ends aborts the command (the process backend kills it) and the session cannot be reopened.
 *
 * Unless `handshake` is "none", the channel first does what the SSM agent does: a HandshakeRequest (`output_stream_data`,
 * payload type 5) asking for the SessionType action (and KMSEncryption with "kms"), the command waiting for the
 * client's HandshakeResponse (`input_stream_data`, payload type 6); every action accepted gives a
 * HandshakeComplete (7) and the command runs, a refused one closes the channel (4003).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { SessionManagerMessage } from "@hangar/core/protocols"
import { type WebSocket, WebSocketServer } from "ws"
import type { EcsModel, Task } from "./model/EcsModel.js"

interface PendingSession {
  readonly task: Task
  readonly command: ReadonlyArray<string>
  readonly token: string
  /** Wall-clock ms when ExecuteCommand opened it. */
  readonly openedAt: number
}

export interface Options {
  /** Most unacknowledged messages in flight. */
  readonly window?: number
  readonly retransmitAfterMs?: number
  readonly chunkBytes?: number
  /** The agent's handshake before the command: SessionType (default), with KMSEncryption, or none. */
  readonly handshake?: "none" | "session-type" | "kms"
  /** How long (wall ms) a connection may take to send `open_data_channel` before it is closed (default 10 s). */
  readonly openTimeoutMs?: number
  /** How long (wall ms) a session ExecuteCommand opened stays connectable (default 5 minutes). */
  readonly sessionTtlMs?: number
}

/** Equal tokens, compared in constant time (over their digests, so lengths leak nothing either). */
const sameToken = (a: string, b: string): boolean =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest())

const { MessageType, PayloadType } = SessionManagerMessage

/** The client actions the agent's HandshakeRequest asks for: the session type, and KMS encryption with `kms`. */
const requestedActions = (kms: boolean) => [
  { ActionType: "SessionType", ActionParameters: { SessionType: "Standard_Stream", Properties: null } },
  ...(kms
    ? [{ ActionType: "KMSEncryption", ActionParameters: { KMSKeyId: "arn:aws:kms:us-east-1:1:key/sim" } }]
    : [])
]

/** Whether a HandshakeResponse's payload reports every requested action processed with status 1 (success). */
const acceptsAll = (
  requested: ReadonlyArray<{ readonly ActionType: string }>,
  payload: Uint8Array
): boolean => {
  let processed: ReadonlyArray<{ ActionType?: unknown; ActionStatus?: unknown }> = []
  try {
    const parsed = JSON.parse(Buffer.from(payload).toString("utf8")) as { ProcessedClientActions?: unknown }
    if (Array.isArray(parsed.ProcessedClientActions)) processed = parsed.ProcessedClientActions
  } catch {
    processed = []
  }
  return requested.every((r) => processed.some((p) => p.ActionType === r.ActionType && p.ActionStatus === 1))
}

export class DataChannel {
  private readonly sessions = new Map<string, PendingSession>()
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 })
  private readonly window: number
  private readonly retransmitAfterMs: number
  private readonly chunkBytes: number
  private readonly handshake: "none" | "session-type" | "kms"
  private readonly openTimeoutMs: number
  private readonly sessionTtlMs: number
  /** Counters, for tests and `/_sim/state`. */
  readonly stats = { opened: 0, acknowledged: 0, retransmitted: 0, completed: 0, dropped: 0, rejected: 0 }
  baseUrl = "ws://127.0.0.1:0"

  constructor(
    private readonly model: EcsModel,
    options: Options = {}
  ) {
    this.window = options.window ?? 32
    this.retransmitAfterMs = options.retransmitAfterMs ?? 1_000
    this.chunkBytes = options.chunkBytes ?? 1_024
    this.handshake = options.handshake ?? "session-type"
    this.openTimeoutMs = options.openTimeoutMs ?? 10_000
    this.sessionTtlMs = options.sessionTtlMs ?? 5 * 60_000
  }

  open(task: Task, command: ReadonlyArray<string>) {
    const sessionId = `ecs-execute-command-${randomBytes(8).toString("hex")}`
    const token = randomBytes(24).toString("base64url")
    this.forgetExpired()
    this.sessions.set(sessionId, { task, command, token, openedAt: Date.now() })
    return { sessionId, streamUrl: `${this.baseUrl}/ssm/data-channel/${sessionId}`, tokenValue: token }
  }

  /** Drops sessions never connected within `sessionTtlMs` (so unused ones do not pile up). */
  private forgetExpired(): void {
    const now = Date.now()
    for (const [id, session] of this.sessions)
      if (now - session.openedAt > this.sessionTtlMs) this.sessions.delete(id)
  }

  /**
   * Handles an HTTP upgrade on the simulator's server: a data-channel URL of a session ExecuteCommand opened
   * and not yet used is upgraded; any other is answered 404 without an upgrade and the socket closed.
   */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const sessionId = /^\/ssm\/data-channel\/([A-Za-z0-9-]{1,128})$/.exec(request.url ?? "")?.[1]
    this.forgetExpired()
    if (sessionId === undefined || !this.sessions.has(sessionId)) {
      this.stats.rejected++
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", () =>
        socket.destroy()
      )
      return
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, sessionId))
  }

  private serve(ws: WebSocket, sessionId: string): void {
    const deadline = setTimeout(() => {
      this.stats.rejected++
      ws.close(4001, "open_data_channel with the session token was not sent in time")
      setTimeout(() => ws.terminate(), 1_000).unref()
    }, this.openTimeoutMs)
    deadline.unref()
    ws.once("close", () => clearTimeout(deadline))
    ws.once("message", (data, isBinary) => {
      clearTimeout(deadline)
      const session = this.sessions.get(sessionId)
      let token: unknown
      try {
        token = isBinary ? undefined : (JSON.parse(String(data)) as { TokenValue?: unknown }).TokenValue
      } catch {
        token = undefined
      }
      if (session === undefined || typeof token !== "string" || !sameToken(token, session.token)) {
        this.stats.rejected++
        ws.close(4001, "unknown session or wrong token")
        return
      }
      // Single use: a dropped connection cannot be resumed with the same token.
      this.sessions.delete(sessionId)
      this.stats.opened++
      this.run(ws, sessionId, session)
    })
  }

  private run(ws: WebSocket, sessionId: string, session: PendingSession): void {
    const clock = this.model.clock
    const unacked = new Map<number, { frame: Buffer; sentAt: number }>()
    const queue: Array<Buffer> = []
    let sequence = 0
    let finished = false
    let closing = false
    const abort = new AbortController()
    const onTaskStop = () => abort.abort()
    session.task.running.signal.addEventListener("abort", onTaskStop, { once: true })
    const timer = setInterval(
      () => {
        const now = Date.now()
        for (const entry of unacked.values())
          if (now - entry.sentAt >= this.retransmitAfterMs && ws.readyState === ws.OPEN) {
            ws.send(entry.frame)
            entry.sentAt = now
            this.stats.retransmitted++
          }
      },
      Math.max(10, Math.floor(this.retransmitAfterMs / 2))
    )
    timer.unref()

    const frame = (type: string, payloadType: number, payload: string | Uint8Array) => {
      const message = SessionManagerMessage.make(type, payloadType, payload, sequence++, clock.now())
      return { sequence: message.sequenceNumber, bytes: SessionManagerMessage.encode(message) }
    }
    const sequenceOf = new Map<Buffer, number>()
    const enqueue = (type: string, payloadType: number, payload: string | Uint8Array) => {
      const { sequence: n, bytes } = frame(type, payloadType, payload)
      sequenceOf.set(bytes, n)
      queue.push(bytes)
    }
    const pump = () => {
      while (queue.length > 0 && unacked.size < this.window && ws.readyState === ws.OPEN) {
        const bytes = queue.shift()!
        const n = sequenceOf.get(bytes)!
        sequenceOf.delete(bytes)
        unacked.set(n, { frame: bytes, sentAt: Date.now() })
        ws.send(bytes)
      }
      if (finished && queue.length === 0 && unacked.size === 0 && !closing) {
        closing = true
        this.stats.completed++
        ws.close(1000, "command finished")
      }
    }
    const cleanup = () => {
      clearInterval(timer)
      session.task.running.signal.removeEventListener("abort", onTaskStop)
    }

    ws.on("message", (data, binary) => {
      if (!binary) return
      let message: SessionManagerMessage.Message
      try {
        message = SessionManagerMessage.decode(data as Buffer)
      } catch {
        ws.close(4002, "malformed message")
        return
      }
      if (message.messageType === MessageType.Acknowledge) {
        let acked: unknown
        try {
          acked = (JSON.parse(Buffer.from(message.payload).toString("utf8")) as Record<string, unknown>)
            .AcknowledgedMessageSequenceNumber
        } catch {
          acked = undefined
        }
        if (typeof acked === "number" && unacked.delete(acked)) this.stats.acknowledged++
        pump()
      } else if (message.messageType === MessageType.InputStreamData) {
        const ack = SessionManagerMessage.acknowledge(message, sequence++, clock.now())
        ws.send(SessionManagerMessage.encode(ack))
        if (message.payloadType === PayloadType.HandshakeResponse) answered(message.payload)
      }
    })
    ws.on("close", () => {
      cleanup()
      if (!finished) {
        this.stats.dropped++
        abort.abort()
      } else if (!closing) {
        closing = true
        this.stats.completed++
      }
    })

    let answered: (payload: Uint8Array) => void = () => undefined
    const handshaken =
      this.handshake === "none"
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            const requested = requestedActions(this.handshake === "kms")
            answered = (payload) => {
              answered = () => undefined
              const accepted = acceptsAll(requested, payload)
              if (accepted) {
                enqueue(
                  MessageType.OutputStreamData,
                  PayloadType.HandshakeComplete,
                  JSON.stringify({ HandshakeTimeToComplete: 0, CustomerMessage: "" })
                )
                pump()
              }
              resolve(accepted)
            }
            enqueue(
              MessageType.OutputStreamData,
              PayloadType.HandshakeRequest,
              JSON.stringify({ AgentVersion: "3.3.1142.0", RequestedClientActions: requested })
            )
            pump()
          })

    const signal = AbortSignal.any([abort.signal, session.task.running.signal])
    // Not `clock.idle`: the handshake waits on the client, which holds simulated time still meanwhile.
    void handshaken
      .then((accepted) => {
        if (accepted) return this.model.exec.run({ command: session.command, signal }, clock)
        if (ws.readyState === ws.OPEN)
          ws.close(4003, "handshake failed: the client refused a requested action")
        return undefined
      })
      .then((outcome) => {
        if (outcome === undefined) return
        if (ws.readyState !== ws.OPEN) return
        for (const [text, type] of [
          [outcome.stdout, PayloadType.Output],
          [outcome.stderr, PayloadType.StdErr]
        ] as const) {
          const bytes = Buffer.from(text, "utf8")
          for (let i = 0; i < bytes.length; i += this.chunkBytes)
            enqueue(MessageType.OutputStreamData, type, bytes.subarray(i, i + this.chunkBytes))
        }
        enqueue(
          MessageType.ChannelClosed,
          0,
          JSON.stringify({
            MessageType: "channel_closed",
            SessionId: sessionId,
            ExitCode: outcome.exitCode,
            Output: ""
          })
        )
        finished = true
        pump()
      })
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate()
    this.wss.close()
  }
}
