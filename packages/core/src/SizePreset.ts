/** The seed's four size presets; each provider maps them onto its own machine or task sizes. */
import { Schema } from "effect"

export const SizePreset = Schema.Literal("dev", "standard", "performance", "high-perf")
export type SizePreset = typeof SizePreset.Type

export const all: ReadonlyArray<SizePreset> = SizePreset.literals
