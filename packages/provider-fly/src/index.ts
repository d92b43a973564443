/** @hangar/provider-fly: the Fly Machines API client and the FlyProvider plugin. */

export * as BufferedHttpClient from "./BufferedHttpClient.js"
export * as FlyClient from "./FlyClient.js"
export * as FlyCostModel from "./FlyCostModel.js"
export * as FlyProvider from "./FlyProvider.js"
export * as FlySchemas from "./FlySchemas.js"
export * as FlyToml from "./FlyToml.js"
