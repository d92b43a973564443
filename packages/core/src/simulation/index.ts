/** @hangar/core/simulation: what only the simulators use (their shared CLI flags and run). */

export * as DurableFile from "./DurableFile.js"
export * as JsonDepth from "./JsonDepth.js"
export * as SimulatorCli from "./SimulatorCli.js"
export * as SimulatorInfo from "./SimulatorInfo.js"
