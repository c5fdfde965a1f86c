import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ChatRequest, ChatResult } from '../../inference/index.ts'
import { ContextOverflowError, InferenceError, ModelNotFoundError } from '../../inference/index.ts'
import { type ChatBackend, clientGone } from './chat-backend.ts'
import { parseToolReply, type ToolReply } from './tool-calls.ts'

export const ollamaError = (message: string) => ({ error: message })

/** The closing fields of every Ollama reply: counts and durations in nanoseconds. */
export function finalFields(r: ChatResult, withCalls = false) {
  const evalNs = r.tokensPerSecond > 0 ? Math.round((r.completionTokens / r.tokensPerSecond) * 1e9) : 0
  return {
    done: true,
    done_reason: r.finishReason === 'length' && !withCalls ? 'length' : 'stop',
    total_duration: Math.round(r.durationMs * 1e6),
    load_duration: 0,
    prompt_eval_count: r.promptTokens,
    eval_count: r.completionTokens,
    eval_duration: evalNs,
  }
}

export interface Shapes {
  /** One streamed piece of text. */
  piece: (text: string, model: string) => object
  /** The final object: the whole text when not streamed, empty when it was. */
  final: (r: ChatResult, text: string, calls: ToolReply['calls']) => object
  /** A streamed piece carrying tool calls (chat only). */
  calls?: (calls: ToolReply['calls'], model: string) => object
}

/**
 * Runs a request and answers it in Ollama's way: one JSON object, or NDJSON lines ending with a
 * `done` line. With tools the reply is constrained JSON, read once complete and sent as tool
 * calls (or as text when the model answered in words).
 */
export async function answer(
  req: FastifyRequest,
  reply: FastifyReply,
  backend: ChatBackend,
  chatReq: ChatRequest,
  opts: { stream: boolean; tools: boolean },
  shapes: Shapes,
) {
  const signal = clientGone(req.raw, reply.raw)
  const model = chatReq.model ?? ''
  if (!opts.stream) {
    try {
      const r = await backend.chat(chatReq, { signal })
      const { content, calls } = opts.tools ? parseToolReply(r.text) : { content: r.text, calls: [] }
      return shapes.final(r, content ?? '', calls)
    } catch (err) {
      const [status, msg] = mapError(err)
      return reply.code(status).send(ollamaError(msg))
    }
  }
  const res = reply.raw
  reply.hijack()
  let started = false
  const write = (obj: object) => {
    if (!started) {
      started = true
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    }
    res.write(`${JSON.stringify(obj)}\n`)
  }
  try {
    const r = await backend.chat(chatReq, {
      signal,
      onToken: opts.tools
        ? undefined
        : (t) => {
            if (t) write(shapes.piece(t, model))
          },
    })
    if (opts.tools) {
      const { content, calls } = parseToolReply(r.text)
      if (calls.length > 0 && shapes.calls) write(shapes.calls(calls, r.model))
      else if (content) write(shapes.piece(content, r.model))
      // The done line follows the calls, as Ollama sends it.
      write(shapes.final(r, '', []))
    } else write(shapes.final(r, '', []))
    res.end()
  } catch (err) {
    const [status, msg] = mapError(err)
    if (!started) {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(ollamaError(msg)))
    } else {
      // As Ollama does: an error line mid-stream, under the 200 already sent.
      res.end(`${JSON.stringify(ollamaError(msg))}\n`)
    }
  }
}

export function mapError(err: unknown): [number, string] {
  if (err instanceof ModelNotFoundError) return [404, `model '${err.model}' not found`]
  // A peer's overflow arrives by its code alone.
  if (
    err instanceof ContextOverflowError ||
    (err instanceof InferenceError && err.code === 'context_overflow')
  )
    return [400, err.message]
  if (err instanceof InferenceError && (err.code === 'invalid_request' || err.code === 'unsupported'))
    return [400, err.message]
  if (err instanceof InferenceError) return [502, err.message]
  return [500, 'the node failed to answer; see its log']
}
