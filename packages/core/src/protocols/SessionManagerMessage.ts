/**
 * The binary message framing of the AWS Session Manager data channel (as in aws/session-manager-plugin's
 * ClientMessage), which ECS Exec speaks over its WebSocket. Shared by the ECS simulator (server side) and the
 * ECS provider (client side) so both frame bytes one way.
 *
 * Layout (big-endian): HeaderLength u32 (116) | MessageType 32 bytes, space padded | SchemaVersion u32 |
 * CreatedDate u64 ms | SequenceNumber i64 | Flags u64 | MessageId 16 bytes (UUID, halves swapped as the
 * plugin does) | PayloadDigest 32 bytes (SHA-256 of the payload) | PayloadType u32 | PayloadLength u32 | Payload.
 *
 * How a command's outcome travels (the part both Hangar sides agree on): stdout in `output_stream_data`
 * messages with payload type Output (1), stderr with StdErr (11), each acknowledged by the client with an
 * `acknowledge` message; then `channel_closed` whose JSON payload carries `ExitCode`. The npm package
 * `ssm-session` (1.0.6, last published 2020) frames only input/output for browser terminals and has no
 * channel_closed or exit codes, so the codec is written here from the published layout.
 */
import { createHash, randomUUID } from "node:crypto"

export const MessageType = {
  InputStreamData: "input_stream_data",
  OutputStreamData: "output_stream_data",
  Acknowledge: "acknowledge",
  ChannelClosed: "channel_closed",
  StartPublication: "start_publication",
  PausePublication: "pause_publication"
} as const
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

export const PayloadType = {
  Output: 1,
  Error: 2,
  Size: 3,
  Parameter: 4,
  HandshakeRequest: 5,
  HandshakeResponse: 6,
  HandshakeComplete: 7,
  EncChallengeRequest: 8,
  EncChallengeResponse: 9,
  Flag: 10,
  StdErr: 11,
  ExitCode: 12
} as const

export const headerLength = 116

export interface Message {
  readonly messageType: string
  readonly schemaVersion: number
  readonly createdDate: number
  readonly sequenceNumber: number
  readonly flags: number
  readonly messageId: string
  readonly payloadType: number
  readonly payload: Uint8Array
}

export class MalformedMessage extends Error {
  override readonly name = "MalformedMessage"
}

const uuidToBytes = (uuid: string): Buffer => {
  const hex = uuid.replaceAll("-", "")
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new MalformedMessage(`messageId ${uuid} is not a UUID`)
  const bytes = Buffer.from(hex, "hex")
  return Buffer.concat([bytes.subarray(8, 16), bytes.subarray(0, 8)])
}

const bytesToUuid = (bytes: Uint8Array): string => {
  const b = Buffer.from(bytes)
  const hex = Buffer.concat([b.subarray(8, 16), b.subarray(0, 8)]).toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export const make = (
  messageType: string,
  payloadType: number,
  payload: Uint8Array | string,
  sequenceNumber: number,
  createdDate: number
): Message => ({
  messageType,
  schemaVersion: 1,
  createdDate,
  sequenceNumber,
  flags: 0,
  messageId: randomUUID(),
  payloadType,
  payload: typeof payload === "string" ? Buffer.from(payload, "utf8") : payload
})

export const encode = (message: Message): Buffer => {
  if (message.messageType.length > 32)
    throw new MalformedMessage(`messageType ${message.messageType} is longer than 32 bytes`)
  const buffer = Buffer.alloc(headerLength + 4 + message.payload.length)
  buffer.writeUInt32BE(headerLength, 0)
  buffer.write(message.messageType.padEnd(32, " "), 4, 32, "utf8")
  buffer.writeUInt32BE(message.schemaVersion, 36)
  buffer.writeBigUInt64BE(BigInt(message.createdDate), 40)
  buffer.writeBigInt64BE(BigInt(message.sequenceNumber), 48)
  buffer.writeBigUInt64BE(BigInt(message.flags), 56)
  uuidToBytes(message.messageId).copy(buffer, 64)
  createHash("sha256").update(message.payload).digest().copy(buffer, 80)
  buffer.writeUInt32BE(message.payloadType, 112)
  buffer.writeUInt32BE(message.payload.length, 116)
  Buffer.from(message.payload).copy(buffer, 120)
  return buffer
}

export const decode = (data: Uint8Array): Message => {
  const buffer = Buffer.from(data)
  if (buffer.length < headerLength + 4)
    throw new MalformedMessage(`a message is at least ${headerLength + 4} bytes, got ${buffer.length}`)
  const declared = buffer.readUInt32BE(0)
  if (declared !== headerLength)
    throw new MalformedMessage(`HeaderLength must be ${headerLength}, got ${declared}`)
  const length = buffer.readUInt32BE(116)
  if (buffer.length !== headerLength + 4 + length) {
    throw new MalformedMessage(
      `PayloadLength says ${length} bytes but ${buffer.length - headerLength - 4} follow`
    )
  }
  const payload = buffer.subarray(120)
  const digest = createHash("sha256").update(payload).digest()
  if (!digest.equals(buffer.subarray(80, 112)))
    throw new MalformedMessage("PayloadDigest does not match the payload")
  return {
    messageType: buffer.toString("utf8", 4, 36).trimEnd(),
    schemaVersion: buffer.readUInt32BE(36),
    createdDate: Number(buffer.readBigUInt64BE(40)),
    sequenceNumber: Number(buffer.readBigInt64BE(48)),
    flags: Number(buffer.readBigUInt64BE(56)),
    messageId: bytesToUuid(buffer.subarray(64, 80)),
    payloadType: buffer.readUInt32BE(112),
    payload
  }
}

/** The acknowledge message for `message`. */
export const acknowledge = (message: Message, sequenceNumber: number, createdDate: number): Message =>
  make(
    MessageType.Acknowledge,
    0,
    JSON.stringify({
      AcknowledgedMessageType: message.messageType,
      AcknowledgedMessageId: message.messageId,
      AcknowledgedMessageSequenceNumber: message.sequenceNumber,
      IsSequentialMessage: true
    }),
    sequenceNumber,
    createdDate
  )

/** The first (text) frame a client sends on the data channel. */
export const openDataChannel = (tokenValue: string, clientId = randomUUID()) =>
  JSON.stringify({
    MessageSchemaVersion: "1.0",
    RequestId: randomUUID(),
    TokenValue: tokenValue,
    ClientId: clientId,
    ClientVersion: "hangar-1"
  })
