import { availableParallelism } from 'node:os'
import { validateChatRequest } from './chat-request.ts'
import { ModelNotFoundError } from './errors.ts'
import { cancelledResult, generate } from './generate.ts'
import { modelNameFromPath, readModelInfo } from './gguf-info.ts'
import { loadLlamaRuntime } from './llama-runtime.ts'
import { LoadedModel, type LoadSettings } from './loaded-model.ts'
import { ModelDirectory } from './model-directory.ts'
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

/** Settings of an {@link EmbeddedLlamaProvider}. At least one of `modelsDir` and `modelPath` is needed. */
export interface EmbeddedLlamaOptions {
  /** Directory whose `*.gguf` files are the models on offer (read on every listing; may not exist yet). */
  modelsDir?: string
  /** One GGUF file on offer in addition to the directory; the default model unless `defaultModel` is set. */
  modelPath?: string
  /** Model used when a request names none; otherwise `modelPath`'s, else the first by name. */
  defaultModel?: string
  /** Context size in tokens per request slot, capped at the model's training context. Default 4096. */
  contextSize?: number
  /**
   * CPU threads for evaluation. Default: the cores available to this process. llama.cpp threads
   * spin while they wait, so several busy contexts on the same cores slow each other down far more
   * than in proportion: give each process its share when they run side by side.
   */
  threads?: number
  /** Requests generating at once per model; more wait in line. Default 1. */
  sequences?: number
  /** Models kept in memory; the least recently used idle one is unloaded beyond this. Default 1. */
  maxLoadedModels?: number
  /** Offload to a GPU when the prebuilt binaries support one. Default false: CPU only. */
  gpu?: boolean
}

/**
 * llama.cpp inside the agent process, through node-llama-cpp. Models load on first use and stay
 * loaded; each keeps a fixed set of request slots with a line behind them.
 */
export class EmbeddedLlamaProvider implements Provider {
  readonly name = 'embedded'
  readonly #directory: ModelDirectory
  readonly #defaultModel: string | undefined
  readonly #settings: LoadSettings
  readonly #maxLoaded: number
  readonly #loading = new Map<string, Promise<LoadedModel>>()
  readonly #loaded = new Map<string, LoadedModel>()
  /** Requests per model name that are loading, waiting or generating: those models stay loaded. */
  readonly #pins = new Map<string, number>()
  readonly #inFlight = new Set<Promise<unknown>>()
  #shutdown = new AbortController()
  #stopping: Promise<void> | undefined
  #active: string | undefined
  #lastTokensPerSecond: number | null = null

  constructor(options: EmbeddedLlamaOptions) {
    if (options.modelsDir === undefined && options.modelPath === undefined) {
      throw new TypeError('EmbeddedLlamaProvider needs modelsDir or modelPath')
    }
    this.#directory = new ModelDirectory(options.modelsDir, options.modelPath)
    this.#defaultModel = options.defaultModel
    this.#maxLoaded = Math.max(1, options.maxLoadedModels ?? 1)
    this.#settings = {
      contextSize: options.contextSize ?? 4096,
      threads: options.threads ?? availableParallelism(),
      sequences: Math.max(1, options.sequences ?? 1),
      gpu: options.gpu ?? false,
    }
  }

  /** Loads the llama.cpp runtime, so that a missing binary shows at startup rather than on the first request. */
  async start(): Promise<void> {
    await this.#stopping
    await loadLlamaRuntime(this.#settings.gpu)
  }

  /** Cancels running and queued requests, waits for them to return, and unloads every model. */
  stop(): Promise<void> {
    this.#stopping ??= this.#unloadAll().finally(() => {
      this.#shutdown = new AbortController()
      this.#stopping = undefined
    })
    return this.#stopping
  }

  async listModels(): Promise<ModelInfo[]> {
    const served = this.#settings.contextSize
    return (await this.#directory.list()).map((m) => ({
      ...m,
      servedContext: Math.min(served, m.contextLength ?? served),
    }))
  }

  /** Loads the model (the default one when unnamed) and returns its name once it is in memory. */
  async load(model: string | undefined): Promise<string> {
    await this.#stopping
    const name = modelNameFromPath(model ?? (await this.#defaultName()))
    this.#pin(name, 1)
    try {
      const m = await this.#use(name)
      m.lastUsedAt = performance.now()
      return name
    } finally {
      this.#pin(name, -1)
      await this.#unloadSurplus()
    }
  }

  async loadedModels(): Promise<LoadedModelInfo[]> {
    return [...this.#loaded.entries()].map(([name, m]) => ({
      name,
      sizeBytes: m.info.sizeBytes,
      memoryBytes: m.memoryBytes,
      contextSize: m.contextSize,
    }))
  }

  async embed(model: string | undefined, inputs: string[], signal?: AbortSignal): Promise<EmbedResult> {
    await this.#stopping
    const name = modelNameFromPath(model ?? (await this.#defaultName()))
    this.#pin(name, 1)
    try {
      const m = await this.#use(name)
      const { vectors, tokens } = await m.embed(inputs, signal)
      m.lastUsedAt = performance.now()
      return { model: name, embeddings: vectors, promptTokens: tokens }
    } finally {
      this.#pin(name, -1)
      await this.#unloadSurplus()
    }
  }

  chat(req: ChatRequest, opts: ChatOptions = {}): Promise<ChatResult> {
    const run = this.#chat(req, opts, performance.now())
    this.#inFlight.add(run)
    const forget = () => this.#inFlight.delete(run)
    run.then(forget, forget)
    return run
  }

  async status(): Promise<ProviderStatus> {
    const active = this.#active ?? (await this.#defaultName().catch(() => undefined))
    const model = active === undefined ? undefined : this.#loaded.get(active)
    let running = 0
    let queued = 0
    for (const m of this.#loaded.values()) {
      running += m.running
      queued += m.queued
    }
    return {
      provider: this.name,
      activeModel: active ?? null,
      loaded: model !== undefined,
      contextSize: model?.contextSize ?? null,
      memoryBytes: model?.memoryBytes ?? null,
      lastTokensPerSecond: this.#lastTokensPerSecond,
      running,
      queued,
    }
  }

  async #chat(req: ChatRequest, opts: ChatOptions, receivedAt: number): Promise<ChatResult> {
    validateChatRequest(req)
    await this.#stopping
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.#shutdown.signal]) : this.#shutdown.signal
    const name = modelNameFromPath(req.model ?? (await this.#defaultName()))
    if (signal.aborted) return cancelledResult(name, receivedAt)
    this.#pin(name, 1)
    try {
      const model = await this.#use(name)
      const chat = await model.acquire(signal)
      if (chat === undefined) return cancelledResult(name, receivedAt)
      try {
        const result = await generate({ chat, model: name, req, onToken: opts.onToken, signal, receivedAt })
        if (result.completionTokens > 1) this.#lastTokensPerSecond = result.tokensPerSecond
        return result
      } finally {
        model.release(chat)
        model.lastUsedAt = performance.now()
      }
    } finally {
      this.#pin(name, -1)
      await this.#unloadSurplus()
    }
  }

  async #defaultName(): Promise<string> {
    if (this.#defaultModel !== undefined) return this.#defaultModel
    const name = await this.#directory.defaultName()
    if (name === undefined) throw new ModelNotFoundError('(default)', [])
    return name
  }

  #pin(name: string, delta: 1 | -1): void {
    const pins = (this.#pins.get(name) ?? 0) + delta
    if (pins > 0) this.#pins.set(name, pins)
    else this.#pins.delete(name)
  }

  /** The model, loaded by whichever request needs it first. */
  #use(name: string): Promise<LoadedModel> {
    this.#active = name
    let loading = this.#loading.get(name)
    if (loading === undefined) {
      loading = this.#load(name)
      this.#loading.set(name, loading)
      loading.catch(() => this.#loading.delete(name))
    }
    return loading
  }

  async #load(name: string): Promise<LoadedModel> {
    const path = await this.#directory.resolve(name)
    if (path === undefined) throw new ModelNotFoundError(name, await this.#directory.names())
    const [llama, info] = await Promise.all([loadLlamaRuntime(this.#settings.gpu), readModelInfo(path)])
    const model = await LoadedModel.load(llama, info, this.#settings)
    this.#loaded.set(name, model)
    return model
  }

  /** Unloads idle models, least recently used first, until at most `maxLoadedModels` remain. */
  async #unloadSurplus(): Promise<void> {
    const idle = [...this.#loaded.entries()]
      .filter(([name]) => !this.#pins.has(name))
      .sort(([, a], [, b]) => a.lastUsedAt - b.lastUsedAt)
    let surplus = this.#loaded.size - this.#maxLoaded
    for (const [name, model] of idle) {
      if (surplus-- <= 0) break
      await this.#unload(name, model)
    }
  }

  async #unload(name: string, model: LoadedModel): Promise<void> {
    this.#loaded.delete(name)
    this.#loading.delete(name)
    await model.dispose()
  }

  async #unloadAll(): Promise<void> {
    this.#shutdown.abort(new Error('provider stopped'))
    await Promise.allSettled([...this.#inFlight, ...this.#loading.values()])
    await Promise.all([...this.#loaded].map(([name, model]) => this.#unload(name, model)))
    this.#active = undefined
  }
}
