/** @hangar/server: the router as an HTTP service (hangar-serve). */
export * as Api from "./Api.js"
export * as Cli from "./Cli.js"
export * as Providers from "./Providers.js"
export * as Server from "./Server.js"
export * as ServerConfig from "./ServerConfig.js"
export * as TaskBook from "./TaskBook.js"
export * as TaskService from "./TaskService.js"
