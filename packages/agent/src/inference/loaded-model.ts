import type { Llama, LlamaChat, LlamaContext, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp'
import { ContextOverflowError, ModelLoadError } from './errors.ts'
import { llamaModule } from './llama-module.ts'
import type { ModelInfo } from './types.ts'

/** How a model is held in memory. */
export interface LoadSettings {
  /** Requested context size in tokens; capped at what the model was trained for. */
  contextSize: number
  threads: number
  /** Requests that generate at once; more wait in line. */
  sequences: number
  gpu: boolean
}

interface Waiter {
  resolve: (chat: LlamaChat | undefined) => void
  signal: AbortSignal | undefined
  onAbort: () => void
}

/**
 * A model in memory with one context of `sequences` slots. Each slot keeps its KV cache between
 * requests, so a conversation that grows turn by turn only evaluates the new tokens.
 * Requests beyond the slot count wait in arrival order.
 */
export class LoadedModel {
  readonly info: ModelInfo
  readonly model: LlamaModel
  readonly context: LlamaContext
  /** `performance.now()` when a request last finished with it; picks what to unload first. */
  lastUsedAt = 0
  readonly #free: LlamaChat[]
  readonly #waiters: Waiter[] = []
  #embedding: Promise<LlamaEmbeddingContext> | undefined
  /** Embeddings run one batch at a time on their own context. */
  #embedQueue: Promise<unknown> = Promise.resolve()
  readonly #threads: number

  private constructor(
    info: ModelInfo,
    model: LlamaModel,
    context: LlamaContext,
    chats: LlamaChat[],
    threads: number,
  ) {
    this.#threads = threads
    this.info = info
    this.model = model
    this.context = context
    this.#free = chats
  }

  /** @throws ModelLoadError when llama.cpp cannot load the file or allocate the context */
  static async load(llama: Llama, info: ModelInfo, settings: LoadSettings): Promise<LoadedModel> {
    const path = info.path!
    let model: LlamaModel | undefined
    try {
      model = await llama.loadModel({ modelPath: path, gpuLayers: settings.gpu ? 'auto' : 0 })
      const context = await model.createContext({
        contextSize: Math.min(settings.contextSize, model.trainContextSize),
        sequences: settings.sequences,
        threads: settings.threads,
      })
      const { LlamaChat } = await llamaModule()
      const chats = Array.from(
        { length: settings.sequences },
        () => new LlamaChat({ contextSequence: context.getSequence(), chatWrapper: 'auto' }),
      )
      return new LoadedModel(info, model, context, chats, settings.threads)
    } catch (err) {
      await model?.dispose()
      throw new ModelLoadError(path, err)
    }
  }

  /** Tokens one request can hold (prompt and reply together). */
  get contextSize(): number {
    return this.context.contextSize
  }

  /** Weights plus context, as llama.cpp accounts them. */
  get memoryBytes(): number {
    return this.model.size + this.context.memoryUsage.ram + this.context.memoryUsage.vram
  }

  get running(): number {
    return this.context.totalSequences - this.#free.length
  }

  get queued(): number {
    return this.#waiters.length
  }

  /** A free slot, once one is; undefined when `signal` aborts first or the model is unloaded meanwhile. */
  acquire(signal?: AbortSignal): Promise<LlamaChat | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined)
    const chat = this.#free.pop()
    if (chat !== undefined) return Promise.resolve(chat)
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        signal,
        onAbort: () => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
          resolve(undefined)
        },
      }
      signal?.addEventListener('abort', waiter.onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  /** Returns a slot, handing it straight to the longest waiter. */
  release(chat: LlamaChat): void {
    const waiter = this.#waiters.shift()
    if (waiter === undefined) {
      this.#free.push(chat)
      return
    }
    waiter.signal?.removeEventListener('abort', waiter.onAbort)
    waiter.resolve(chat)
  }

  /**
   * One vector per input, from a separate embedding context created on first use (a generative
   * model embeds too: llama.cpp pools its last hidden states).
   * @throws ContextOverflowError when an input exceeds the embedding context
   */
  embed(inputs: string[], signal?: AbortSignal): Promise<{ vectors: number[][]; tokens: number }> {
    const size = Math.min(2048, this.model.trainContextSize)
    this.#embedding ??= this.model
      .createEmbeddingContext({ contextSize: size, threads: this.#threads })
      .catch((err: unknown) => {
        this.#embedding = undefined
        throw new ModelLoadError(this.info.path ?? this.info.name, err)
      })
    const run = this.#embedQueue.then(async () => {
      const ctx = await this.#embedding!
      const vectors: number[][] = []
      let tokens = 0
      for (const input of inputs) {
        signal?.throwIfAborted()
        const n = ctx.calculateInputLength(input)
        if (n > size) throw new ContextOverflowError(n, size)
        tokens += n
        vectors.push([...(await ctx.getEmbeddingFor(input)).vector])
      }
      return { vectors, tokens }
    })
    this.#embedQueue = run.catch(() => {})
    return run
  }

  /** Frees the context and weights; anyone still waiting gets no slot. */
  async dispose(): Promise<void> {
    const embedding = this.#embedding
    this.#embedding = undefined
    await embedding?.then((e) => e.dispose()).catch(() => {})
    for (const waiter of this.#waiters.splice(0)) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort)
      waiter.resolve(undefined)
    }
    await this.context.dispose()
    await this.model.dispose()
  }
}
