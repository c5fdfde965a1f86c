import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { ContextOverflowError, InferenceError, ModelNotFoundError } from '../../inference/errors.ts'
import type { ChatRequest } from '../../inference/types.ts'
import type { RouteModule } from '../server.ts'
import { type ChatBackend, clientGone } from './chat-backend.ts'

const ContentPart = z.object({ type: z.literal('text'), text: z.string() })
const Message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(ContentPart)]),
})
const ChatCompletionBody = z.object({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  n: z.literal(1).nullish(),
})

/** OpenAI's error object: `{error: {message, type, param, code}}`. */
function oaiError(message: string, type: string, param: string | null, code: string | null) {
  return { error: { message, type, param, code } }
}

/** OpenAI-compatible `GET /v1/models` and `POST /v1/chat/completions`, streaming or not. */
export const openAiRoutes =
  (backend: ChatBackend): RouteModule =>
  (root) =>
    root.register(async (app) => {
      // Parser failures (malformed JSON, oversize body) answer in OpenAI's error shape here.
      app.setErrorHandler((err: import('fastify').FastifyError, _req, reply) => {
        const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500
        return reply
          .code(status)
          .send(
            oaiError(
              err.message,
              status < 500 ? 'invalid_request_error' : 'api_error',
              null,
              err.code ?? null,
            ),
          )
      })
      app.get('/v1/models', { schema: { summary: 'Models, OpenAI style', tags: ['openai'] } }, async () => {
        const models = await backend.listModels()
        return {
          object: 'list',
          data: models.map((m) => ({ id: m.name, object: 'model', created: 0, owned_by: 'edgecoder' })),
        }
      })

      app.post(
        '/v1/chat/completions',
        { schema: { summary: 'Chat completion, OpenAI style', tags: ['openai'] } },
        async (req, reply) => {
          const parsed = ChatCompletionBody.safeParse(req.body)
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!
            const param = issue.path.join('.')
            return reply
              .code(400)
              .send(oaiError(`${param}: ${issue.message}`, 'invalid_request_error', param, null))
          }
          const b = parsed.data
          const chatReq: ChatRequest = {
            model: b.model,
            messages: b.messages.map((m) => ({
              role: m.role === 'developer' ? 'system' : m.role,
              content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
            })),
            maxTokens: b.max_completion_tokens ?? b.max_tokens ?? undefined,
            temperature: b.temperature ?? undefined,
            topP: b.top_p ?? undefined,
            seed: b.seed ?? undefined,
            stop: b.stop == null ? undefined : Array.isArray(b.stop) ? b.stop : [b.stop],
          }
          const id = `chatcmpl-${randomUUID()}`
          const created = Math.floor(Date.now() / 1000)
          const signal = clientGone(req.raw, reply.raw)

          if (!b.stream) {
            try {
              const r = await backend.chat(chatReq, { signal })
              return {
                id,
                object: 'chat.completion',
                created,
                model: r.model,
                choices: [
                  {
                    index: 0,
                    message: { role: 'assistant', content: r.text },
                    finish_reason: r.finishReason === 'length' ? 'length' : 'stop',
                    logprobs: null,
                  },
                ],
                usage: {
                  prompt_tokens: r.promptTokens,
                  completion_tokens: r.completionTokens,
                  total_tokens: r.promptTokens + r.completionTokens,
                },
              }
            } catch (err) {
              const [status, body] = mapError(err)
              return reply.code(status).send(body)
            }
          }

          // Streaming: the status line is sent with the first event, so errors found before any
          // token still get their proper status; later ones arrive as an error event.
          const res = reply.raw
          reply.hijack()
          let started = false
          const begin = () => {
            if (started) return
            started = true
            res.writeHead(200, {
              'content-type': 'text/event-stream; charset=utf-8',
              'cache-control': 'no-cache',
            })
          }
          const send = (data: unknown) => {
            begin()
            res.write(`data: ${JSON.stringify(data)}\n\n`)
          }
          const chunk = (delta: object, finish: string | null) => ({
            id,
            object: 'chat.completion.chunk',
            created,
            model: b.model,
            choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
          })
          try {
            let first = true
            const r = await backend.chat(chatReq, {
              signal,
              onToken: (text) => {
                if (!text) return
                send(chunk(first ? { role: 'assistant', content: text } : { content: text }, null))
                first = false
              },
            })
            if (first) send(chunk({ role: 'assistant', content: '' }, null))
            send(chunk({}, r.finishReason === 'length' ? 'length' : 'stop'))
            if (b.stream_options?.include_usage) {
              send({
                id,
                object: 'chat.completion.chunk',
                created,
                model: r.model,
                choices: [],
                usage: {
                  prompt_tokens: r.promptTokens,
                  completion_tokens: r.completionTokens,
                  total_tokens: r.promptTokens + r.completionTokens,
                },
              })
            }
            begin()
            res.end('data: [DONE]\n\n')
          } catch (err) {
            const [status, body] = mapError(err)
            if (!started) {
              res.writeHead(status, { 'content-type': 'application/json' })
              res.end(JSON.stringify(body))
            } else {
              res.end(`data: ${JSON.stringify(body)}\n\n`)
            }
          }
        },
      )
    })

function mapError(err: unknown): [number, ReturnType<typeof oaiError>] {
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
  if (err instanceof InferenceError && err.code === 'invalid_request') {
    return [400, oaiError(err.message, 'invalid_request_error', null, null)]
  }
  if (err instanceof InferenceError) return [502, oaiError(err.message, 'api_error', null, err.code)]
  return [500, oaiError('the node failed to answer; see its log', 'api_error', null, null)]
}
