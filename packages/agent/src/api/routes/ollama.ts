import { z } from 'zod'
import { ContextOverflowError, InferenceError, ModelNotFoundError } from '../../inference/errors.ts'
import type { ChatMessage, ChatRequest, ChatResult } from '../../inference/types.ts'
import { VERSION } from '../../version.ts'
import type { RouteModule } from '../server.ts'
import { type ChatBackend, clientGone } from './chat-backend.ts'

const Options = z
  .object({
    temperature: z.number().min(0).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    seed: z.number().int().optional(),
    num_predict: z.number().int().optional(),
    stop: z.array(z.string()).optional(),
  })
  .passthrough()
const ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })).min(1),
  stream: z.boolean().optional(),
  options: Options.optional(),
})
const GenerateBody = z.object({
  model: z.string().min(1),
  prompt: z.string(),
  system: z.string().optional(),
  stream: z.boolean().optional(),
  options: Options.optional(),
})

const ollamaError = (message: string) => ({ error: message })

function toRequest(
  model: string,
  messages: ChatMessage[],
  o: z.infer<typeof Options> | undefined,
): ChatRequest {
  return {
    model,
    messages,
    // Ollama's -1 and -2 mean "until done" / "fill the context": no limit here either.
    maxTokens: o?.num_predict !== undefined && o.num_predict > 0 ? o.num_predict : undefined,
    temperature: o?.temperature,
    topP: o?.top_p,
    seed: o?.seed,
    stop: o?.stop?.filter((s) => s !== ''),
  }
}

function finalFields(r: ChatResult) {
  const evalNs = r.tokensPerSecond > 0 ? Math.round((r.completionTokens / r.tokensPerSecond) * 1e9) : 0
  return {
    done: true,
    done_reason: r.finishReason === 'length' ? 'length' : 'stop',
    total_duration: Math.round(r.durationMs * 1e6),
    prompt_eval_count: r.promptTokens,
    eval_count: r.completionTokens,
    eval_duration: evalNs,
  }
}

/** Ollama-compatible `/api/tags`, `/api/chat`, `/api/generate` (NDJSON), plus version, show and ps. */
export const ollamaRoutes =
  (backend: ChatBackend): RouteModule =>
  (root) =>
    root.register(async (app) => {
      // Parser failures (malformed JSON, oversize body) answer in Ollama's error shape here.
      app.setErrorHandler((err: import('fastify').FastifyError, _req, reply) => {
        const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500
        return reply.code(status).send(ollamaError(err.message))
      })
      app.get('/api/version', { schema: { tags: ['ollama'] } }, async () => ({
        version: `0.0.0-edgecoder-${VERSION}`,
      }))

      app.get('/api/tags', { schema: { summary: 'Models, Ollama style', tags: ['ollama'] } }, async () => ({
        models: (await backend.listModels()).map((m) => ({
          name: m.name,
          model: m.name,
          modified_at: new Date(0).toISOString(),
          size: m.sizeBytes,
          digest: '',
          details: {
            format: 'gguf',
            family: m.family ?? '',
            families: m.family ? [m.family] : [],
            parameter_size: m.parameters ?? '',
            quantization_level: m.quantization ?? '',
          },
        })),
      }))

      app.get('/api/ps', { schema: { tags: ['ollama'] } }, async () => ({ models: [] }))

      app.post('/api/show', { schema: { tags: ['ollama'] } }, async (req, reply) => {
        const name =
          (req.body as { model?: unknown; name?: unknown } | null)?.model ??
          (req.body as { name?: unknown })?.name
        if (typeof name !== 'string') return reply.code(400).send(ollamaError('model is required'))
        const m = (await backend.listModels()).find((x) => x.name === name)
        if (!m) return reply.code(404).send(ollamaError(`model '${name}' not found`))
        return {
          details: {
            format: 'gguf',
            family: m.family ?? '',
            parameter_size: m.parameters ?? '',
            quantization_level: m.quantization ?? '',
          },
          model_info: {
            'general.architecture': m.family ?? '',
            [`${m.family ?? 'model'}.context_length`]: m.contextLength,
          },
        }
      })

      app.post(
        '/api/chat',
        { schema: { summary: 'Chat, Ollama style (NDJSON stream)', tags: ['ollama'] } },
        async (req, reply) => {
          const p = ChatBody.safeParse(req.body)
          if (!p.success) return reply.code(400).send(ollamaError(issueText(p.error)))
          const b = p.data
          return answer(
            req,
            reply,
            backend,
            toRequest(b.model, b.messages, b.options),
            b.stream ?? true,
            (piece, model) => ({
              model,
              created_at: new Date().toISOString(),
              message: { role: 'assistant', content: piece },
              done: false,
            }),
            (r) => ({
              model: r.model,
              created_at: new Date().toISOString(),
              message: { role: 'assistant', content: r.text },
              ...finalFields(r),
            }),
          )
        },
      )

      app.post(
        '/api/generate',
        { schema: { summary: 'Generate, Ollama style (NDJSON stream)', tags: ['ollama'] } },
        async (req, reply) => {
          const p = GenerateBody.safeParse(req.body)
          if (!p.success) return reply.code(400).send(ollamaError(issueText(p.error)))
          const b = p.data
          const messages: ChatMessage[] = [
            ...(b.system ? [{ role: 'system' as const, content: b.system }] : []),
            { role: 'user', content: b.prompt },
          ]
          return answer(
            req,
            reply,
            backend,
            toRequest(b.model, messages, b.options),
            b.stream ?? true,
            (piece, model) => ({
              model,
              created_at: new Date().toISOString(),
              response: piece,
              done: false,
            }),
            (r) => ({
              model: r.model,
              created_at: new Date().toISOString(),
              response: r.text,
              ...finalFields(r),
            }),
          )
        },
      )
    })

async function answer(
  req: import('fastify').FastifyRequest,
  reply: import('fastify').FastifyReply,
  backend: ChatBackend,
  chatReq: ChatRequest,
  stream: boolean,
  piece: (text: string, model: string) => object,
  final: (r: ChatResult) => object,
) {
  const signal = clientGone(req.raw, reply.raw)
  if (!stream) {
    try {
      const r = await backend.chat(chatReq, { signal })
      return final(r)
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
      onToken: (t) => {
        if (t) write(piece(t, chatReq.model ?? ''))
      },
    })
    // The final line of a stream carries no text: the pieces already did.
    const last = final(r) as Record<string, unknown>
    if ('message' in last) last.message = { role: 'assistant', content: '' }
    if ('response' in last) last.response = ''
    write(last)
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

function mapError(err: unknown): [number, string] {
  if (err instanceof ModelNotFoundError) return [404, `model '${err.model}' not found`]
  // A peer's overflow arrives by its code alone.
  if (
    err instanceof ContextOverflowError ||
    (err instanceof InferenceError && err.code === 'context_overflow')
  )
    return [400, err.message]
  if (err instanceof InferenceError && err.code === 'invalid_request') return [400, err.message]
  if (err instanceof InferenceError) return [502, err.message]
  return [500, 'the node failed to answer; see its log']
}

function issueText(e: z.ZodError): string {
  const i = e.issues[0]!
  return `${i.path.join('.') || 'body'}: ${i.message}`
}
