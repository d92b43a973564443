/** @hangar/router: routing and idle policies, the Router (dispatch with failover), session stores, the oracle. */
export * as CircuitBreaker from "./CircuitBreaker.js"
export * as Feasibility from "./Feasibility.js"
export * as IdlePolicies from "./IdlePolicies.js"
export * as Optimum from "./Optimum.js"
export * as Oracle from "./Oracle.js"
export * as Router from "./Router.js"
export * as RoutingPolicies from "./RoutingPolicies.js"
export * as SessionStore from "./SessionStore.js"
