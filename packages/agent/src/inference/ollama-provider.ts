import { InferenceError, ModelNotFoundError } from './errors.ts'
import { readNdjson } from './ndjson.ts'
import { answersOk, errorText, ProviderHttpError } from './provider-http.ts'
import type {
  ChatOptions,
  ChatRequest,
  ChatResult,
  EmbedResult,
  LoadedModelInfo,
  ModelInfo,
  Provider,
  ProviderStatus,
} from './types.ts'

/** Ollama answered with an error, or could not be reached. */
export class OllamaError extends ProviderHttpError {
  override name = 'OllamaError'
}

export interface OllamaProviderOptions {
  /** `OLLAMA_HOST`, e.g. http://127.0.0.1:11434 (a bare host:port gets http://). */
  host: string
  /** Used when a request names no model: otherwise the first listed. */
  defaultModel?: string
  /** Time allowed for a non-streaming call (tags, show, ps, delete). */
  requestTimeoutMs?: number
}

/** Overall progress of a pull, summed over the layers (digests) Ollama reports. */
export interface PullProgress {
  status: string
  completedBytes: number
  totalBytes: number
  /** 0..1, or null while no layer size is known yet. */
  fraction: number | null
}

interface OllamaTag {
  name: string
  model?: string
  size: number
  details?: { family?: string; parameter_size?: string; quantization_level?: string }
}

interface OllamaChatChunk {
  error?: string
  message?: { content?: string }
  /** `/api/generate` carries its text here. */
  response?: string
  done?: boolean
  done_reason?: string
  model?: string
  prompt_eval_count?: number
  eval_count?: number
  eval_duration?: number
}

/** Normalises `OLLAMA_HOST` the way Ollama's own CLI reads it. */
export function ollamaBaseUrl(host: string): string {
  const withScheme = /^https?:\/\//.test(host) ? host : `http://${host}`
  const url = new URL(withScheme)
  if (!url.port && !/^https?:\/\/[^/]+:\d+/.test(withScheme))
    url.port = url.protocol === 'https:' ? '443' : '11434'
  return url.origin
}

/** Models served by an Ollama server over its HTTP API. */
export class OllamaProvider implements Provider {
  readonly name = 'ollama'
  readonly baseUrl: string
  #opts: OllamaProviderOptions
  #lastTokensPerSecond: number | null = null
  #lastModel: string | null = null
  #running = 0

  constructor(opts: OllamaProviderOptions) {
    this.#opts = opts
    this.baseUrl = ollamaBaseUrl(opts.host)
  }

  /** Fails early when the server does not answer. */
  async start(): Promise<void> {
    await this.#json('GET', '/api/version')
  }

  async stop(): Promise<void> {}

  /** Whether an Ollama server answers at this host (used to pick a provider). */
  reachable(timeoutMs = 1500): Promise<boolean> {
    return answersOk(`${this.baseUrl}/api/version`, timeoutMs)
  }

  async listModels(): Promise<ModelInfo[]> {
    const res = (await this.#json('GET', '/api/tags')) as { models?: OllamaTag[] }
    return (res.models ?? []).map((m) => ({
      // `:latest` is implied everywhere, so names match those of the other providers.
      name: untagged(m.name),
      sizeBytes: m.size,
      family: m.details?.family ?? null,
      parameters: m.details?.parameter_size ?? null,
      quantization: m.details?.quantization_level ?? null,
      contextLength: null,
      path: null,
    }))
  }

  /** `/api/show`: the model's context length, from its architecture metadata. */
  async contextLength(model: string): Promise<number | null> {
    const res = (await this.#json('POST', '/api/show', { model })) as { model_info?: Record<string, unknown> }
    for (const [k, v] of Object.entries(res.model_info ?? {})) {
      if (k.endsWith('.context_length') && typeof v === 'number') return v
    }
    return null
  }

  async chat(req: ChatRequest, opts: ChatOptions = {}): Promise<ChatResult> {
    const model = req.model ?? this.#opts.defaultModel ?? (await this.listModels())[0]?.name
    if (!model) throw new ModelNotFoundError('(default)', [])
    const t0 = performance.now()
    let ttft: number | null = null
    let text = ''
    let final: OllamaChatChunk | null = null
    this.#running++
    try {
      const options = {
        num_predict: req.maxTokens,
        temperature: req.temperature,
        top_p: req.topP,
        seed: req.seed,
        stop: req.stop,
        num_ctx: req.contextSize,
      }
      const c = req.completion
      const res = await this.#post(
        c ? '/api/generate' : '/api/chat',
        c
          ? {
              model,
              prompt: c.prompt,
              suffix: c.suffix,
              raw: true,
              stream: true,
              format: req.format,
              options,
            }
          : { model, messages: req.messages, stream: true, format: req.format, options },
        opts.signal,
      )
      if (res.status === 404) throw new ModelNotFoundError(model, await this.#names())
      if (!res.ok) throw new OllamaError(await errorText(res), res.status)
      for await (const raw of readNdjson(res.body!, opts.signal)) {
        const chunk = raw as OllamaChatChunk
        // Ollama reports failures mid-stream as an error line under a 200 status.
        if (chunk.error) throw new OllamaError(chunk.error, res.status)
        const piece = chunk.message?.content ?? chunk.response ?? ''
        if (piece) {
          ttft ??= performance.now() - t0
          text += piece
          opts.onToken?.(piece)
        }
        if (chunk.done) final = chunk
      }
    } catch (err) {
      if (opts.signal?.aborted) return this.#result(model, text, null, 'cancelled', t0, ttft)
      if (err instanceof InferenceError) throw err
      throw new OllamaError(`Ollama at ${this.baseUrl}: ${(err as Error).message}`)
    } finally {
      this.#running--
    }
    if (final === null) throw new OllamaError('Ollama closed the stream before it was done')
    return this.#result(
      final.model ?? model,
      text,
      final,
      final.done_reason === 'length' ? 'length' : 'stop',
      t0,
      ttft,
    )
  }

  #result(
    model: string,
    text: string,
    final: OllamaChatChunk | null,
    finishReason: ChatResult['finishReason'],
    t0: number,
    ttft: number | null,
  ): ChatResult {
    const completionTokens = final?.eval_count ?? 0
    const evalSec = (final?.eval_duration ?? 0) / 1e9
    const tokensPerSecond = evalSec > 0 ? completionTokens / evalSec : 0
    if (final) this.#lastTokensPerSecond = tokensPerSecond
    this.#lastModel = model
    return {
      text,
      model,
      promptTokens: final?.prompt_eval_count ?? 0,
      completionTokens,
      finishReason,
      timeToFirstTokenMs: ttft,
      durationMs: performance.now() - t0,
      tokensPerSecond,
    }
  }

  async status(): Promise<ProviderStatus> {
    const ps = (await this.#json('GET', '/api/ps').catch(() => ({ models: [] }))) as {
      models?: { name: string; size?: number; context_length?: number }[]
    }
    const active = ps.models?.find((m) => untagged(m.name) === this.#lastModel) ?? ps.models?.[0]
    return {
      provider: this.name,
      activeModel: (active && untagged(active.name)) ?? this.#lastModel ?? this.#opts.defaultModel ?? null,
      loaded: active !== undefined,
      contextSize: active?.context_length ?? null,
      memoryBytes: active?.size ?? null,
      lastTokensPerSecond: this.#lastTokensPerSecond,
      running: this.#running,
      queued: 0,
    }
  }

  /** Pulls a model, reporting overall progress; `completed` may be absent until a layer starts. */
  async pull(model: string, onProgress: (p: PullProgress) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.#post('/api/pull', { model, stream: true }, signal)
    if (!res.ok) throw new OllamaError(await errorText(res), res.status)
    const layers = new Map<string, { total: number; completed: number }>()
    let shown = 0
    for await (const raw of readNdjson(res.body!, signal)) {
      const line = raw as {
        status?: string
        digest?: string
        total?: number
        completed?: number
        error?: string
      }
      if (line.error) throw new OllamaError(line.error, res.status)
      if (line.digest && typeof line.total === 'number') {
        const prev = layers.get(line.digest)
        layers.set(line.digest, { total: line.total, completed: line.completed ?? prev?.completed ?? 0 })
      }
      // A layer announced late grows the total; the overall fraction still never moves backwards.
      const p = summarisePull(line.status ?? '', layers)
      if (p.fraction !== null) p.fraction = shown = Math.max(shown, p.fraction)
      onProgress(p)
    }
    signal?.throwIfAborted()
  }

  async embed(model: string | undefined, inputs: string[], signal?: AbortSignal): Promise<EmbedResult> {
    const name = model ?? this.#opts.defaultModel ?? (await this.listModels())[0]?.name
    if (!name) throw new ModelNotFoundError('(default)', [])
    const res = await this.#post('/api/embed', { model: name, input: inputs }, signal)
    if (res.status === 404) throw new ModelNotFoundError(name, await this.#names())
    if (!res.ok) throw new OllamaError(await errorText(res), res.status)
    const body = (await res.json()) as { embeddings?: number[][]; prompt_eval_count?: number }
    return { model: name, embeddings: body.embeddings ?? [], promptTokens: body.prompt_eval_count ?? 0 }
  }

  async loadedModels(): Promise<LoadedModelInfo[]> {
    const ps = (await this.#json('GET', '/api/ps').catch(() => ({ models: [] }))) as {
      models?: { name: string; size?: number; context_length?: number }[]
    }
    return (ps.models ?? []).map((m) => ({
      name: untagged(m.name),
      sizeBytes: m.size ?? 0,
      memoryBytes: m.size ?? 0,
      contextSize: m.context_length ?? 0,
    }))
  }

  async copyModel(source: string, destination: string): Promise<void> {
    const res = await this.#post('/api/copy', { source, destination })
    if (res.status === 404) throw new ModelNotFoundError(source, await this.#names())
    if (!res.ok) throw new OllamaError(await errorText(res), res.status)
  }

  async deleteModel(model: string): Promise<void> {
    const res = await fetch(`${this.baseUrl}/api/delete`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model }),
      signal: AbortSignal.timeout(this.#opts.requestTimeoutMs ?? 30_000),
    })
    if (res.status === 404) throw new ModelNotFoundError(model, await this.#names())
    if (!res.ok) throw new OllamaError(await errorText(res), res.status)
  }

  async #names(): Promise<string[]> {
    return (await this.listModels().catch(() => [])).map((m) => m.name)
  }

  #post(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    return fetch(this.baseUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    }).catch((err: Error) => {
      if (signal?.aborted) throw err
      throw new OllamaError(`Ollama at ${this.baseUrl} is unreachable: ${err.message}`)
    })
  }

  async #json(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#opts.requestTimeoutMs ?? 30_000),
      })
    } catch (err) {
      throw new OllamaError(`Ollama at ${this.baseUrl} is unreachable: ${(err as Error).message}`)
    }
    if (!res.ok) throw new OllamaError(await errorText(res), res.status)
    return res.json()
  }
}

function untagged(name: string): string {
  return name.replace(/:latest$/, '')
}

/** Sums per-layer sizes into one overall figure. */
export function summarisePull(
  status: string,
  layers: Map<string, { total: number; completed: number }>,
): PullProgress {
  let total = 0
  let completed = 0
  for (const l of layers.values()) {
    total += l.total
    completed += Math.min(l.completed, l.total)
  }
  return {
    status,
    completedBytes: completed,
    totalBytes: total,
    fraction: total > 0 ? completed / total : null,
  }
}
