import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import type { ChatRequest } from '../../inference/index.ts'
import type { RouteModule } from '../server.ts'
import { type ChatBackend, clientGone } from './chat-backend.ts'
import { acceptAnyJsonBody, documentedBody } from './ide-body.ts'
import { type IdeMetrics, unmetered } from './ide-metrics.ts'
import { resolveModelName } from './model-names.ts'
import { ChatCompletionBody, formatOf, plainMessages } from './openai-chat-body.ts'
import { openAiCompletionRoutes } from './openai-completions.ts'
import { mapError, oaiError, openAiStream, usageOf } from './openai-sse.ts'
import { parseToolReply, type ToolChoice, type ToolSpec, toolSchema, withTools } from './tool-calls.ts'

function badRequest(message: string, param: string | null) {
  return oaiError(message, 'invalid_request_error', param, null)
}

/** OpenAI-compatible models and chat completions (with tools), plus the routes of openai-completions.ts. */
export const openAiRoutes =
  (backend: ChatBackend, metrics: Pick<IdeMetrics, 'metered'> = unmetered): RouteModule =>
  (root) =>
    root.register(async (app) => {
      // Parser failures (malformed JSON, oversize body) answer in OpenAI's error shape here.
      app.setErrorHandler((err: import('fastify').FastifyError, _req, reply) => {
        const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500
        const type = status < 500 ? 'invalid_request_error' : 'api_error'
        return reply.code(status).send(oaiError(err.message, type, null, err.code ?? null))
      })
      acceptAnyJsonBody(app)
      const resolve = async (name: string) =>
        resolveModelName(
          name,
          (await backend.listModels().catch(() => [])).map((m) => m.name),
        )
      const modelObject = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'edgecoder' })

      app.get('/v1/models', { schema: { summary: 'Models, OpenAI style', tags: ['openai'] } }, async () => ({
        object: 'list',
        data: (await backend.listModels()).map((m) => modelObject(m.name)),
      }))
      app.get(
        '/v1/models/:id',
        {
          schema: {
            summary: 'One model, OpenAI style',
            tags: ['openai'],
            params: z.object({ id: z.string().min(1).max(256) }),
          },
        },
        async (req, reply) => {
          const id = (req.params as { id: string }).id
          const names = (await backend.listModels()).map((m) => m.name)
          const found = resolveModelName(id, names)
          if (!names.includes(found))
            return reply
              .code(404)
              .send(
                oaiError(
                  `The model \`${id}\` does not exist`,
                  'invalid_request_error',
                  'model',
                  'model_not_found',
                ),
              )
          return modelObject(found)
        },
      )
      openAiCompletionRoutes(app, metrics, backend, resolve)

      app.post(
        '/v1/chat/completions',
        {
          schema: {
            summary: 'Chat completion, OpenAI style, with tools',
            tags: ['openai'],
            body: ChatCompletionBody,
          },
          ...documentedBody,
        },
        async (req, reply) => {
          const parsed = ChatCompletionBody.safeParse(req.body)
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!
            const param = issue.path.join('.')
            return reply.code(400).send(badRequest(`${param}: ${issue.message}`, param))
          }
          const b = parsed.data
          const tools: ToolSpec[] = (b.tools ?? []).map((t) => t.function)
          const tc = b.tool_choice ?? 'auto'
          const choice: ToolChoice = typeof tc === 'string' ? tc : { name: tc.function.name }
          if (typeof choice === 'object' && !tools.some((t) => t.name === choice.name))
            return reply
              .code(400)
              .send(badRequest(`tool_choice names ${choice.name}, which is not in tools`, 'tool_choice'))
          if (choice === 'required' && tools.length === 0)
            return reply
              .code(400)
              .send(badRequest('tool_choice is required but no tools are given', 'tool_choice'))
          const toolFormat = toolSchema(tools, choice, b.parallel_tool_calls !== false)
          const chatReq: ChatRequest = {
            model: await resolve(b.model),
            messages: withTools(plainMessages(b.messages), tools, choice),
            maxTokens: b.max_completion_tokens ?? b.max_tokens ?? undefined,
            temperature: b.temperature ?? undefined,
            topP: b.top_p ?? undefined,
            seed: b.seed ?? undefined,
            stop: b.stop == null ? undefined : Array.isArray(b.stop) ? b.stop : [b.stop],
            format: toolFormat ?? formatOf(b.response_format),
          }
          const id = `chatcmpl-${randomUUID()}`
          const created = Math.floor(Date.now() / 1000)
          const signal = clientGone(req.raw, reply.raw)
          const withTools_ = toolFormat !== undefined

          if (!b.stream) {
            try {
              const r = await metrics.metered(backend, '/v1/chat/completions').chat(chatReq, { signal })
              const { content, calls } = withTools_ ? parseToolReply(r.text) : { content: r.text, calls: [] }
              return {
                id,
                object: 'chat.completion',
                created,
                model: r.model,
                choices: [
                  {
                    index: 0,
                    message: {
                      role: 'assistant',
                      content,
                      ...(calls.length > 0 ? { tool_calls: calls.map(oaiCall) } : {}),
                    },
                    finish_reason:
                      calls.length > 0 ? 'tool_calls' : r.finishReason === 'length' ? 'length' : 'stop',
                    logprobs: null,
                  },
                ],
                usage: usageOf(r),
              }
            } catch (err) {
              const [status, body] = mapError(err)
              return reply.code(status).send(body)
            }
          }

          const out = openAiStream(reply)
          const chunk = (delta: object, finish: string | null) => ({
            id,
            object: 'chat.completion.chunk',
            created,
            model: chatReq.model,
            choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
          })
          try {
            let first = true
            const r = await metrics.metered(backend, '/v1/chat/completions').chat(chatReq, {
              signal,
              // With tools the reply is JSON that is read once complete.
              onToken: withTools_
                ? undefined
                : (text) => {
                    if (!text) return
                    out.send(chunk(first ? { role: 'assistant', content: text } : { content: text }, null))
                    first = false
                  },
            })
            let finish = r.finishReason === 'length' ? 'length' : 'stop'
            if (withTools_) {
              const { content, calls } = parseToolReply(r.text)
              if (calls.length > 0) {
                finish = 'tool_calls'
                // Name first, then the arguments, as OpenAI streams them.
                out.send(
                  chunk(
                    {
                      role: 'assistant',
                      content: null,
                      tool_calls: calls.map((c, index) => ({
                        index,
                        ...oaiCall(c),
                        function: { name: c.name, arguments: '' },
                      })),
                    },
                    null,
                  ),
                )
                for (const [index, c] of calls.entries())
                  out.send(
                    chunk(
                      { tool_calls: [{ index, function: { arguments: JSON.stringify(c.arguments) } }] },
                      null,
                    ),
                  )
                first = false
              } else if (content) {
                out.send(chunk({ role: 'assistant', content }, null))
                first = false
              }
            }
            if (first) out.send(chunk({ role: 'assistant', content: '' }, null))
            out.send(chunk({}, finish))
            if (b.stream_options?.include_usage)
              out.send({
                id,
                object: 'chat.completion.chunk',
                created,
                model: r.model,
                choices: [],
                usage: usageOf(r),
              })
            out.done()
          } catch (err) {
            out.fail(...mapError(err))
          }
        },
      )
    })

function oaiCall(c: { id: string; name: string; arguments: Record<string, unknown> }) {
  return { id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }
}
