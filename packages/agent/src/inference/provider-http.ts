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
