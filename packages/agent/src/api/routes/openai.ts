import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import type { ChatMessage, ChatRequest, JsonSchema } from '../../inference/types.ts'
import type { RouteModule } from '../server.ts'
import { type ChatBackend, clientGone } from './chat-backend.ts'
import { acceptAnyJsonBody, documentedBody } from './ide-body.ts'
import { type IdeMetrics, unmetered } from './ide-metrics.ts'
import { resolveModelName } from './model-names.ts'
import { openAiCompletionRoutes } from './openai-completions.ts'
import { mapError, oaiError, openAiStream, usageOf } from './openai-sse.ts'
import {
  callMessage,
  parseArguments,
  parseToolReply,
  resultMessage,
  type ToolChoice,
  type ToolSpec,
  toolSchema,
  withTools,
} from './tool-calls.ts'

const ContentPart = z.object({ type: z.literal('text'), text: z.string() })
const ToolCallIn = z.object({
  id: z.string().max(256),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string().min(1).max(128), arguments: z.string().max(256 * 1024) }),
})
const Message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(ContentPart)]).nullish(),
    tool_calls: z.array(ToolCallIn).max(32).optional(),
    tool_call_id: z.string().max(256).optional(),
    name: z.string().max(128).optional(),
  })
  .refine((m) => m.content != null || (m.role === 'assistant' && (m.tool_calls?.length ?? 0) > 0), {
    message: 'content is required unless an assistant message has tool_calls',
    path: ['content'],
  })
  .refine((m) => m.role !== 'tool' || m.tool_call_id !== undefined, {
    message: 'a tool message needs tool_call_id',
    path: ['tool_call_id'],
  })
const Tool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a function name is 1-64 letters, digits, _ or -'),
    description: z.string().max(8192).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
})
const ToolChoiceIn = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
])
const ResponseFormat = z.union([
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z
      .object({ name: z.string(), schema: z.record(z.string(), z.unknown()).optional() })
      .passthrough(),
  }),
])
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
  tools: z.array(Tool).max(64).nullish(),
  tool_choice: ToolChoiceIn.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: ResponseFormat.nullish(),
})
type Body = z.infer<typeof ChatCompletionBody>

/** The conversation with tool turns written as text the model reads. */
function plainMessages(messages: Body['messages']): ChatMessage[] {
  const names = new Map<string, string>()
  return messages.map((m) => {
    const text =
      m.content == null
        ? ''
        : typeof m.content === 'string'
          ? m.content
          : m.content.map((p) => p.text).join('')
    if (m.role === 'tool') return resultMessage(names.get(m.tool_call_id ?? '') ?? m.name, text)
    if (m.role === 'assistant' && m.tool_calls?.length) {
      for (const c of m.tool_calls) names.set(c.id, c.function.name)
      return callMessage(
        m.tool_calls.map((c) => ({ name: c.function.name, arguments: parseArguments(c.function.arguments) })),
        text,
      )
    }
    return { role: m.role === 'developer' ? 'system' : m.role, content: text }
  })
}

function formatOf(f: Body['response_format']): JsonSchema | undefined {
  if (!f || f.type === 'text') return undefined
  if (f.type === 'json_object') return { type: 'object' }
  return f.json_schema.schema ?? { type: 'object' }
}

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
