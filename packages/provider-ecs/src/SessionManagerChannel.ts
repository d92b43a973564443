/**
 * The client side of the ECS Exec data channel: opens the session's WebSocket with its token, acknowledges
 * every message, collects stdout (Output) and stderr (StdErr), and resolves with the exit code from
 * channel_closed. A connection that drops first is a typed error, never a hang.
 */
import { ComputeError, SessionManagerMessage } from "@hangar/core"
import WebSocket from "ws"

export interface ChannelOutcome {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

export const run = (streamUrl: string, tokenValue: string): Promise<ChannelOutcome> =>
  new Promise((resolve, reject) => {
    const context = { module: "SessionManagerChannel", method: "run", provider: "ecs" }
    const ws = new WebSocket(streamUrl)
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    let sequence = 0
    let done = false
    const fail = (detail: string) => {
      if (done) return
      done = true
      ws.terminate()
      reject(new ComputeError.ProviderUnavailable({ ...context, reason: "Transport", detail }))
    }
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
      ws.send(
        SessionManagerMessage.encode(SessionManagerMessage.acknowledge(message, sequence++, Date.now()))
      )
      if (message.messageType === SessionManagerMessage.MessageType.OutputStreamData) {
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
