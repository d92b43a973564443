/**
 * The ECS Exec data channel: a loopback WebSocket speaking the Session Manager framing (core's
 * `SessionManagerMessage`). The client opens it with the session token, the command runs through the exec
 * backend in the task (simulated time for the scripted backend), stdout and stderr stream as
 * output_stream_data (Output / StdErr payloads, 1 KiB chunks, each acknowledged), and channel_closed carries
 * the exit code.
 */

import { randomBytes } from "node:crypto"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { SessionManagerMessage } from "@hangar/core"
import { type WebSocket, WebSocketServer } from "ws"
import type { EcsModel, Task } from "./model/EcsModel.js"

interface PendingSession {
  readonly task: Task
  readonly command: ReadonlyArray<string>
  readonly token: string
}

export class DataChannel {
  private readonly sessions = new Map<string, PendingSession>()
  private readonly wss = new WebSocketServer({ noServer: true })
  /** Acknowledgements received, for tests. */
  acknowledged = 0
  baseUrl = "ws://127.0.0.1:0"

  constructor(private readonly model: EcsModel) {}

  open(task: Task, command: ReadonlyArray<string>) {
    const sessionId = `ecs-execute-command-${randomBytes(8).toString("hex")}`
    const token = randomBytes(24).toString("base64url")
    this.sessions.set(sessionId, { task, command, token })
    return { sessionId, streamUrl: `${this.baseUrl}/ssm/data-channel/${sessionId}`, tokenValue: token }
  }

  /** Handles an HTTP upgrade on the simulator's server; false if it is not a data-channel URL. */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const sessionId = /^\/ssm\/data-channel\/([A-Za-z0-9-]+)/.exec(request.url ?? "")?.[1]
    if (sessionId === undefined) return false
    this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, sessionId))
    return true
  }

  private serve(ws: WebSocket, sessionId: string): void {
    const clock = this.model.clock
    let sequence = 0
    const send = (type: string, payloadType: number, payload: string | Uint8Array) =>
      ws.send(
        SessionManagerMessage.encode(
          SessionManagerMessage.make(type, payloadType, payload, sequence++, clock.now())
        )
      )
    ws.once("message", (data, isBinary) => {
      const session = this.sessions.get(sessionId)
      let token: unknown
      try {
        token = isBinary ? undefined : (JSON.parse(String(data)) as { TokenValue?: unknown }).TokenValue
      } catch {
        token = undefined
      }
      if (session === undefined || token !== session.token) {
        ws.close(4001, "invalid session or token")
        return
      }
      this.sessions.delete(sessionId)
      ws.on("message", (frame, binary) => {
        if (!binary) return
        try {
          if (
            SessionManagerMessage.decode(frame as Buffer).messageType ===
            SessionManagerMessage.MessageType.Acknowledge
          )
            this.acknowledged++
        } catch {
          ws.close(4002, "malformed message")
        }
      })
      void this.model.exec
        .run({ command: session.command, signal: session.task.running.signal }, clock)
        .then((outcome) => {
          if (ws.readyState !== ws.OPEN) return
          for (const [text, type] of [
            [outcome.stdout, SessionManagerMessage.PayloadType.Output],
            [outcome.stderr, SessionManagerMessage.PayloadType.StdErr]
          ] as const) {
            const bytes = Buffer.from(text, "utf8")
            for (let i = 0; i < bytes.length; i += 1024)
              send(SessionManagerMessage.MessageType.OutputStreamData, type, bytes.subarray(i, i + 1024))
          }
          send(
            SessionManagerMessage.MessageType.ChannelClosed,
            0,
            JSON.stringify({ SessionId: sessionId, ExitCode: outcome.exitCode, Output: "" })
          )
          ws.close(1000, "command finished")
        })
    })
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate()
    this.wss.close()
  }
}
