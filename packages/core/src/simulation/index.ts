/** @hangar/core/simulation: what only the simulators use (their shared CLI flags and run, the exec backend). */

export * as DurableFile from "./DurableFile.js"
export * as ExecBackend from "./ExecBackend.js"
export * as JsonDepth from "./JsonDepth.js"
export * as SimulatorCli from "./SimulatorCli.js"
export * as SimulatorInfo from "./SimulatorInfo.js"
