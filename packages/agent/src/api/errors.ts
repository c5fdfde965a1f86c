/** An error the API answers with a 4xx: its `code` is stable, tests assert it. */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly statusCode: number
  readonly code: string
  readonly details: unknown

  constructor(statusCode: number, code: string, message: string, details?: unknown) {
    super(message)
    this.statusCode = statusCode
    this.code = code
    this.details = details
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`)
