import type { AgentStatus, OrchestrationSettings, RuntimeHealth } from './types.ts'

/** An error answer from the agent (`{"error":{code,message}}`), or no answer at all. */
export class AgentApiError extends Error {
  override name = 'AgentApiError'
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | null,
  ) {
    super(message)
  }
}

const TIMEOUT_MS = 5_000

/** The one HTTP client for the agent's local API. */
export class AgentApi {
  constructor(readonly baseUrl: string) {}

  runtime(signal?: AbortSignal): Promise<RuntimeHealth> {
    return this.request('GET', '/health/runtime', undefined, signal)
  }

  status(signal?: AbortSignal): Promise<AgentStatus> {
    return this.request('GET', '/status', undefined, signal)
  }

  settings(signal?: AbortSignal): Promise<OrchestrationSettings> {
    return this.request('GET', '/orchestration/settings', undefined, signal)
  }

  updateSettings(
    change: Partial<OrchestrationSettings>,
    signal?: AbortSignal,
  ): Promise<OrchestrationSettings> {
    return this.request('PUT', '/orchestration/settings', change, signal)
  }

  /** Any GET route, for panels whose API is still being built. */
  get(path: string, signal?: AbortSignal): Promise<unknown> {
    return this.request('GET', path, undefined, signal)
  }

  eventsUrl(): string {
    return this.url('/events')
  }

  url(path: string): string {
    return `${this.baseUrl.replace(/\/$/, '')}${path}`
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(TIMEOUT_MS)
    let res: Response
    try {
      res = await fetch(this.url(path), {
        method,
        headers:
          body === undefined
            ? { accept: 'application/json' }
            : { 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      })
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? 'no answer within 5 s' : (err as Error).message
      throw new AgentApiError('unreachable', `the agent at ${this.baseUrl} did not answer: ${why}`, null)
    }
    const text = await res.text()
    let json: unknown = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      // A non-JSON body (a proxy's error page, say) is reported as such below.
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | null)?.error
      throw new AgentApiError(
        err?.code ?? `http_${res.status}`,
        err?.message ?? `${method} ${path} answered ${res.status} ${res.statusText}`.trim(),
        res.status,
      )
    }
    if (json === null && text)
      throw new AgentApiError('bad_response', `${method} ${path} did not answer JSON`, res.status)
    return json as T
  }
}
