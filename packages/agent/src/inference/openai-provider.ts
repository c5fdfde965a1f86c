import { InferenceError, ModelNotFoundError } from './errors.ts'
import { errorText, ProviderHttpError } from './provider-http.ts'
import { readSseData } from './sse-reader.ts'
import type { ChatOptions, ChatRequest, ChatResult, ModelInfo, Provider, ProviderStatus } from './types.ts'

/** The OpenAI-compatible server answered with an error, or could not be reached. */
export class OpenAiCompatibleError extends ProviderHttpError {
  override name = 'OpenAiCompatibleError'
}

export interface OpenAiCompatibleOptions {
  /** Base URL including the version prefix, e.g. http://127.0.0.1:8080/v1 */
  baseUrl: string
  apiKey?: string
  defaultModel?: string
  requestTimeoutMs?: number
}

interface ChunkChoice {
  delta?: { content?: string | null }
  finish_reason?: string | null
}

/** Any server speaking OpenAI's chat API: llama.cpp server, vLLM, LM Studio. */
export class OpenAiCompatibleProvider implements Provider {
  readonly name = 'openai-compatible'
  readonly baseUrl: string
  #opts: OpenAiCompatibleOptions
  #lastTokensPerSecond: number | null = null
  #lastModel: string | null = null
  #running = 0

  constructor(opts: OpenAiCompatibleOptions) {
    this.#opts = opts
    this.baseUrl = opts.baseUrl.replace(/\/$/, '')
  }

  async start(): Promise<void> {
    await this.listModels()
  }

  async stop(): Promise<void> {}

  async listModels(): Promise<ModelInfo[]> {
    const res = await this.#fetch(
      'GET',
      '/models',
      undefined,
      AbortSignal.timeout(this.#opts.requestTimeoutMs ?? 30_000),
    )
    if (!res.ok) throw new OpenAiCompatibleError(await errorText(res), res.status)
    const body = (await res.json()) as { data?: { id: string }[] }
    return (body.data ?? []).map((m) => ({
      name: m.id,
      sizeBytes: 0,
      family: null,
      parameters: null,
      quantization: null,
      contextLength: null,
      path: null,
    }))
  }

  async chat(req: ChatRequest, opts: ChatOptions = {}): Promise<ChatResult> {
    const model = req.model ?? this.#opts.defaultModel ?? (await this.listModels())[0]?.name
    if (!model) throw new ModelNotFoundError('(default)', [])
    const t0 = performance.now()
    let ttft: number | null = null
    let text = ''
    let finish: string | null = null
    let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined
    this.#running++
    try {
      const res = await this.#fetch(
        'POST',
        '/chat/completions',
        {
          model,
          messages: req.messages,
          stream: true,
          stream_options: { include_usage: true },
          max_tokens: req.maxTokens,
          temperature: req.temperature,
          top_p: req.topP,
          seed: req.seed,
          stop: req.stop,
        },
        opts.signal,
      )
      if (res.status === 404)
        throw new ModelNotFoundError(
          model,
          (await this.listModels().catch(() => [])).map((m) => m.name),
        )
      if (!res.ok) throw new OpenAiCompatibleError(await errorText(res), res.status)
      for await (const data of readSseData(res.body!, opts.signal)) {
        if (data === '[DONE]') break
        const chunk = JSON.parse(data) as {
          choices?: ChunkChoice[]
          usage?: typeof usage
          error?: { message?: string }
        }
        if (chunk.error) throw new OpenAiCompatibleError(chunk.error.message ?? 'error in stream', res.status)
        const choice = chunk.choices?.[0]
        const piece = choice?.delta?.content ?? ''
        if (piece) {
          ttft ??= performance.now() - t0
          text += piece
          opts.onToken?.(piece)
        }
        if (choice?.finish_reason) finish = choice.finish_reason
        if (chunk.usage) usage = chunk.usage
      }
    } catch (err) {
      if (!opts.signal?.aborted) {
        if (err instanceof InferenceError) throw err
        throw new OpenAiCompatibleError(`${this.baseUrl}: ${(err as Error).message}`)
      }
      finish = 'cancelled'
    } finally {
      this.#running--
    }
    const durationMs = performance.now() - t0
    const completionTokens = usage?.completion_tokens ?? 0
    const decodeMs = ttft === null ? 0 : durationMs - ttft
    const tokensPerSecond =
      decodeMs > 0 && completionTokens > 1 ? ((completionTokens - 1) * 1000) / decodeMs : 0
    this.#lastTokensPerSecond = tokensPerSecond
    this.#lastModel = model
    return {
      text,
      model,
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens,
      finishReason: finish === 'cancelled' ? 'cancelled' : finish === 'length' ? 'length' : 'stop',
      timeToFirstTokenMs: ttft,
      durationMs,
      tokensPerSecond,
    }
  }

  async status(): Promise<ProviderStatus> {
    return {
      provider: this.name,
      activeModel: this.#lastModel ?? this.#opts.defaultModel ?? null,
      loaded: this.#lastModel !== null,
      contextSize: null,
      memoryBytes: null,
      lastTokensPerSecond: this.#lastTokensPerSecond,
      running: this.#running,
      queued: 0,
    }
  }

  #fetch(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.#opts.apiKey) headers.authorization = `Bearer ${this.#opts.apiKey}`
    return fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    }).catch((err: Error) => {
      if (signal?.aborted && signal.reason?.name !== 'TimeoutError') throw err
      throw new OpenAiCompatibleError(`${this.baseUrl} is unreachable: ${err.message}`)
    })
  }
}
