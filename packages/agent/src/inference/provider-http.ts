import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { InferenceError } from './errors.ts'

/** A model server (Ollama, an OpenAI-compatible one) answered with an error, or could not be reached. */
export class ProviderHttpError extends InferenceError {
  override name = 'ProviderHttpError'
  override readonly code = 'provider_error'
  readonly status: number | null

  constructor(message: string, status: number | null = null) {
    super(message)
    this.status = status
  }
}

/** The message of an error response: Ollama's `{error: "..."}`, OpenAI's `{error: {message}}`, or the status. */
export async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '')
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string }
    if (typeof j.error === 'string') return j.error
    if (j.error?.message) return j.error.message
  } catch {}
  return `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`
}

/**
 * Whether `url` answers a GET with a 2xx within `timeoutMs`. Uses node:http rather than `fetch`:
 * an agent probing for Ollama at start would otherwise load Node's fetch implementation, which
 * costs an idle agent about 18 MB of resident memory even when nothing answers.
 */
export function answersOk(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let target: URL
    try {
      target = new URL(url)
    } catch {
      return resolve(false)
    }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(target, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume()
      const status = res.statusCode ?? 0
      resolve(status >= 200 && status < 300)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
    req.end()
  })
}
