/** An error the portal answers with a 4xx: its `code` is stable, tests assert it. */
export class PortalError extends Error {
  override name = 'PortalError'
  readonly statusCode: number
  readonly code: string
  readonly details: unknown
  /** Seconds a client should wait (429). */
  readonly retryAfterSec: number | undefined

  constructor(statusCode: number, code: string, message: string, details?: unknown, retryAfterSec?: number) {
    super(message)
    this.statusCode = statusCode
    this.code = code
    this.details = details
    this.retryAfterSec = retryAfterSec
  }
}

export const notFound = (what: string) => new PortalError(404, 'not_found', `${what} not found`)
export const unauthorized = (message = 'sign in first') => new PortalError(401, 'unauthorized', message)
export const conflict = (code: string, message: string) => new PortalError(409, code, message)

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } }
}
