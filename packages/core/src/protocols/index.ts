/** @hangar/core/protocols: wire formats plugins and simulators share (Session Manager messages, detached jobs). */

export * as DetachedJob from "./DetachedJob.js"
export * as SessionManagerMessage from "./SessionManagerMessage.js"
