import { Counter, Histogram, type Registry } from 'prom-client'
import type { ChatBackend } from './chat-backend.ts'

/**
 * Inference through the IDE endpoints, per endpoint: requests, failures by error code, tokens
 * generated and time to first token. Streamed answers count too (the HTTP metrics miss them: a
 * stream's reply is written outside the framework).
 */
export class IdeMetrics {
  readonly requests: Counter<'endpoint'>
  readonly errors: Counter<'endpoint' | 'code'>
  readonly tokens: Counter<'endpoint'>
  readonly ttft: Histogram<'endpoint'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.requests = new Counter({
      name: 'edgecoder_inference_requests_total',
      help: 'Inference requests on the IDE endpoints',
      labelNames: ['endpoint'],
      registers,
    })
    this.errors = new Counter({
      name: 'edgecoder_inference_errors_total',
      help: 'Inference requests on the IDE endpoints that failed, by error code',
      labelNames: ['endpoint', 'code'],
      registers,
    })
    this.tokens = new Counter({
      name: 'edgecoder_tokens_generated_total',
      help: 'Tokens generated for the IDE endpoints, here or by peers',
      labelNames: ['endpoint'],
      registers,
    })
    this.ttft = new Histogram({
      name: 'edgecoder_time_to_first_token_seconds',
      help: 'From request to first generated token on the IDE endpoints',
      labelNames: ['endpoint'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    })
  }

  /** The backend as one endpoint uses it, with every call counted under that endpoint's name. */
  metered(backend: ChatBackend, endpoint: string): ChatBackend {
    const count = async <T>(run: () => Promise<T>): Promise<T> => {
      this.requests.inc({ endpoint })
      try {
        return await run()
      } catch (err) {
        this.errors.inc({ endpoint, code: (err as { code?: string }).code ?? 'internal' })
        throw err
      }
    }
    return {
      ...backend,
      listModels: () => backend.listModels(),
      loadedModels: () => backend.loadedModels(),
      load: (model) => count(() => backend.load(model)),
      embed: (model, inputs, signal) => count(() => backend.embed(model, inputs, signal)),
      chat: (req, opts) =>
        count(async () => {
          const r = await backend.chat(req, opts)
          this.tokens.inc({ endpoint }, r.completionTokens)
          if (r.timeToFirstTokenMs !== null) this.ttft.observe({ endpoint }, r.timeToFirstTokenMs / 1000)
          return r
        }),
    }
  }
}

/** A stand-in for routes built without metrics: calls pass straight through. */
export const unmetered: Pick<IdeMetrics, 'metered'> = { metered: (backend) => backend }
