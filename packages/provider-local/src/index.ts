/** @hangar/provider-local: sessions as local processes in per-repository workspace directories. */
export * as LocalCostModel from "./LocalCostModel.js"
export * as LocalProvider from "./LocalProvider.js"
