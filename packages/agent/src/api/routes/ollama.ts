import { z } from 'zod'
import type { ChatMessage, ChatRequest, JsonSchema } from '../../inference/index.ts'
import type { RouteModule } from '../server.ts'
import { type ChatBackend, clientGone } from './chat-backend.ts'
import { acceptAnyJsonBody, documentedBody } from './ide-body.ts'
import { type IdeMetrics, unmetered } from './ide-metrics.ts'
import { resolveModelName } from './model-names.ts'
import { answer, finalFields, mapError, ollamaError } from './ollama-answer.ts'
import { type ModelAdmin, ollamaModelRoutes } from './ollama-models.ts'
import { callMessage, resultMessage, type ToolSpec, toolSchema, withTools } from './tool-calls.ts'

const Options = z
  .object({
    temperature: z.number().min(0).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    seed: z.number().int().optional(),
    num_predict: z.number().int().optional(),
    num_ctx: z.number().int().min(1).optional(),
    stop: z.array(z.string()).optional(),
  })
  .passthrough()
const Format = z.union([z.literal('json'), z.literal(''), z.record(z.string(), z.unknown())]).optional()
const ToolCallIn = z.object({
  function: z.object({
    name: z.string().min(1).max(128),
    arguments: z.record(z.string(), z.unknown()).default({}),
  }),
})
const Message = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().nullish(),
  tool_calls: z.array(ToolCallIn).max(32).optional(),
  tool_name: z.string().max(128).optional(),
})
const Tool = z.object({
  type: z.literal('function').default('function'),
  function: z.object({
    name: z.string().min(1).max(128),
    description: z.string().max(8192).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
})
const ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(Message).default([]),
  tools: z.array(Tool).max(64).optional(),
  format: Format,
  stream: z.boolean().optional(),
  options: Options.optional(),
})
const GenerateBody = z.object({
  model: z.string().min(1),
  prompt: z.string().default(''),
  suffix: z.string().optional(),
  system: z.string().optional(),
  raw: z.boolean().optional(),
  format: Format,
  stream: z.boolean().optional(),
  options: Options.optional(),
})
const EmbedBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(512)]),
})
const LegacyEmbedBody = z.object({ model: z.string().min(1), prompt: z.string() })

function toRequest(model: string, o: z.infer<typeof Options> | undefined, format: z.infer<typeof Format>) {
  return {
    model,
    // Ollama's -1 and -2 mean "until done" / "fill the context": no limit here either.
    maxTokens: o?.num_predict !== undefined && o.num_predict > 0 ? o.num_predict : undefined,
    temperature: o?.temperature,
    topP: o?.top_p,
    seed: o?.seed,
    stop: o?.stop?.filter((s) => s !== ''),
    contextSize: o?.num_ctx,
    format: format === 'json' ? { type: 'object' } : format === '' ? undefined : (format as JsonSchema),
  } satisfies Omit<ChatRequest, 'messages'>
}

/** The conversation with tool turns written as text the model reads. */
function plainMessages(messages: z.infer<typeof Message>[]): ChatMessage[] {
  return messages.map((m) => {
    if (m.role === 'tool') return resultMessage(m.tool_name, m.content ?? '')
    if (m.role === 'assistant' && m.tool_calls?.length)
      return callMessage(
        m.tool_calls.map((c) => c.function),
        m.content,
      )
    return { role: m.role, content: m.content ?? '' }
  })
}

const now = () => new Date().toISOString()

/**
 * Ollama-compatible API: chat (with tools), generate (raw, fill-in-the-middle, load), embed,
 * and the model routes of {@link ollamaModelRoutes}. Answers stream as NDJSON by default.
 */
export const ollamaRoutes =
  (backend: ChatBackend, opts: { admin?: ModelAdmin; metrics?: IdeMetrics } = {}): RouteModule =>
  (root) =>
    root.register(async (app) => {
      // Parser failures (malformed JSON, oversize body) answer in Ollama's error shape here.
      app.setErrorHandler((err: import('fastify').FastifyError, _req, reply) => {
        const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500
        return reply.code(status).send(ollamaError(err.message))
      })
      acceptAnyJsonBody(app)
      ollamaModelRoutes(app, backend, opts.admin)
      const on = (endpoint: string) => (opts.metrics ?? unmetered).metered(backend, endpoint)
      const resolve = async (name: string) =>
        resolveModelName(
          name,
          (await backend.listModels().catch(() => [])).map((m) => m.name),
        )
      const load = async (
        endpoint: string,
        reply: import('fastify').FastifyReply,
        name: string,
        extra: object,
      ) => {
        try {
          const model = await on(endpoint).load(name)
          return { model, created_at: now(), ...extra, done: true, done_reason: 'load' }
        } catch (err) {
          const [status, msg] = mapError(err)
          return reply.code(status).send(ollamaError(msg))
        }
      }

      app.post(
        '/api/chat',
        {
          schema: {
            summary: 'Chat, Ollama style (NDJSON stream), with tools',
            tags: ['ollama'],
            body: ChatBody,
          },
          ...documentedBody,
        },
        async (req, reply) => {
          const p = ChatBody.safeParse(req.body)
          if (!p.success) return reply.code(400).send(ollamaError(issueText(p.error)))
          const b = p.data
          const model = await resolve(b.model)
          if (b.messages.length === 0)
            return load('/api/chat', reply, model, { message: { role: 'assistant', content: '' } })
          const tools: ToolSpec[] = (b.tools ?? []).map((t) => t.function)
          const format = toolSchema(tools, 'auto')
          const chatReq: ChatRequest = {
            ...toRequest(model, b.options, b.format),
            messages: withTools(plainMessages(b.messages), tools, 'auto'),
            ...(format ? { format } : {}),
          }
          return answer(
            req,
            reply,
            on('/api/chat'),
            chatReq,
            { stream: b.stream ?? true, tools: format !== undefined },
            {
              piece: (content, m) => ({
                model: m,
                created_at: now(),
                message: { role: 'assistant', content },
                done: false,
              }),
              calls: (calls, m) => ({
                model: m,
                created_at: now(),
                message: { role: 'assistant', content: '', tool_calls: ollamaCalls(calls) },
                done: false,
              }),
              final: (r, content, calls) => ({
                model: r.model,
                created_at: now(),
                message: {
                  role: 'assistant',
                  content,
                  ...(calls.length > 0 ? { tool_calls: ollamaCalls(calls) } : {}),
                },
                ...finalFields(r, calls.length > 0),
              }),
            },
          )
        },
      )

      app.post(
        '/api/generate',
        {
          schema: {
            summary: 'Generate, Ollama style: raw, fill-in-the-middle, load',
            tags: ['ollama'],
            body: GenerateBody,
          },
          ...documentedBody,
        },
        async (req, reply) => {
          const p = GenerateBody.safeParse(req.body)
          if (!p.success) return reply.code(400).send(ollamaError(issueText(p.error)))
          const b = p.data
          const model = await resolve(b.model)
          // Ollama's "load the model" call: no prompt, nothing to generate.
          if (b.prompt === '' && !b.suffix) return load('/api/generate', reply, model, { response: '' })
          const fim = b.raw === true || b.suffix !== undefined
          const chatReq: ChatRequest = {
            ...toRequest(model, b.options, b.format),
            messages: fim
              ? []
              : [
                  ...(b.system ? [{ role: 'system' as const, content: b.system }] : []),
                  { role: 'user', content: b.prompt },
                ],
            ...(fim ? { completion: { prompt: b.prompt, suffix: b.suffix } } : {}),
          }
          return answer(
            req,
            reply,
            on('/api/generate'),
            chatReq,
            { stream: b.stream ?? true, tools: false },
            {
              piece: (response, m) => ({ model: m, created_at: now(), response, done: false }),
              final: (r, response) => ({ model: r.model, created_at: now(), response, ...finalFields(r) }),
            },
          )
        },
      )

      const embed = async (
        endpoint: string,
        model: string,
        input: string[],
        req: import('fastify').FastifyRequest,
        reply: import('fastify').FastifyReply,
      ) => {
        const t0 = performance.now()
        const r = await on(endpoint).embed(await resolve(model), input, clientGone(req.raw, reply.raw))
        return { r, totalNs: Math.round((performance.now() - t0) * 1e6) }
      }
      app.post(
        '/api/embed',
        {
          schema: { summary: 'Embeddings, Ollama style', tags: ['ollama'], body: EmbedBody },
          ...documentedBody,
        },
        async (req, reply) => {
          const p = EmbedBody.safeParse(req.body)
          if (!p.success) return reply.code(400).send(ollamaError(issueText(p.error)))
          try {
            const input = typeof p.data.input === 'string' ? [p.data.input] : p.data.input
            const { r, totalNs } = await embed('/api/embed', p.data.model, input, req, reply)
            return {
              model: r.model,
              embeddings: r.embeddings,
              total_duration: totalNs,
              load_duration: 0,
              prompt_eval_count: r.promptTokens,
            }
          } catch (err) {
            const [status, msg] = mapError(err)
            return reply.code(status).send(ollamaError(msg))
          }
        },
      )
      app.post(
        '/api/embeddings',
        { schema: { summary: "One embedding, Ollama's older route", tags: ['ollama'] } },
        async (req, reply) => {
          const p = LegacyEmbedBody.safeParse(req.body)
          if (!p.success) return reply.code(400).send(ollamaError(issueText(p.error)))
          try {
            const { r } = await embed('/api/embeddings', p.data.model, [p.data.prompt], req, reply)
            return { embedding: r.embeddings[0] }
          } catch (err) {
            const [status, msg] = mapError(err)
            return reply.code(status).send(ollamaError(msg))
          }
        },
      )
    })

function ollamaCalls(calls: { id: string; name: string; arguments: Record<string, unknown> }[]) {
  return calls.map((c, index) => ({ id: c.id, function: { index, name: c.name, arguments: c.arguments } }))
}

export function issueText(e: z.ZodError): string {
  const i = e.issues[0]!
  return `${i.path.join('.') || 'body'}: ${i.message}`
}
