import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Conformance } from "@hangar/core/testing"
import { Layer } from "effect"
import { afterAll } from "vitest"
import * as LocalProvider from "../src/LocalProvider.js"

const root = mkdtempSync(join(tmpdir(), "hangar-local-conformance-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

// Priced at $1 an hour here: the suite checks that running costs money and sleeping costs less.
Conformance.providerConformance(
  "local",
  Layer.merge(
    Layer.scoped(Conformance.ProviderUnderTest, LocalProvider.make({ root, cost: { dollarsPerHour: 1 } })),
    Conformance.layerFromTime(Conformance.testClockTime)
  ),
  { task: { region: "local" } }
)
