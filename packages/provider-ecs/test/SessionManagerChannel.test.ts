import { assert, describe, it } from "@effect/vitest"
import * as SessionManagerChannel from "../src/SessionManagerChannel.js"

describe("SessionManagerChannel.handshakeResponse", () => {
  const request = (actions: ReadonlyArray<string>) =>
    Buffer.from(
      JSON.stringify({
        AgentVersion: "3.3.0.0",
        RequestedClientActions: actions.map((ActionType) => ({ ActionType }))
      })
    )

  it("accepts SessionType, refuses KMSEncryption and answers anything else Unsupported", () => {
    const response = SessionManagerChannel.handshakeResponse(
      request(["SessionType", "KMSEncryption", "Teleport"])
    )
    const payload = JSON.parse(response.payload) as {
      ProcessedClientActions: Array<{ ActionType: string; ActionStatus: number }>
    }
    assert.deepStrictEqual(
      payload.ProcessedClientActions.map((a) => [a.ActionType, a.ActionStatus]),
      [
        ["SessionType", 1],
        ["KMSEncryption", 2],
        ["Teleport", 3]
      ]
    )
    assert.deepStrictEqual(response.refused, ["KMSEncryption", "Teleport"])
  })

  it("a malformed request is answered with no actions", () => {
    const response = SessionManagerChannel.handshakeResponse(Buffer.from("not json"))
    assert.deepStrictEqual(JSON.parse(response.payload).ProcessedClientActions, [])
    assert.deepStrictEqual(response.refused, [])
  })
})
