import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** The agent answered with an error, or could not be reached. */
export class ClientError extends Error {
  override name = 'ClientError'
}

export interface ClientOptions {
  apiUrl: string
  token: string | null
}

/** Where the CLI finds the agent: flags, then env, then the defaults `edgecoder start` uses. */
export function clientOptions(values: { 'api-url'?: string; 'data-dir'?: string }): ClientOptions {
  const apiUrl = values['api-url'] ?? process.env.EDGECODER_API_URL ?? 'http://127.0.0.1:4301'
  const dataDir = values['data-dir'] ?? process.env.EDGECODER_DATA_DIR ?? join(homedir(), '.edgecoder')
  let token: string | null = process.env.EDGECODER_API_TOKEN ?? null
  if (token === null) {
    try {
      token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim()
    } catch {}
  }
  return { apiUrl: apiUrl.replace(/\/$/, ''), token }
}

export interface RequestOptions {
  signal?: AbortSignal
  /** Extra headers (accept, last-event-id). */
  headers?: Record<string, string>
}

/**
 * The one HTTP client of the CLI: sends JSON with the token, turns "no agent" and the API's
 * error shape into a ClientError, and hands back the response for JSON or a stream.
 */
export async function request(
  opts: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
  ro: RequestOptions = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...ro.headers }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(opts.apiUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ro.signal ?? AbortSignal.timeout(30_000),
    })
  } catch (err) {
    if (ro.signal?.aborted) throw err
    const cause = (err as { cause?: { code?: string } }).cause?.code
    throw new ClientError(
      cause === 'ECONNREFUSED'
        ? `no agent answers at ${opts.apiUrl}; start one with \`edgecoder start\``
        : `cannot reach the agent at ${opts.apiUrl}: ${(err as Error).message}`,
    )
  }
  if (!res.ok) {
    const text = await res.text()
    let message = text
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error
      if (e) message = `${e.code ?? ''}: ${e.message ?? text}`
    } catch {}
    throw new ClientError(`${res.status} ${message}`.trim())
  }
  return res
}

/** A JSON call to the agent. */
export async function call<T>(opts: ClientOptions, method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(opts, method, path, body)
  const text = await res.text()
  try {
    return (text ? JSON.parse(text) : undefined) as T
  } catch {
    throw new ClientError(`the agent answered ${res.status} with a body that is not JSON`)
  }
}
