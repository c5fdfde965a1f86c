export { conflict, errorBody, notFound, PortalError, unauthorized } from './errors.ts'
export { DEFAULT_RATE_RULES, RateLimiter, type RateRule } from './rate-limit.ts'
export { buildServer, type PortalApp, type RouteModule, type ServerOptions } from './server.ts'
