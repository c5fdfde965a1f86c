import type { FastifyReply } from 'fastify'
import { ContextOverflowError, InferenceError, ModelNotFoundError } from '../../inference/index.ts'

/**
 * A server-sent event stream in OpenAI's way. The status line goes out with the first event, so
 * an error found before any output still gets its proper status; later ones arrive as an event.
 */
export function openAiStream(reply: FastifyReply) {
  const res = reply.raw
  reply.hijack()
  let started = false
  const begin = () => {
    if (started) return
    started = true
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  }
  return {
    send(data: unknown) {
      begin()
      res.write(`data: ${JSON.stringify(data)}\n\n`)
    },
    done() {
      begin()
      res.end('data: [DONE]\n\n')
    },
    fail(status: number, body: unknown) {
      if (!started) {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      } else res.end(`data: ${JSON.stringify(body)}\n\n`)
    },
  }
}

/** OpenAI's error object: `{error: {message, type, param, code}}`. */
export function oaiError(message: string, type: string, param: string | null, code: string | null) {
  return { error: { message, type, param, code } }
}

export function usageOf(r: { promptTokens: number; completionTokens: number }) {
  return {
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    total_tokens: r.promptTokens + r.completionTokens,
  }
}

/** Inference failures as OpenAI reports them. */
export function mapError(err: unknown): [number, ReturnType<typeof oaiError>] {
  if (err instanceof ModelNotFoundError) {
    return [
      404,
      oaiError(
        `The model \`${err.model}\` does not exist`,
        'invalid_request_error',
        'model',
        'model_not_found',
      ),
    ]
  }
  // A peer's overflow arrives by its code alone.
  if (
    err instanceof ContextOverflowError ||
    (err instanceof InferenceError && err.code === 'context_overflow')
  ) {
    return [400, oaiError(err.message, 'invalid_request_error', 'messages', 'context_length_exceeded')]
  }
  if (err instanceof InferenceError && (err.code === 'invalid_request' || err.code === 'unsupported')) {
    return [
      400,
      oaiError(err.message, 'invalid_request_error', null, err.code === 'unsupported' ? 'unsupported' : null),
    ]
  }
  if (err instanceof InferenceError) return [502, oaiError(err.message, 'api_error', null, err.code)]
  return [500, oaiError('the node failed to answer; see its log', 'api_error', null, null)]
}
