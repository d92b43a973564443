import { defineConfig } from "tsup"

export default defineConfig({
  entry: {
    index: "src/index.ts",
    "testing/index": "src/testing/index.ts",
    "protocols/index": "src/protocols/index.ts",
    "simulation/index": "src/simulation/index.ts",
    // The exec backend alone, for the simulators' models and the bench engine, which need no CLI code.
    "simulation/ExecBackend": "src/simulation/ExecBackend.ts",
    "examples/EchoProvider": "examples/EchoProvider.ts"
  },
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20"
})
