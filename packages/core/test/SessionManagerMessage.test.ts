import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as SessionManagerMessage from "../src/protocols/SessionManagerMessage.js"

describe("SessionManagerMessage", () => {
  it("round-trips any message through encode → decode", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(SessionManagerMessage.MessageType)),
        fc.integer({ min: 0, max: 12 }),
        fc.uint8Array({ maxLength: 4096 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (type, payloadType, payload, sequence) => {
          const message = SessionManagerMessage.make(type, payloadType, payload, sequence, 1_700_000_000_000)
          const decoded = SessionManagerMessage.decode(SessionManagerMessage.encode(message))
          return (
            decoded.messageType === type &&
            decoded.payloadType === payloadType &&
            decoded.sequenceNumber === sequence &&
            decoded.messageId === message.messageId &&
            Buffer.from(decoded.payload).equals(Buffer.from(payload))
          )
        }
      ),
      { seed: 4242, numRuns: 200 }
    )
  })

  it("rejects truncated frames, a wrong header length and a corrupted payload", () => {
    const bytes = SessionManagerMessage.encode(
      SessionManagerMessage.make("output_stream_data", 1, "hello", 0, 0)
    )
    assert.throws(() => SessionManagerMessage.decode(bytes.subarray(0, 50)), /at least 120 bytes/)
    const corrupted = Buffer.from(bytes)
    corrupted[corrupted.length - 1] = 0
    assert.throws(() => SessionManagerMessage.decode(corrupted), /PayloadDigest/)
    const header = Buffer.from(bytes)
    header.writeUInt32BE(99, 0)
    assert.throws(() => SessionManagerMessage.decode(header), /HeaderLength/)
  })

  it("writes the fields where the plugin reads them", () => {
    const bytes = SessionManagerMessage.encode(SessionManagerMessage.make("acknowledge", 0, "{}", 7, 1234))
    assert.strictEqual(bytes.readUInt32BE(0), 116)
    assert.strictEqual(bytes.toString("utf8", 4, 36), "acknowledge".padEnd(32, " "))
    assert.strictEqual(Number(bytes.readBigInt64BE(48)), 7)
    assert.strictEqual(bytes.readUInt32BE(116), 2)
  })
})
