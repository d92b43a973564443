/**
 * Every implemented route's responses validate against the schemas of Fly's official OpenAPI document, read
 * from ../shared/reference at test time (never copied into the repository). Where the spec is known to differ
 * from what Fly returns, Fly wins: leases answer a status/data envelope (not the spec's flat `Lease`), so for the
 * lease routes the envelope's `data` is what is checked against the spec's schema.
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import * as FlySimulator from "../src/FlySimulator.js"

type JsonSchema = {
  readonly $ref?: string
  readonly type?: string
  readonly properties?: Record<string, JsonSchema>
  readonly items?: JsonSchema
  readonly enum?: ReadonlyArray<unknown>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: JsonSchema | boolean
}

const specPath = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../shared/reference/fly-machines-openapi.json"
)
/** The spec lives beside the repository (../shared/reference); a clone without it skips these tests, saying so. */
const specPresent = existsSync(specPath)
if (!specPresent)
  console.warn(
    `skipping the OpenAPI conformance tests: ${specPath} is missing (Fly's official spec, kept in ../shared/reference beside the repository)`
  )
const spec = (
  specPresent ? JSON.parse(readFileSync(specPath, "utf8")) : { components: { schemas: {} }, paths: {} }
) as {
  components: { schemas: Record<string, JsonSchema> }
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }> }>
  >
}

/** A small validator for the subset of JSON Schema the spec uses: $ref, type, properties, items, enum, required. */
const validate = (schema: JsonSchema, value: unknown, path: string, errors: Array<string>): void => {
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace("#/components/schemas/", "")
    const target = spec.components.schemas[name]
    if (target === undefined) errors.push(`${path}: unknown schema ${name}`)
    else validate(target, value, path, errors)
    return
  }
  if (value === null || value === undefined) return
  const type = schema.type
  if (type === "object" || schema.properties !== undefined) {
    if (typeof value !== "object" || Array.isArray(value)) return void errors.push(`${path}: expected object`)
    for (const key of schema.required ?? []) if (!(key in value)) errors.push(`${path}.${key}: required`)
    for (const [key, child] of Object.entries(value)) {
      const property = schema.properties?.[key]
      if (property !== undefined) validate(property, child, `${path}.${key}`, errors)
      else if (typeof schema.additionalProperties === "object")
        validate(schema.additionalProperties, child, `${path}.${key}`, errors)
    }
    return
  }
  if (type === "array") {
    if (!Array.isArray(value)) return void errors.push(`${path}: expected array`)
    value.forEach((item, i) => {
      if (schema.items !== undefined) validate(schema.items, item, `${path}[${i}]`, errors)
    })
    return
  }
  if (type === "string" && typeof value !== "string")
    errors.push(`${path}: expected string, got ${typeof value}`)
  if ((type === "integer" || type === "number") && typeof value !== "number")
    errors.push(`${path}: expected number, got ${typeof value}`)
  if (type === "integer" && typeof value === "number" && !Number.isInteger(value))
    errors.push(`${path}: expected integer`)
  if (type === "boolean" && typeof value !== "boolean") errors.push(`${path}: expected boolean`)
  if (schema.enum !== undefined && !schema.enum.includes(value))
    errors.push(`${path}: ${JSON.stringify(value)} not in enum`)
}

const responseSchema = (path: string, method: string, status: number): JsonSchema => {
  const operation = spec.paths[path]?.[method] ?? spec.paths[`/v1${path}`]?.[method]
  const content = operation?.responses[String(status)]?.content
  const schema = content === undefined ? undefined : Object.values(content)[0]?.schema
  if (schema === undefined)
    throw new Error(`the spec has no ${status} schema for ${method.toUpperCase()} ${path}`)
  return schema
}

describe.skipIf(!specPresent)("responses conform to Fly's official OpenAPI schemas", () => {
  it("machines, events, wait, exec, leases, metadata, versions, volumes, snapshots, regions and apps", async () => {
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const sim = await FlySimulator.make({ clock, tokens: [{ token: "t" }], rateLimits: false })
    const call = async (method: string, url: string, body?: unknown) => {
      const response = await VirtualClock.runToCompletion(
        clock,
        sim.fetch(`http://fly-sim.internal/v1${url}`, {
          method,
          headers: { authorization: "Bearer t", "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) })
        })
      )
      const text = await response.text()
      return { status: response.status, json: (text.length === 0 ? undefined : JSON.parse(text)) as unknown }
    }
    const check = (specPathName: string, method: string, response: { status: number; json: unknown }) => {
      const errors: Array<string> = []
      validate(
        responseSchema(specPathName, method, response.status),
        response.json,
        `${method.toUpperCase()} ${specPathName}`,
        errors
      )
      assert.deepStrictEqual(errors, [])
    }
    await call("POST", "/apps", { app_name: "spec-app" })
    check("/apps/{app_name}", "get", await call("GET", "/apps/spec-app"))
    const volume = await call("POST", "/apps/spec-app/volumes", { name: "data", region: "iad", size_gb: 2 })
    check("/apps/{app_name}/volumes", "post", volume)
    const machine = await call("POST", "/apps/spec-app/machines", {
      region: "iad",
      config: {
        image: "agent",
        guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
        mounts: [{ volume: (volume.json as { id: string }).id, path: "/data" }]
      }
    })
    check("/apps/{app_name}/machines", "post", machine)
    const id = (machine.json as { id: string }).id
    check(
      "/apps/{app_name}/machines/{machine_id}/wait",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/wait?state=started`)
    )
    check("/apps/{app_name}/machines/{machine_id}", "get", await call("GET", `/apps/spec-app/machines/${id}`))
    check("/apps/{app_name}/machines", "get", await call("GET", "/apps/spec-app/machines"))
    check(
      "/apps/{app_name}/machines/{machine_id}/exec",
      "post",
      await call("POST", `/apps/spec-app/machines/${id}/exec`, { command: ["echo", "x"] })
    )
    check(
      "/apps/{app_name}/machines/{machine_id}/events",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/events`)
    )
    check("/apps/{app_name}/volumes", "get", await call("GET", "/apps/spec-app/volumes"))
    check(
      "/apps/{app_name}/volumes/{volume_id}/extend",
      "put",
      await call("PUT", `/apps/spec-app/volumes/${(volume.json as { id: string }).id}/extend`, { size_gb: 4 })
    )
    check(
      "/apps/{app_name}/machines/{machine_id}/wait",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/wait?timeout=99`)
    )
    check("/apps", "get", await call("GET", "/apps"))
    check("/platform/regions", "get", await call("GET", "/platform/regions"))
    check(
      "/apps/{app_name}/machines/{machine_id}/versions",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/versions`)
    )
    await call("POST", `/apps/spec-app/machines/${id}/metadata/role`, { value: "web" })
    check(
      "/apps/{app_name}/machines/{machine_id}/metadata",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/metadata`)
    )
    check(
      "/apps/{app_name}/machines/{machine_id}/metadata/{key}",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/metadata/role`)
    )
    for (const method of ["put", "patch"]) {
      const updated = await call(method.toUpperCase(), `/apps/spec-app/machines/${id}/metadata`, {
        metadata: { tier: method }
      })
      assert.strictEqual(updated.status, 204)
      assert.property(
        spec.paths["/apps/{app_name}/machines/{machine_id}/metadata"]?.[method]?.responses,
        "204"
      )
    }
    check(
      "/apps/{app_name}/machines/{machine_id}/ps",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/ps`)
    )
    check(
      "/apps/{app_name}/machines/{machine_id}/memory",
      "get",
      await call("GET", `/apps/spec-app/machines/${id}/memory`)
    )
    check(
      "/apps/{app_name}/machines/{machine_id}/memory",
      "put",
      await call("PUT", `/apps/spec-app/machines/${id}/memory`, { limit_mb: 200 })
    )
    check(
      "/apps/{app_name}/machines/{machine_id}/memory/reclaim",
      "post",
      await call("POST", `/apps/spec-app/machines/${id}/memory/reclaim`, { amount_mb: 32 })
    )
    const lease = await call("POST", `/apps/spec-app/machines/${id}/lease`, { ttl: 60 })
    assert.strictEqual((lease.json as { status: string }).status, "success")
    check("/apps/{app_name}/machines/{machine_id}/lease", "post", {
      status: lease.status,
      json: (lease.json as { data: unknown }).data
    })
    const held = await call("GET", `/apps/spec-app/machines/${id}/lease`)
    check("/apps/{app_name}/machines/{machine_id}/lease", "get", {
      status: held.status,
      json: (held.json as { data: unknown }).data
    })
    const nonce = (held.json as { data: { nonce: string } }).data.nonce
    const updated = await VirtualClock.runToCompletion(
      clock,
      sim.fetch(`http://fly-sim.internal/v1/apps/spec-app/machines/${id}`, {
        method: "POST",
        headers: {
          authorization: "Bearer t",
          "content-type": "application/json",
          "fly-machine-lease-nonce": nonce
        },
        body: JSON.stringify({ config: { image: "hangar/agent:2" } })
      })
    )
    check("/apps/{app_name}/machines/{machine_id}", "post", {
      status: updated.status,
      json: await updated.json()
    })
    const volumeId = (volume.json as { id: string }).id
    check(
      "/apps/{app_name}/volumes/{volume_id}",
      "get",
      await call("GET", `/apps/spec-app/volumes/${volumeId}`)
    )
    check(
      "/apps/{app_name}/volumes/{volume_id}",
      "put",
      await call("PUT", `/apps/spec-app/volumes/${volumeId}`, { snapshot_retention: 7 })
    )
    await VirtualClock.runToCompletion(
      clock,
      sim.fetch(`http://fly-sim.internal/v1/apps/spec-app/volumes/${volumeId}/snapshots`, {
        method: "POST",
        headers: { authorization: "Bearer t" }
      })
    )
    check(
      "/apps/{app_name}/volumes/{volume_id}/snapshots",
      "get",
      await call("GET", `/apps/spec-app/volumes/${volumeId}/snapshots`)
    )
    const spare = await call("POST", "/apps/spec-app/volumes", { name: "spare", region: "iad" })
    check(
      "/apps/{app_name}/volumes/{volume_id}",
      "delete",
      await call("DELETE", `/apps/spec-app/volumes/${(spare.json as { id: string }).id}`)
    )
  })

  it("the validator itself rejects what the spec forbids", () => {
    const errors: Array<string> = []
    validate(
      { $ref: "#/components/schemas/Machine" },
      { id: 5, state: "started", events: [{ timestamp: "yesterday" }] },
      "m",
      errors
    )
    assert.isAtLeast(errors.length, 2)
  })
})
