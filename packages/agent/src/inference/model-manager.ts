import { EventEmitter } from 'node:events'
import { access, copyFile, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { EmbeddedLlamaProvider } from './embedded-provider.ts'
import { InferenceError, ModelNotFoundError, UnsupportedCapabilityError } from './errors.ts'
import { catalogModelName, catalogUrl, findCatalogEntry, MODEL_CATALOG } from './model-catalog.ts'
import {
  cleanPartials,
  MODEL_NAME,
  nameFromSource,
  PullError,
  type PullProgressEvent,
  pullGguf,
} from './model-pull.ts'
import { OllamaProvider } from './ollama-provider.ts'
import { OpenAiCompatibleProvider } from './openai-provider.ts'
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

export type ProviderChoice = 'auto' | 'embedded' | 'ollama' | 'openai'

export interface ModelManagerOptions {
  choice: ProviderChoice
  /** Embedded models live here (`<data-dir>/models`). */
  modelsDir: string
  /** A GGUF file offered besides the models dir (`--model`). */
  modelPath: string | null
  ollamaHost: string
  openAiBaseUrl: string | null
  openAiApiKey: string | null
  llamaThreads: number | undefined
  /** Base URL of the model hub catalog names resolve on (`https://huggingface.co`). */
  modelHub: string
  /** The model chosen by an earlier swap, remembered across restarts. */
  activeModel: string | null
}

export interface PullRequest {
  /** Model name; for the embedded provider, derived from the source when absent. */
  name?: string
  /** Embedded provider: an http(s) URL or a local file path. */
  source?: string
  sizeBytes?: number
  sha256?: string
}

/** Listing of one model as the Model Manager panel shows it. */
export interface ManagedModel extends ModelInfo {
  active: boolean
  provider: string
}

interface PullJob {
  name: string
  ctrl: AbortController
  followers: Set<(p: PullProgressEvent) => void>
  last: PullProgressEvent | null
  done: Promise<void>
}

/**
 * Picks the provider (configured, else Ollama when it answers, else embedded), keeps the active
 * model, and pulls, swaps and removes models. Emits `changed` whenever what the node can serve
 * changes, so the advert follows.
 */
export class ModelManager extends EventEmitter<{ changed: []; idle: [] }> {
  readonly name = 'models'
  provider!: Provider
  reason = ''
  #opts: ModelManagerOptions
  #active: string | null
  #pulls = new Map<string, PullJob>()
  readonly #inFlight = new Map<Provider, number>()

  constructor(opts: ModelManagerOptions) {
    super()
    this.#opts = opts
    this.#active = opts.activeModel
  }

  async start(): Promise<void> {
    ;[this.provider, this.reason] = await this.#create(this.#opts.choice)
    await this.#prepare()
  }

  /** The provider for `choice`, and why it is the one. */
  async #create(choice: ProviderChoice): Promise<[Provider, string]> {
    const o = this.#opts
    const embedded = () =>
      new EmbeddedLlamaProvider({
        modelsDir: o.modelsDir,
        modelPath: o.modelPath ?? undefined,
        threads: o.llamaThreads,
      })
    if (choice === 'embedded') return [embedded(), 'configured']
    if (choice === 'ollama') return [new OllamaProvider({ host: o.ollamaHost }), 'configured']
    if (choice === 'openai') {
      if (!o.openAiBaseUrl) throw new InferenceError('--provider openai needs --openai-base-url')
      return [
        new OpenAiCompatibleProvider({ baseUrl: o.openAiBaseUrl, apiKey: o.openAiApiKey ?? undefined }),
        'configured',
      ]
    }
    const ollama = new OllamaProvider({ host: o.ollamaHost })
    if (await ollama.reachable()) return [ollama, `Ollama answers at ${ollama.baseUrl}`]
    return [embedded(), `no Ollama at ${ollama.baseUrl}; using embedded llama.cpp`]
  }

  async #prepare(): Promise<void> {
    if (this.provider instanceof EmbeddedLlamaProvider) {
      await mkdir(this.#opts.modelsDir, { recursive: true })
      await cleanPartials(this.#opts.modelsDir)
    }
  }

  /** Why `choice` can't be switched to now, or null. */
  providerProblem(choice: ProviderChoice): string | null {
    if (choice === 'openai' && !this.#opts.openAiBaseUrl)
      return 'the openai provider needs an OpenAI-compatible server: start the agent with --openai-base-url'
    if (this.#pulls.size > 0)
      return 'a model pull is running: wait for it or cancel it, then change the provider'
    return null
  }

  /**
   * Switches to another provider at run time: new requests go to it at once, while what runs on
   * the old one finishes there before it stops. The active model starts over from the new list.
   */
  async useProvider(choice: ProviderChoice): Promise<void> {
    const [next, reason] = await this.#create(choice)
    const old = this.provider
    this.#opts = { ...this.#opts, choice }
    this.provider = next
    this.reason = reason
    this.#active = null
    await this.#prepare()
    this.emit('changed')
    void this.#retire(old)
    this.warm().catch(() => {})
  }

  async #retire(old: Provider): Promise<void> {
    while ((this.#inFlight.get(old) ?? 0) > 0) await new Promise<void>((r) => this.once('idle', () => r()))
    this.#inFlight.delete(old)
    await old.stop()
  }

  /** Counts a call on `p` until it settles, so a provider switched away from stops only when idle. */
  #track<T>(p: Provider, call: Promise<T>): Promise<T> {
    this.#inFlight.set(p, (this.#inFlight.get(p) ?? 0) + 1)
    return call.finally(() => {
      this.#inFlight.set(p, (this.#inFlight.get(p) ?? 1) - 1)
      this.emit('idle')
    })
  }

  /** Whether {@link warm} loads a model: the embedded provider with one to serve. */
  async servesLocalModel(): Promise<boolean> {
    const p = this.provider
    return p instanceof EmbeddedLlamaProvider && (await p.listModels()).length > 0
  }

  /**
   * Loads the provider's runtime (llama.cpp's binary, or a first call to the server) so that a
   * problem shows early, and for the embedded provider the active model too, so that the first
   * request does not wait for it. Resolves with the model it loaded, or null when it loaded none.
   * Separate from start: the rest of the node starts meanwhile.
   */
  async warm(): Promise<string | null> {
    const p = this.provider
    if (!(p instanceof EmbeddedLlamaProvider)) {
      await p.start()
      return null
    }
    // With nothing to serve yet, llama.cpp's binary (tens of MB) loads on the first pull instead.
    if ((await p.listModels()).length === 0) return null
    await p.start()
    return this.load(undefined)
  }

  async stop(): Promise<void> {
    for (const job of this.#pulls.values()) job.ctrl.abort()
    await Promise.allSettled([...this.#pulls.values()].map((j) => j.done))
    await this.provider?.stop()
  }

  get activeModel(): string | null {
    return this.#active
  }

  async listModels(): Promise<ModelInfo[]> {
    return this.provider.listModels()
  }

  async list(): Promise<ManagedModel[]> {
    const models = await this.provider.listModels()
    const active = this.#active ?? models[0]?.name ?? null
    return models.map((m) => ({ ...m, active: m.name === active, provider: this.provider.name }))
  }

  async status(): Promise<ProviderStatus & { reason: string }> {
    const s = await this.provider.status()
    return { ...s, activeModel: this.#active ?? s.activeModel, reason: this.reason }
  }

  /** Requests without a model get the active one; tasks in flight keep the model they started on. */
  chat(req: ChatRequest, opts?: ChatOptions): Promise<ChatResult> {
    const p = this.provider
    return this.#track(
      p,
      p.chat(req.model || this.#active === null ? req : { ...req, model: this.#active }, opts),
    )
  }

  /**
   * Embeds with the named model, else the active one.
   * @throws UnsupportedCapabilityError when the provider can't embed
   */
  embed(model: string | undefined, inputs: string[], signal?: AbortSignal): Promise<EmbedResult> {
    const p = this.provider
    if (p.embed === undefined)
      throw new UnsupportedCapabilityError(`the ${p.name} provider of this node does not embed`)
    return this.#track(p, p.embed(model || (this.#active ?? undefined), inputs, signal))
  }

  /** Loads a model into memory; a provider that loads on its own just confirms the name. */
  async load(model: string | undefined): Promise<string> {
    const name = model || (this.#active ?? undefined)
    if (this.provider.load) return this.provider.load(name)
    const models = await this.provider.listModels()
    const found = models.find((m) => m.name === name) ?? (name === undefined ? models[0] : undefined)
    if (!found)
      throw new ModelNotFoundError(
        name ?? '(default)',
        models.map((m) => m.name),
      )
    return found.name
  }

  async loadedModels(): Promise<LoadedModelInfo[]> {
    return (await this.provider.loadedModels?.()) ?? []
  }

  async swap(name: string): Promise<string> {
    const models = await this.provider.listModels()
    const found = models.find((m) => m.name === name || `${m.name}.gguf` === name)
    if (!found)
      throw new ModelNotFoundError(
        name,
        models.map((m) => m.name),
      )
    this.#active = found.name
    this.emit('changed')
    return found.name
  }

  /**
   * Starts a pull, or joins the one already running for the same model; resolves with the name
   * the model is stored under. An embedded pull of a catalog name (`qwen2.5-coder:1.5b`) fetches
   * the catalog's file from the model hub, checked against the catalog's size and sha256.
   */
  pull(
    req: PullRequest,
    onProgress: (p: PullProgressEvent) => void,
    signal?: AbortSignal,
  ): Promise<{ name: string }> {
    req = this.#fromCatalog(req)
    const name = req.name ?? (req.source ? nameFromSource(req.source) : '')
    if (!MODEL_NAME.test(name)) throw new PullError('invalid_name', `"${name}" is not a valid model name`)
    let job = this.#pulls.get(name)
    if (!job) job = this.#startPull(name, req)
    const j = job
    j.followers.add(onProgress)
    if (j.last) onProgress(j.last)
    // A follower that goes away stops following; the last one to leave cancels the pull.
    signal?.addEventListener('abort', () => {
      j.followers.delete(onProgress)
      if (j.followers.size === 0) j.ctrl.abort()
    })
    return j.done.then(() => ({ name }))
  }

  /** A catalog name, for the embedded provider, becomes its hub URL, size and checksum. */
  #fromCatalog(req: PullRequest): PullRequest {
    if (req.source || req.name === undefined || !(this.provider instanceof EmbeddedLlamaProvider)) return req
    const entry = findCatalogEntry(req.name)
    if (!entry)
      throw new PullError(
        'unknown_model',
        `"${req.name}" is not in the model catalog (${MODEL_CATALOG.map((e) => e.name).join(', ')}); give an http(s) URL or a file path instead`,
      )
    return {
      name: catalogModelName(entry),
      source: catalogUrl(entry, this.#opts.modelHub),
      sizeBytes: entry.sizeBytes,
      sha256: entry.sha256,
    }
  }

  /**
   * The model a node is configured to serve (a seed node's `--model-url`): pulled into the models
   * dir and checked against its sha256 unless it is already there. A pull is all-or-nothing, so a
   * file in place is one that was verified. Resolves whether a pull happened.
   */
  async ensure(src: { url: string; sha256: string }): Promise<{ name: string; pulled: boolean }> {
    const name = nameFromSource(src.url)
    if (!MODEL_NAME.test(name)) throw new PullError('invalid_name', `"${name}" is not a valid model name`)
    if (!(this.provider instanceof EmbeddedLlamaProvider))
      throw new PullError('unsupported', `--model-url needs the embedded provider, not ${this.provider.name}`)
    const present = await access(join(this.#opts.modelsDir, `${name}.gguf`)).then(
      () => true,
      () => false,
    )
    if (!present) await this.pull({ name, source: src.url, sha256: src.sha256 }, () => {})
    return { name, pulled: !present }
  }

  cancelPull(name: string): boolean {
    const job = this.#pulls.get(name)
    job?.ctrl.abort()
    return job !== undefined
  }

  #startPull(name: string, req: PullRequest): PullJob {
    const ctrl = new AbortController()
    const job: PullJob = { name, ctrl, followers: new Set(), last: null, done: Promise.resolve() }
    const report = (p: PullProgressEvent) => {
      job.last = p
      for (const f of job.followers) f(p)
    }
    const p = this.provider
    job.done = (async () => {
      if (p instanceof EmbeddedLlamaProvider) {
        if (!req.source)
          throw new PullError(
            'invalid_source',
            'an embedded pull needs a source: an http(s) URL or a file path',
          )
        await pullGguf(
          this.#opts.modelsDir,
          name,
          { source: req.source, sizeBytes: req.sizeBytes, sha256: req.sha256 },
          report,
          ctrl.signal,
        )
      } else if (p instanceof OllamaProvider) {
        await p.pull(
          name,
          (x) =>
            report({
              status: 'downloading',
              completedBytes: x.completedBytes,
              totalBytes: x.totalBytes || null,
              fraction: x.fraction,
            }),
          ctrl.signal,
        )
        report({
          status: 'success',
          completedBytes: job.last?.completedBytes ?? 0,
          totalBytes: job.last?.totalBytes ?? null,
          fraction: 1,
        })
      } else {
        throw new PullError('unsupported', `the ${p.name} provider manages its own models`)
      }
      this.emit('changed')
    })().finally(() => this.#pulls.delete(name))
    job.done.catch(() => {})
    this.#pulls.set(name, job)
    return job
  }

  /**
   * Copies a model under a new name (Ollama's `/api/copy`); an embedded model is a second file.
   * @throws ModelNotFoundError when the source is unknown
   * @throws PullError when the new name is not a valid model name or is taken
   */
  async copy(source: string, destination: string): Promise<void> {
    const p = this.provider
    if (p instanceof OllamaProvider) await p.copyModel(source, destination)
    else if (p instanceof EmbeddedLlamaProvider) {
      if (!MODEL_NAME.test(destination))
        throw new PullError('invalid_name', `"${destination}" is not a valid model name`)
      const models = await p.listModels()
      const from = models.find((m) => m.name === source)
      if (!from?.path)
        throw new ModelNotFoundError(
          source,
          models.map((m) => m.name),
        )
      if (models.some((m) => m.name === destination))
        throw new PullError('exists', `a model named ${destination} exists already`)
      await copyFile(from.path, join(this.#opts.modelsDir, `${destination}.gguf`))
    } else throw new PullError('unsupported', `the ${p.name} provider manages its own models`)
    this.emit('changed')
  }

  async remove(name: string): Promise<void> {
    const p = this.provider
    if (p instanceof OllamaProvider) {
      await p.deleteModel(name)
    } else if (p instanceof EmbeddedLlamaProvider) {
      const models = await p.listModels()
      const m = models.find((x) => x.name === name)
      if (!m?.path)
        throw new ModelNotFoundError(
          name,
          models.map((x) => x.name),
        )
      if (!m.path.startsWith(join(this.#opts.modelsDir, '/'))) {
        throw new PullError(
          'not_managed',
          `${name} is the --model file ${m.path}; it is not removed from here`,
        )
      }
      await rm(m.path)
    } else {
      throw new PullError('unsupported', `the ${p.name} provider manages its own models`)
    }
    if (this.#active === name) this.#active = null
    this.emit('changed')
  }
}
