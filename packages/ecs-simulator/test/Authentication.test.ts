import {
  CreateClusterCommand,
  DescribeClustersCommand,
  ECSClient,
  ECSServiceException,
  RunTaskCommand
} from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { SignatureV4 } from "@smithy/signature-v4"
import { Redacted } from "effect"
import type * as EcsSimulator from "../src/EcsSimulator.js"
import { Sha256 } from "../src/http/Authentication.js"
import { credentials, setup } from "./Setup.js"

const secretKey = Redacted.make(credentials.secretAccessKey)
const target = "AmazonEC2ContainerServiceV20141113."

/** A request signed the way the SDK signs it, with a chosen secret, date and body; then injected. */
const signedInject = async (
  sim: EcsSimulator.Simulator,
  options: {
    readonly operation: string
    readonly body: string
    readonly secret?: string
    readonly accessKeyId?: string
    readonly signingDate?: Date
    /** Sent instead of the signed body (a tampered request). */
    readonly sentBody?: string
  }
) => {
  const signer = new SignatureV4({
    service: "ecs",
    region: "us-east-1",
    credentials: {
      accessKeyId: options.accessKeyId ?? credentials.accessKeyId,
      secretAccessKey: options.secret ?? credentials.secretAccessKey
    },
    sha256: Sha256
  })
  const signed = await signer.sign(
    {
      method: "POST",
      protocol: "http:",
      hostname: "ecs-sim.internal",
      path: "/",
      query: {},
      headers: {
        host: "ecs-sim.internal",
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `${target}${options.operation}`
      },
      body: options.body
    },
    { signingDate: options.signingDate ?? new Date() }
  )
  return sim.server.inject({
    method: "POST",
    url: "/",
    headers: signed.headers,
    payload: options.sentBody ?? options.body
  })
}

describe("SigV4 verification with a secret key, and the control plane's credential", () => {
  it("the SDK with the configured key and secret works, in process and over a loopback port", async () => {
    const { sim, send } = await setup({ accessKeys: [credentials.accessKeyId], secretKey })
    const created = await send<{ cluster: { clusterName: string } }>(
      new CreateClusterCommand({ clusterName: "signed" })
    )
    assert.strictEqual(created.cluster.clusterName, "signed")
    const run = await send<{ tasks: Array<unknown> }>(
      new RunTaskCommand({ cluster: "hangar", taskDefinition: "agent" })
    )
    assert.strictEqual(run.tasks.length, 1)
    const url = await sim.listen({ port: 0 })
    const client = new ECSClient({ region: "us-east-1", endpoint: url, credentials, maxAttempts: 1 })
    const described = await client.send(new DescribeClustersCommand({ clusters: ["signed"] }))
    assert.strictEqual(described.clusters?.[0]?.clusterName, "signed")
    await sim.close()
  })

  it("a wrong secret is InvalidSignatureException, an unknown key UnrecognizedClientException, and neither changes anything", async () => {
    const { sim } = await setup({ accessKeys: [credentials.accessKeyId], secretKey })
    const url = await sim.listen({ port: 0 })
    const wrongSecret = new ECSClient({
      region: "us-east-1",
      endpoint: url,
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: "not-the-secret" },
      maxAttempts: 1
    })
    const denied = await wrongSecret
      .send(new CreateClusterCommand({ clusterName: "forged" }))
      .catch((e: unknown) => e)
    assert.instanceOf(denied, ECSServiceException)
    assert.strictEqual((denied as ECSServiceException).name, "InvalidSignatureException")
    assert.strictEqual((denied as ECSServiceException).$metadata.httpStatusCode, 400)
    const unknownKey = new ECSClient({
      region: "us-east-1",
      endpoint: url,
      credentials: { accessKeyId: "AKIDUNKNOWN", secretAccessKey: credentials.secretAccessKey },
      maxAttempts: 1
    })
    const unrecognized = await unknownKey
      .send(new CreateClusterCommand({ clusterName: "forged" }))
      .catch((e: unknown) => e)
    assert.strictEqual((unrecognized as ECSServiceException).name, "UnrecognizedClientException")
    assert.strictEqual((unrecognized as ECSServiceException).$metadata.httpStatusCode, 400)
    assert.isFalse(sim.model.clusters.has("forged"))
    for (const error of [denied, unrecognized])
      assert.notInclude(JSON.stringify(error), credentials.secretAccessKey)
    await sim.close()
  })

  it("a tampered body, an expired date and a missing or malformed signature are refused", async () => {
    const { sim } = await setup({ accessKeys: [credentials.accessKeyId], secretKey })
    const body = JSON.stringify({ clusterName: "one" })
    const good = await signedInject(sim, { operation: "CreateCluster", body })
    assert.strictEqual(good.statusCode, 200)
    const tampered = await signedInject(sim, {
      operation: "CreateCluster",
      body,
      sentBody: JSON.stringify({ clusterName: "two" })
    })
    assert.strictEqual(tampered.statusCode, 400)
    assert.strictEqual(tampered.json().__type, "InvalidSignatureException")
    const expired = await signedInject(sim, {
      operation: "CreateCluster",
      body: JSON.stringify({ clusterName: "three" }),
      signingDate: new Date(Date.now() - 20 * 60_000)
    })
    assert.strictEqual(expired.statusCode, 400)
    assert.strictEqual(expired.json().__type, "InvalidSignatureException")
    assert.include(expired.json().message, "Signature expired")
    const unsigned = await sim.server.inject({
      method: "POST",
      url: "/",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `${target}CreateCluster` },
      payload: JSON.stringify({ clusterName: "four" })
    })
    assert.strictEqual(unsigned.statusCode, 403)
    assert.strictEqual(unsigned.json().__type, "MissingAuthenticationTokenException")
    const keyOnly = await sim.server.inject({
      method: "POST",
      url: "/",
      headers: {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `${target}CreateCluster`,
        authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/20260101/us-east-1/ecs/aws4_request`
      },
      payload: JSON.stringify({ clusterName: "five" })
    })
    assert.strictEqual(keyOnly.statusCode, 400)
    assert.strictEqual(keyOnly.json().__type, "IncompleteSignatureException")
    assert.deepStrictEqual([...sim.model.clusters.keys()].sort(), ["hangar", "one"])
    await sim.close()
  })

  it("/_sim needs Bearer <secret> once access keys are configured, however the path is spelled", async () => {
    const { sim } = await setup({ accessKeys: [credentials.accessKeyId], secretKey })
    const reset = (headers: Record<string, string>, url = "/_sim/reset") =>
      sim.server.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/json", ...headers },
        payload: "{}"
      })
    for (const [headers, url] of [
      [{}, "/_sim/reset"],
      [{ authorization: "Bearer wrong" }, "/_sim/reset"],
      [{ authorization: `Bearer ${credentials.accessKeyId}` }, "/_sim/reset"],
      [{}, "/%5Fsim/reset"],
      [{}, "/_sim/reset?x=1"]
    ] as const) {
      const refused = await reset(headers, url)
      assert.oneOf(refused.statusCode, [403, 404], url)
      if (refused.statusCode === 403) assert.strictEqual(refused.json().__type, "AccessDeniedException")
      assert.notInclude(refused.body, credentials.secretAccessKey)
      assert.isTrue(sim.model.clusters.has("hangar"), `${url} ${JSON.stringify(headers)} wiped the state`)
    }
    const state = await sim.server.inject({ method: "GET", url: "/_sim/state" })
    assert.strictEqual(state.statusCode, 403)
    const accepted = await reset({ authorization: `Bearer ${credentials.secretAccessKey}` })
    assert.strictEqual(accepted.statusCode, 200)
    assert.isFalse(sim.model.clusters.has("hangar"))
    await sim.close()
  })

  it("with access keys and no secret, the key id is the control plane's bearer and any signature passes", async () => {
    const { sim, send } = await setup({ accessKeys: [credentials.accessKeyId] })
    const created = await send<{ cluster: { clusterName: string } }>(
      new CreateClusterCommand({ clusterName: "k" })
    )
    assert.strictEqual(created.cluster.clusterName, "k")
    const denied = await sim.server.inject({ method: "GET", url: "/_sim/state" })
    assert.strictEqual(denied.statusCode, 403)
    const allowed = await sim.server.inject({
      method: "GET",
      url: "/_sim/state",
      headers: { authorization: `Bearer ${credentials.accessKeyId}` }
    })
    assert.strictEqual(allowed.statusCode, 200)
    await sim.close()
  })

  it("a secret key without access keys is refused at start", async () => {
    const error = await setup({ secretKey }).catch((e: unknown) => e)
    assert.instanceOf(error, Error)
    assert.include((error as Error).message, "accessKeys")
  })
})
