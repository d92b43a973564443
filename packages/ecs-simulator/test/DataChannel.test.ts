import { ExecuteCommandCommand, RunTaskCommand } from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { SessionManagerMessage } from "@hangar/core/protocols"
import { ExecBackend } from "@hangar/core/simulation"
import WebSocket from "ws"
import { quick, setup } from "./Setup.js"

interface Received {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number | undefined
  readonly closeCode: number
  readonly sequences: ReadonlyArray<number>
}

/** A Session Manager client: opens the channel with the token, acknowledges (unless told not to), collects output. */
const client = (
  streamUrl: string,
  token: string,
  options: { acknowledge?: (sequence: number) => boolean; dropAfter?: number } = {}
): Promise<Received> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(streamUrl)
    let stdout = ""
    let stderr = ""
    let exitCode: number | undefined
    let messages = 0
    const sequences: Array<number> = []
    let sequence = 0
    ws.on("open", () => ws.send(SessionManagerMessage.openDataChannel(token)))
    ws.on("message", (data: Buffer) => {
      const message = SessionManagerMessage.decode(data)
      messages++
      if (options.dropAfter !== undefined && messages >= options.dropAfter) {
        ws.terminate()
        return
      }
      if (options.acknowledge?.(message.sequenceNumber) ?? true)
        ws.send(
          SessionManagerMessage.encode(SessionManagerMessage.acknowledge(message, sequence++, Date.now()))
        )
      // Retransmissions repeat a sequence number: count each message once.
      if (sequences.includes(message.sequenceNumber)) return
      sequences.push(message.sequenceNumber)
      const text = Buffer.from(message.payload).toString("utf8")
      if (message.messageType === "output_stream_data") {
        if (message.payloadType === SessionManagerMessage.PayloadType.StdErr) stderr += text
        else stdout += text
      }
      if (message.messageType === "channel_closed") exitCode = JSON.parse(text).ExitCode
    })
    ws.on("close", (code) => resolve({ stdout, stderr, exitCode, closeCode: code, sequences }))
    ws.on("error", reject)
  })

/** The HTTP status a WebSocket upgrade to `url` is answered with (101 when it is upgraded). */
const upgradeStatus = (url: string): Promise<number> =>
  new Promise((resolve) => {
    const ws = new WebSocket(url)
    ws.on("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0)
      ws.terminate()
    })
    ws.on("open", () => {
      resolve(101)
      ws.terminate()
    })
    ws.on("error", () => resolve(0))
  })

const startExec = async (
  clock?: VirtualClock.SimulationClock,
  backend?: ExecBackend.ExecBackend,
  // The minimal client above skips the handshake unless a test asks for it.
  execHandshake: "none" | "session-type" | "kms" = "none",
  execOpenTimeoutMs?: number,
  execSessionTtlMs?: number
) => {
  const ctx = await setup({
    ...(execSessionTtlMs === undefined ? {} : { execSessionTtlMs }),
    ...(execOpenTimeoutMs === undefined ? {} : { execOpenTimeoutMs }),
    clock: clock ?? new VirtualClock.RealClock(),
    timing: quick,
    ...(backend === undefined ? {} : { exec: backend }),
    execHandshake
  })
  await ctx.sim.listen({ port: 0 })
  const run = await ctx.send<{ tasks: Array<{ taskArn: string }> }>(
    new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent", enableExecuteCommand: true })
  )
  const task = ctx.sim.model.tasks.get(run.tasks[0]!.taskArn)!
  if (ctx.virtual !== undefined) await ctx.virtual.advanceBy(60_000)
  else
    for (let i = 0; i < 200 && task.lastStatus !== "RUNNING"; i++) await new Promise((r) => setTimeout(r, 10))
  const exec = (command: string) =>
    ctx.send<{ session: { streamUrl: string; tokenValue: string } }>(
      new ExecuteCommandCommand({ cluster: "hangar", task: task.arn, command, interactive: true })
    )
  return { ...ctx, task, exec }
}

describe("ECS Exec data channel (Session Manager framing)", () => {
  it("round trip of a large output, in order, every message acknowledged", async () => {
    const { exec, sim } = await startExec()
    const { session } = await exec("yes-lines 20000")
    const received = await client(session.streamUrl, session.tokenValue)
    assert.strictEqual(received.exitCode, 0)
    const lines = received.stdout.split("\n")
    assert.strictEqual(lines.length, 20001)
    assert.strictEqual(lines[19999], "line 20000")
    assert.deepStrictEqual(
      received.sequences,
      received.sequences.map((_, i) => i)
    )
    assert.strictEqual(received.closeCode, 1000)
    assert.strictEqual(sim.dataChannel.stats.acknowledged, received.sequences.length)
    await sim.close()
  })

  it("stderr travels on its own payload type; non-zero exit codes arrive in channel_closed", async () => {
    const { exec, sim } = await startExec()
    const errors = await exec("stderr disk full")
    const a = await client(errors.session.streamUrl, errors.session.tokenValue)
    assert.deepStrictEqual([a.stdout, a.stderr, a.exitCode], ["", "disk full\n", 2])
    const missing = await exec("no-such-program")
    const b = await client(missing.session.streamUrl, missing.session.tokenValue)
    assert.strictEqual(b.exitCode, 127)
    assert.include(b.stderr, "command not found")
    const exit = await exec("exit 42")
    const c = await client(exit.session.streamUrl, exit.session.tokenValue)
    assert.strictEqual(c.exitCode, 42)
    await sim.close()
  })

  it("flow control: unacknowledged messages stop the stream and are retransmitted", async () => {
    const { exec, sim } = await startExec()
    const { session } = await exec("yes-lines 2000")
    const firstTry = new Set<number>()
    // Drop the first acknowledgement of each message: the server must resend it.
    const received = await client(session.streamUrl, session.tokenValue, {
      acknowledge: (n) => {
        if (firstTry.has(n)) return true
        firstTry.add(n)
        return false
      }
    })
    assert.strictEqual(received.exitCode, 0)
    assert.strictEqual(received.stdout.split("\n").length, 2001)
    assert.isAtLeast(sim.dataChannel.stats.retransmitted, received.sequences.length)
    await sim.close()
  })

  it("a dropped connection aborts the command; the token cannot reopen it; a wrong token is refused", async () => {
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const scripted = ExecBackend.scripted()
    const outcomes: Array<ExecBackend.ExecOutcome> = []
    const recording: ExecBackend.ExecBackend = {
      kind: "scripted",
      run: async (request, c) => {
        const outcome = await scripted.run(request, c)
        outcomes.push(outcome)
        return outcome
      }
    }
    const { exec, sim } = await startExec(clock, recording)
    const { session } = await exec("sleep 300")
    const ws = new WebSocket(session.streamUrl)
    await new Promise<void>((resolve) => ws.on("open", () => resolve()))
    ws.send(SessionManagerMessage.openDataChannel(session.tokenValue))
    for (let i = 0; i < 100 && sim.dataChannel.stats.opened === 0; i++)
      await new Promise((r) => setTimeout(r, 5))
    ws.terminate()
    for (let i = 0; i < 100 && sim.dataChannel.stats.dropped === 0; i++)
      await new Promise((r) => setTimeout(r, 5))
    assert.strictEqual(sim.dataChannel.stats.dropped, 1)
    // The scripted `sleep 300` was killed without any simulated time passing.
    for (let i = 0; i < 100 && outcomes.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    assert.strictEqual(outcomes[0]?.exitCode, 137)
    assert.strictEqual(outcomes[0]?.durationMillis, 0)
    // The used session is gone: its URL is not upgraded at all.
    assert.strictEqual(await upgradeStatus(session.streamUrl), 404)
    const other = await exec("echo hi")
    const wrong = await client(other.session.streamUrl, "not-the-token")
    assert.strictEqual(wrong.closeCode, 4001)
    assert.strictEqual(sim.dataChannel.stats.rejected, 2)
    await sim.close()
  })

  it("an unknown session is refused before the upgrade; a connection that never opens the channel is closed", async () => {
    const { exec, sim } = await startExec(undefined, undefined, "none", 200)
    const { session } = await exec("echo hi")
    const base = session.streamUrl.slice(0, session.streamUrl.lastIndexOf("/") + 1)
    assert.strictEqual(await upgradeStatus(`${base}ecs-execute-command-0000000000000000`), 404)
    assert.strictEqual(await upgradeStatus(`${base}../../_sim/state`), 404)
    // Connected with the right URL but silent: closed with 4001 after the open timeout (200 ms here).
    const ws = new WebSocket(session.streamUrl)
    const closeCode = await new Promise<number>((resolve, reject) => {
      ws.on("close", (code) => resolve(code))
      ws.on("error", reject)
    })
    assert.strictEqual(closeCode, 4001)
    assert.strictEqual(sim.dataChannel.stats.opened, 0)
    await sim.close()
  })

  it("a session never connected expires: its URL is refused after the session TTL", async () => {
    const { exec, sim } = await startExec(undefined, undefined, "none", undefined, 100)
    const stale = await exec("echo stale")
    await new Promise((r) => setTimeout(r, 150))
    assert.strictEqual(await upgradeStatus(stale.session.streamUrl), 404)
    const fresh = await exec("echo fresh")
    const received = await client(fresh.session.streamUrl, fresh.session.tokenValue)
    assert.deepStrictEqual([received.stdout, received.exitCode], ["fresh\n", 0])
    await sim.close()
  })

  it("with the agent's handshake: the command waits for the client's answer; a refused action closes the channel", async () => {
    const { exec, sim } = await startExec(undefined, undefined, "kms")
    const answer = (status: (action: string) => number) =>
      exec("echo hi").then(
        ({ session }) =>
          new Promise<{
            readonly payloadTypes: Array<number>
            readonly closeCode: number
            readonly actions: Array<string>
          }>((resolve, reject) => {
            const ws = new WebSocket(session.streamUrl)
            const payloadTypes: Array<number> = []
            const actions: Array<string> = []
            let sequence = 0
            ws.on("open", () => ws.send(SessionManagerMessage.openDataChannel(session.tokenValue)))
            ws.on("message", (data: Buffer) => {
              const message = SessionManagerMessage.decode(data)
              if (message.messageType === "acknowledge") return
              ws.send(
                SessionManagerMessage.encode(
                  SessionManagerMessage.acknowledge(message, sequence++, Date.now())
                )
              )
              payloadTypes.push(message.payloadType)
              if (message.payloadType !== SessionManagerMessage.PayloadType.HandshakeRequest) return
              const requested = JSON.parse(Buffer.from(message.payload).toString("utf8")) as {
                RequestedClientActions: Array<{ ActionType: string }>
              }
              for (const a of requested.RequestedClientActions) actions.push(a.ActionType)
              const response = {
                ClientVersion: "test",
                ProcessedClientActions: actions.map((a) => ({ ActionType: a, ActionStatus: status(a) })),
                Errors: []
              }
              ws.send(
                SessionManagerMessage.encode(
                  SessionManagerMessage.make(
                    "input_stream_data",
                    SessionManagerMessage.PayloadType.HandshakeResponse,
                    JSON.stringify(response),
                    0,
                    Date.now()
                  )
                )
              )
            })
            ws.on("close", (closeCode) => resolve({ payloadTypes, closeCode, actions }))
            ws.on("error", reject)
          })
      )
    const accepted = await answer(() => 1)
    assert.deepStrictEqual(accepted.actions, ["SessionType", "KMSEncryption"])
    assert.deepStrictEqual(accepted.payloadTypes, [
      SessionManagerMessage.PayloadType.HandshakeRequest,
      SessionManagerMessage.PayloadType.HandshakeComplete,
      SessionManagerMessage.PayloadType.Output,
      0
    ])
    assert.strictEqual(accepted.closeCode, 1000)
    const refused = await answer((a) => (a === "KMSEncryption" ? 2 : 1))
    assert.deepStrictEqual(refused.payloadTypes, [SessionManagerMessage.PayloadType.HandshakeRequest])
    assert.strictEqual(refused.closeCode, 4003)
    await sim.close()
  })
})
