import type { ChatHistoryItem } from 'node-llama-cpp'
import { InvalidChatRequestError } from './errors.ts'
import type { ChatMessage, ChatRequest } from './types.ts'

const ROLES = new Set(['system', 'user', 'assistant'])

function check(ok: boolean, message: string): void {
  if (!ok) throw new InvalidChatRequestError(message)
}

/**
 * Rejects what no model can answer. Callers from the API have validated shapes already; this
 * guards the provider boundary for in-process callers and keeps bad values out of llama.cpp.
 * @throws InvalidChatRequestError naming the first bad field
 */
export function validateChatRequest(req: ChatRequest): void {
  const c = req.completion
  if (c !== undefined) {
    check(typeof c?.prompt === 'string', 'completion.prompt must be a string')
    check(c.suffix === undefined || typeof c.suffix === 'string', 'completion.suffix must be a string')
  } else check(Array.isArray(req.messages) && req.messages.length > 0, 'messages must be a non-empty array')
  check(
    req.format === undefined || (typeof req.format === 'object' && req.format !== null),
    'format must be a JSON schema object',
  )
  check(
    req.grammar === undefined || (typeof req.grammar === 'string' && req.grammar.trim() !== ''),
    'grammar must be a non-empty GBNF string',
  )
  check(req.grammar === undefined || req.format === undefined, 'grammar and format cannot be combined')
  check(
    req.contextSize === undefined || (Number.isInteger(req.contextSize) && req.contextSize >= 1),
    'contextSize must be >= 1',
  )
  ;(req.messages ?? []).forEach((m, i) => {
    check(ROLES.has(m?.role), `messages[${i}].role must be system, user or assistant`)
    check(typeof m.content === 'string', `messages[${i}].content must be a string`)
  })
  const { maxTokens, temperature, topP, seed, stop, model } = req
  check(
    model === undefined || (typeof model === 'string' && model !== ''),
    'model must be a non-empty string',
  )
  check(maxTokens === undefined || (Number.isInteger(maxTokens) && maxTokens >= 1), 'maxTokens must be >= 1')
  check(
    temperature === undefined || (Number.isFinite(temperature) && temperature >= 0),
    'temperature must be >= 0',
  )
  check(topP === undefined || (Number.isFinite(topP) && topP > 0 && topP <= 1), 'topP must be in (0, 1]')
  check(seed === undefined || Number.isSafeInteger(seed), 'seed must be an integer')
  check(
    stop === undefined || (Array.isArray(stop) && stop.every((s) => typeof s === 'string' && s !== '')),
    'stop must be an array of non-empty strings',
  )
}

/**
 * The conversation as node-llama-cpp's chat history, ending with the model turn to generate:
 * an open empty one after a user or system message, or the caller's partial assistant message.
 */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) => {
    if (m.role === 'system') return { type: 'system', text: m.content }
    if (m.role === 'user') return { type: 'user', text: m.content }
    return { type: 'model', response: [m.content] }
  })
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] })
  return history
}
