/** hangar-serve's version, as the CLI and /openapi.json report it. */
export const version = "0.1.0"
