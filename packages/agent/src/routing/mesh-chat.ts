import { randomUUID } from 'node:crypto'
import {
  ChatTaskSpec,
  EMBED_MAX_INPUT_JSON,
  EMBED_MAX_INPUTS,
  EmbedTaskSpec,
  type TaskResult,
} from '@edgecoder/protocol'
import {
  type ChatBackend,
  type ChatOptions,
  type ChatRequest,
  type ChatResult,
  type EmbedResult,
  InferenceError,
  InvalidChatRequestError,
  type LoadedModelInfo,
  type ModelInfo,
  ModelNotFoundError,
} from '../inference/index.ts'
import { OfferDeclinedError, RemoteInferenceError } from './errors.ts'
import type { RoutingOptions } from './options.ts'
import type { MeshRouter } from './router.ts'
import { needsOf } from './scoring.ts'

export interface MeshChatInit {
  options: RoutingOptions
  /** This node's own models (the model manager). */
  local: ChatBackend
  router: MeshRouter
}

/** How long a listing of this node's own models decides where a chat goes without a new one. */
const LOCAL_LIST_FRESH_MS = 2_000

/** Whether this node has the model a request names (any model, when it names none). */
const isHere = (req: ChatRequest, local: ModelInfo[]) =>
  req.model === undefined ? local.length > 0 : local.some((m) => m.name === req.model)

/** Errors a peer reports about the request itself: another peer would say the same. */
const FINAL_CODES = new Set(['invalid_request', 'context_overflow'])

/**
 * The IDE endpoints' backend: a request for a model this node has is answered here; one for a
 * model only peers have goes to the best of them as a chat task over the task protocol, its
 * tokens streamed back as they come. A peer that declines or is lost before the first token is
 * replaced by the next best; after it, the request fails (tokens already sent can't be taken back).
 */
export class MeshChatBackend implements ChatBackend {
  readonly #init: MeshChatInit
  /** This node's models as last listed, and when. */
  #recentLocal: { at: number; models: ModelInfo[] } | null = null

  constructor(init: MeshChatInit) {
    this.#init = init
  }

  /** This node's models, then the mesh's that it lacks. */
  async listModels(): Promise<ModelInfo[]> {
    const local = await this.#localModels()
    const have = new Set(local.map((m) => m.name))
    const remote = this.#init.router
      .meshModels()
      .filter((m) => !have.has(m.name))
      .map((m) => ({ ...m, sizeBytes: 0, path: null }))
    return [...local, ...remote]
  }

  async chat(req: ChatRequest, opts: ChatOptions = {}): Promise<ChatResult> {
    // The hot path: a model found here moments ago is asked for without listing again (with an
    // Ollama provider the list is an HTTP round trip before every chat). Gone since, the provider
    // says so before any token, and the request is decided afresh.
    const recent = this.#recentLocal
    if (recent && performance.now() - recent.at < LOCAL_LIST_FRESH_MS && isHere(req, recent.models)) {
      try {
        return await this.#init.local.chat(req, opts)
      } catch (err) {
        if (!(err instanceof ModelNotFoundError)) throw err
        this.#recentLocal = null
      }
    }
    const local = await this.#localModels()
    if (isHere(req, local)) return this.#init.local.chat(req, opts)
    return this.#remote(req, opts, local)
  }

  /**
   * Embeddings from this node's model, or from a peer that has it as embed tasks (at most
   * EMBED_MAX_INPUTS inputs each, so a result always fits a frame), in the inputs' order.
   */
  async embed(model: string | undefined, inputs: string[], signal?: AbortSignal): Promise<EmbedResult> {
    const local = await this.#localModels()
    if (model === undefined ? local.length > 0 : local.some((m) => m.name === model))
      return this.#init.local.embed(model, inputs, signal)
    const sig = signal ?? new AbortController().signal
    const out: EmbedResult = { model: model ?? '', embeddings: [], promptTokens: 0 }
    for (const batch of embedBatches(inputs)) {
      const parsed = EmbedTaskSpec.safeParse({
        kind: 'embed',
        model,
        inputs: batch,
        submitter: 'ide',
        priority: 'high',
      })
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        throw new InvalidChatRequestError(
          `the input can't be sent to a peer: ${issue?.path.join('.')}: ${issue?.message}`,
        )
      }
      const r = await this.#onPeer(parsed.data, local, sig)
      out.model = r.model ?? out.model
      out.embeddings.push(...(r.embeddings ?? []))
      out.promptTokens += r.tokens.prompt
    }
    return out
  }

  /** One embed task on the best peer with the model; a peer that declines or is lost is replaced. */
  async #onPeer(spec: EmbedTaskSpec, local: ModelInfo[], signal: AbortSignal): Promise<TaskResult> {
    const { options, router } = this.#init
    const tried = new Set<string>()
    let lastError: Error | null = null
    for (let i = 0; i < options.chatTries; i++) {
      const best = router.pick(needsOf(spec), { localFree: false, ignoreCapacity: true, skip: tried })
      if (best.best === null) {
        if (best.capable === 0 && tried.size === 0) {
          const names = [...local.map((m) => m.name), ...router.meshModels().map((m) => m.name)]
          throw new ModelNotFoundError(spec.model ?? '(any)', names)
        }
        break
      }
      const peerId = best.best.candidate.peerId
      tried.add(peerId)
      router.history.placed(peerId)
      try {
        const r = await router.client.run({
          peerId,
          addrs: router.peerAddrs(peerId),
          taskId: randomUUID(),
          attempt: 1,
          spec,
          signal,
        })
        router.history.finished(peerId)
        if (r.status === 'succeeded' && r.result?.embeddings?.length === spec.inputs.length) return r.result
        const code = r.error?.code ?? r.status
        lastError = new RemoteInferenceError(
          code,
          r.error?.message ?? `the peer answered ${r.status} without a vector for each input`,
        )
        if (FINAL_CODES.has(code)) throw lastError
      } catch (err) {
        if (signal.aborted || err instanceof InferenceError) throw err
        lastError = err as Error
        if (err instanceof OfferDeclinedError)
          router.backoff(peerId, err.retryAfterMs ?? options.declineBackoffMs)
        else {
          router.history.lost(peerId)
          router.backoff(peerId, options.lostBackoffMs)
        }
      } finally {
        router.history.released(peerId)
      }
    }
    throw new RemoteInferenceError(
      'no_executor',
      `no peer with ${spec.model ?? 'a model'} could embed: ${lastError?.message ?? 'none reachable'}`,
    )
  }

  /** A local model is loaded; a peer's loads on its first request, so naming one is enough. */
  async load(model: string | undefined): Promise<string> {
    const local = await this.#localModels()
    if (model === undefined ? local.length > 0 : local.some((m) => m.name === model))
      return this.#init.local.load(model)
    if (model !== undefined && this.#init.router.meshModels().some((m) => m.name === model)) return model
    const names = [...local.map((m) => m.name), ...this.#init.router.meshModels().map((m) => m.name)]
    throw new ModelNotFoundError(model ?? '(any)', names)
  }

  loadedModels(): Promise<LoadedModelInfo[]> {
    return this.#init.local.loadedModels().catch(() => [])
  }

  async #localModels(): Promise<ModelInfo[]> {
    // A provider that is down has no models to offer; the mesh may still have them.
    const models = await this.#init.local.listModels().catch(() => [])
    this.#recentLocal = { at: performance.now(), models }
    return models
  }

  async #remote(req: ChatRequest, opts: ChatOptions, local: ModelInfo[]): Promise<ChatResult> {
    const { options, router } = this.#init
    const spec = this.#spec(req)
    const needs = needsOf(spec)
    const tried = new Set<string>()
    const signal = opts.signal ?? new AbortController().signal
    const t0 = performance.now()
    let firstTokenAt: number | null = null
    let streamed = ''
    let lastError: Error | null = null
    for (let i = 0; i < options.chatTries; i++) {
      const best = router.pick(needs, { localFree: false, ignoreCapacity: true, skip: tried })
      if (best.best === null) {
        if (best.capable === 0 && tried.size === 0) {
          const names = [...local.map((m) => m.name), ...router.meshModels().map((m) => m.name)]
          throw new ModelNotFoundError(req.model ?? '(any)', names)
        }
        break
      }
      const peerId = best.best.candidate.peerId
      tried.add(peerId)
      router.history.placed(peerId)
      try {
        const r = await router.client.run({
          peerId,
          addrs: router.peerAddrs(peerId),
          taskId: randomUUID(),
          attempt: 1,
          spec,
          signal,
          onEvent: (e) => {
            if (e.type !== 'token' || e.text === '') return
            firstTokenAt ??= performance.now()
            streamed += e.text
            opts.onToken?.(e.text)
          },
        })
        router.history.finished(peerId)
        if (r.status === 'succeeded' && r.result) {
          // Tokens the stream missed (a reply finished before it was followed) still reach the client.
          const text = r.result.text ?? ''
          if (text.length > streamed.length && text.startsWith(streamed)) {
            firstTokenAt ??= performance.now()
            opts.onToken?.(text.slice(streamed.length))
          }
          return chatResult(r.result, t0, firstTokenAt, spec.model)
        }
        const code = r.error?.code ?? r.status
        lastError = new RemoteInferenceError(code, r.error?.message ?? `the peer ended the chat: ${r.status}`)
        if (FINAL_CODES.has(code) || firstTokenAt !== null) throw lastError
      } catch (err) {
        if (signal.aborted || err instanceof InferenceError) throw err
        lastError = err as Error
        if (err instanceof OfferDeclinedError)
          router.backoff(peerId, err.retryAfterMs ?? options.declineBackoffMs)
        else {
          router.history.lost(peerId)
          router.backoff(peerId, options.lostBackoffMs)
        }
        if (firstTokenAt !== null)
          throw new RemoteInferenceError(
            'peer_lost',
            `the peer answering was lost mid-answer: ${lastError.message}`,
          )
      } finally {
        router.history.released(peerId)
      }
    }
    throw new RemoteInferenceError(
      'no_executor',
      `no peer with ${req.model ?? 'a model'} could answer: ${lastError?.message ?? 'none reachable'}`,
    )
  }

  /** The request as a chat task; fields the task protocol can't carry (top_p) are dropped. */
  #spec(req: ChatRequest): ChatTaskSpec {
    const parsed = ChatTaskSpec.safeParse({
      kind: 'chat',
      // A raw completion carries its prompt in `completion`; the spec still needs one message.
      messages: req.completion ? [{ role: 'user', content: '' }] : req.messages,
      model: req.model,
      maxTokens: Math.min(8192, Math.max(1, req.maxTokens ?? this.#init.options.chatMaxTokens)),
      temperature: req.temperature,
      seed: req.seed !== undefined && req.seed >= 0 ? req.seed : undefined,
      stop: req.stop?.filter((s) => s.length > 0 && s.length <= 64).slice(0, 8),
      format: req.format,
      completion: req.completion,
      contextSize: req.contextSize,
      submitter: 'ide',
      priority: 'high',
    })
    if (parsed.success) return parsed.data
    const issue = parsed.error.issues[0]
    throw new InvalidChatRequestError(
      `the request can't be sent to a peer: ${issue?.path.join('.')}: ${issue?.message}`,
    )
  }
}

function chatResult(r: TaskResult, t0: number, firstTokenAt: number | null, model?: string): ChatResult {
  const end = performance.now()
  const completion = r.tokens.completion
  const decodeSec = firstTokenAt === null ? 0 : (end - firstTokenAt) / 1000
  return {
    text: r.text ?? '',
    model: r.model ?? model ?? '',
    promptTokens: r.tokens.prompt,
    completionTokens: completion,
    finishReason:
      r.finishReason === 'length' ? 'length' : r.finishReason === 'cancelled' ? 'cancelled' : 'stop',
    timeToFirstTokenMs: firstTokenAt === null ? null : Math.round(firstTokenAt - t0),
    durationMs: Math.round(end - t0),
    tokensPerSecond: completion > 1 && decodeSec > 0 ? (completion - 1) / decodeSec : 0,
  }
}

/** Inputs in order, cut into groups one embed task can carry (by count and by JSON size). */
export function embedBatches(inputs: string[]): string[][] {
  const batches: string[][] = []
  let batch: string[] = []
  let size = 2
  for (const input of inputs) {
    const n = JSON.stringify(input).length + 1
    if (batch.length > 0 && (batch.length === EMBED_MAX_INPUTS || size + n > EMBED_MAX_INPUT_JSON)) {
      batches.push(batch)
      batch = []
      size = 2
    }
    batch.push(input)
    size += n
  }
  if (batch.length > 0) batches.push(batch)
  return batches
}
