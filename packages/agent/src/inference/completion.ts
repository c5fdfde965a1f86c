import type { LlamaChat, LlamaCompletionResponse, LlamaGrammar } from 'node-llama-cpp'
import { ContextOverflowError, InvalidChatRequestError } from './errors.ts'
import { grammarSchema } from './json-schema.ts'
import { llamaModule } from './llama-module.ts'
import type { JsonSchema } from './types.ts'

/**
 * A grammar that admits only JSON matching `schema`.
 * @throws InvalidChatRequestError when llama.cpp can't turn the schema into a grammar
 */
export async function jsonGrammar(chat: LlamaChat, schema: JsonSchema): Promise<LlamaGrammar> {
  try {
    // biome-ignore lint/suspicious/noExplicitAny: the schema is validated by llama.cpp's converter
    return await chat.model.llama.createGrammarForJsonSchema(grammarSchema(schema) as any)
  } catch (err) {
    throw new InvalidChatRequestError(`format: not a usable JSON schema: ${(err as Error).message}`)
  }
}

/** Grammars by their text, per runtime: a code loop asks for the same few again and again. */
const GBNF_CACHE = new WeakMap<object, Map<string, LlamaGrammar>>()
const GBNF_CACHE_SIZE = 32

/**
 * A grammar from GBNF text, parsed once per runtime and text.
 * @throws InvalidChatRequestError when llama.cpp can't parse it
 */
export async function gbnfGrammar(chat: LlamaChat, text: string): Promise<LlamaGrammar> {
  const llama = chat.model.llama
  let cache = GBNF_CACHE.get(llama)
  if (cache === undefined) {
    cache = new Map()
    GBNF_CACHE.set(llama, cache)
  }
  const cached = cache.get(text)
  if (cached !== undefined) return cached
  let grammar: LlamaGrammar
  try {
    grammar = await llama.createGrammar({ grammar: text })
  } catch (err) {
    throw new InvalidChatRequestError(`grammar: not a usable GBNF grammar: ${(err as Error).message}`)
  }
  if (cache.size >= GBNF_CACHE_SIZE) cache.delete(cache.keys().next().value!)
  cache.set(text, grammar)
  return grammar
}

/** The first line of the suffix with text on it: a completion that reaches it has closed the gap. */
export function suffixStop(suffix: string | undefined): string[] {
  const line = suffix
    ?.split('\n')
    .map((l) => l.trim())
    .find((l) => l.length >= 3)
  return line === undefined ? [] : [line]
}

export interface RawCompletionInput {
  chat: LlamaChat
  prompt: string
  suffix: string | undefined
  /** Tokens the request may use in all. */
  contextSize: number
  maxTokens: number | undefined
  options: {
    signal: AbortSignal
    temperature?: number
    topP?: number
    seed?: number
    customStopTriggers?: string[]
    grammar?: LlamaGrammar
    onToken: (tokens: unknown[]) => void
    onTextChunk: (text: string) => void
  }
}

/**
 * Continues `prompt` on the chat's own slot, without a chat template. With a suffix, a model that
 * has fill-in-the-middle tokens fills the gap with them; any other continues the prefix and stops
 * where it starts writing the suffix's first line.
 * @throws ContextOverflowError when the prompt leaves no room for a reply
 */
export async function rawCompletion(
  input: RawCompletionInput,
): Promise<{ response: LlamaCompletionResponse; promptTokens: number }> {
  const { chat, prompt, suffix } = input
  const { LlamaCompletion } = await llamaModule()
  const completion = new LlamaCompletion({ contextSequence: chat.sequence })
  const tokenizer = chat.model.tokenizer
  const infill = suffix !== undefined && suffix !== '' && completion.infillSupported
  const promptTokens = tokenizer(prompt).length + (infill ? tokenizer(suffix).length + 3 : 0)
  const room = input.contextSize - promptTokens
  if (room < 1) throw new ContextOverflowError(promptTokens, input.contextSize)
  const options = {
    ...input.options,
    stopOnAbortSignal: true,
    maxTokens: Math.min(input.maxTokens ?? room, room),
  }
  const response = infill
    ? await completion.generateInfillCompletionWithMeta(prompt, suffix, options)
    : await completion.generateCompletionWithMeta(prompt, {
        ...options,
        customStopTriggers: [...(options.customStopTriggers ?? []), ...suffixStop(suffix)],
      })
  return { response, promptTokens }
}
