import type { ChatHistoryItem, LlamaChat } from 'node-llama-cpp'
import { toChatHistory } from './chat-request.ts'
import { gbnfGrammar, jsonGrammar, rawCompletion } from './completion.ts'
import { ContextOverflowError } from './errors.ts'
import type { ChatOptions, ChatRequest, ChatResult, FinishReason } from './types.ts'

/** Where one request stands when generation begins. */
export interface GenerationInput {
  chat: LlamaChat
  model: string
  req: ChatRequest
  /** The caller's stream callback. */
  onToken: ChatOptions['onToken']
  /** The caller's signal joined with the provider's shutdown signal. */
  signal: AbortSignal
  /** `performance.now()` when the request was received. */
  receivedAt: number
}

/** Tokens of the prompt exactly as the chat template renders it for this model. */
export function countPromptTokens(chat: LlamaChat, history: ChatHistoryItem[]): number {
  const { contextText } = chat.chatWrapper.generateContextState({ chatHistory: history })
  return contextText.tokenize(chat.model.tokenizer).length
}

function finishReasonOf(stopReason: string): FinishReason {
  if (stopReason === 'abort') return 'cancelled'
  if (stopReason === 'maxTokens') return 'length'
  return 'stop'
}

/**
 * Decode rate: tokens after the first over the time after the first, so prompt evaluation and
 * queueing do not dilute it. With a single token there is no interval; its own latency stands in.
 */
export function decodeRate(tokens: number, startedAt: number, firstAt: number | undefined, endAt: number) {
  if (tokens === 0 || firstAt === undefined) return 0
  if (tokens === 1 || endAt <= firstAt) return 1000 / Math.max(endAt - startedAt, 1e-3)
  return ((tokens - 1) * 1000) / (endAt - firstAt)
}

/**
 * Runs one request on a free slot. The prompt is measured before anything is evaluated, so an
 * oversized prompt fails fast and generation never shifts the context (which would silently
 * drop the start of the conversation): the reply is capped at the room the prompt leaves.
 * @throws ContextOverflowError when the prompt leaves no room for a reply
 */
export async function generate(input: GenerationInput): Promise<ChatResult> {
  const { chat, req, signal, receivedAt } = input
  const contextSize = Math.min(chat.sequence.contextSize, req.contextSize ?? Number.POSITIVE_INFINITY)
  const grammar =
    req.format !== undefined
      ? await jsonGrammar(chat, req.format)
      : req.grammar !== undefined
        ? await gbnfGrammar(chat, req.grammar)
        : undefined
  const history = req.completion === undefined ? toChatHistory(req.messages) : []
  let promptTokens = req.completion === undefined ? countPromptTokens(chat, history) : 0
  const room = contextSize - promptTokens
  if (room < 1) throw new ContextOverflowError(promptTokens, contextSize)

  const startedAt = performance.now()
  let firstTokenAt: number | undefined
  let completionTokens = 0
  let streamed = ''
  let response: { response: string; metadata: { stopReason: string } } | undefined
  const common = {
    signal,
    temperature: req.temperature,
    topP: req.topP,
    seed: req.seed,
    customStopTriggers: req.stop,
    grammar,
    onToken: (tokens: unknown[]) => {
      firstTokenAt ??= performance.now()
      completionTokens += tokens.length
    },
    onTextChunk: (text: string) => {
      streamed += text
      input.onToken?.(text)
    },
  }
  try {
    if (req.completion !== undefined) {
      const r = await rawCompletion({
        chat,
        prompt: req.completion.prompt,
        suffix: req.completion.suffix,
        contextSize,
        maxTokens: req.maxTokens,
        options: common,
      })
      promptTokens = r.promptTokens
      response = r.response
    } else {
      response = await chat.generateResponse(history, {
        ...common,
        stopOnAbortSignal: true,
        maxTokens: Math.min(req.maxTokens ?? room, room),
      })
    }
  } catch (err) {
    // An abort that lands before the first token is thrown rather than reported as a stop.
    if (!signal.aborted) throw err
  }
  const endAt = performance.now()
  return {
    text: response?.response ?? streamed,
    model: input.model,
    promptTokens,
    completionTokens,
    finishReason: response === undefined ? 'cancelled' : finishReasonOf(response.metadata.stopReason),
    timeToFirstTokenMs: firstTokenAt === undefined ? null : firstTokenAt - receivedAt,
    durationMs: endAt - receivedAt,
    tokensPerSecond: decodeRate(completionTokens, startedAt, firstTokenAt, endAt),
  }
}

/** The result of a request cancelled before it reached the model. */
export function cancelledResult(model: string, receivedAt: number): ChatResult {
  return {
    text: '',
    model,
    promptTokens: 0,
    completionTokens: 0,
    finishReason: 'cancelled',
    timeToFirstTokenMs: null,
    durationMs: performance.now() - receivedAt,
    tokensPerSecond: 0,
  }
}
