import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { type ChatBackend, clientGone } from './chat-backend.ts'
import { documentedBody } from './ide-body.ts'
import type { IdeMetrics } from './ide-metrics.ts'
import { mapError, oaiError, openAiStream, usageOf } from './openai-sse.ts'

const CompletionBody = z.object({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  suffix: z.string().nullish(),
  // OpenAI's default: 16 tokens.
  max_tokens: z.number().int().min(1).nullish().default(16),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  n: z.literal(1).nullish(),
  echo: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
})
const EmbeddingsBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(512)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
})

function invalid(reply: import('fastify').FastifyReply, error: z.ZodError) {
  const issue = error.issues[0]!
  const param = issue.path.join('.')
  return reply.code(400).send(oaiError(`${param}: ${issue.message}`, 'invalid_request_error', param, null))
}

/** Little-endian float32, base64: what OpenAI's clients ask for by default. */
function base64Floats(v: number[]): string {
  return Buffer.from(new Float32Array(v).buffer).toString('base64')
}

/** `/v1/completions` (raw text, fill-in-the-middle with `suffix`) and `/v1/embeddings`. */
export function openAiCompletionRoutes(
  app: FastifyInstance,
  metrics: Pick<IdeMetrics, 'metered'>,
  backend: ChatBackend,
  resolve: (name: string) => Promise<string>,
): void {
  app.post(
    '/v1/completions',
    {
      schema: {
        summary: 'Text completion, OpenAI style; suffix fills in the middle',
        tags: ['openai'],
        body: CompletionBody,
      },
      ...documentedBody,
    },
    async (req, reply) => {
      const p = CompletionBody.safeParse(req.body)
      if (!p.success) return invalid(reply, p.error)
      const b = p.data
      const prompt = typeof b.prompt === 'string' ? b.prompt : b.prompt[0]!
      const id = `cmpl-${randomUUID()}`
      const created = Math.floor(Date.now() / 1000)
      const model = await resolve(b.model)
      const chatReq = {
        model,
        messages: [],
        completion: { prompt, suffix: b.suffix ?? undefined },
        maxTokens: b.max_tokens ?? undefined,
        temperature: b.temperature ?? undefined,
        topP: b.top_p ?? undefined,
        seed: b.seed ?? undefined,
        stop: b.stop == null ? undefined : Array.isArray(b.stop) ? b.stop : [b.stop],
      }
      const choice = (text: string, finish: string | null) => ({
        text,
        index: 0,
        logprobs: null,
        finish_reason: finish,
      })
      const signal = clientGone(req.raw, reply.raw)
      if (!b.stream) {
        try {
          const r = await metrics.metered(backend, '/v1/completions').chat(chatReq, { signal })
          const text = b.echo ? prompt + r.text : r.text
          return {
            id,
            object: 'text_completion',
            created,
            model: r.model,
            choices: [choice(text, r.finishReason === 'length' ? 'length' : 'stop')],
            usage: usageOf(r),
          }
        } catch (err) {
          const [status, body] = mapError(err)
          return reply.code(status).send(body)
        }
      }
      const out = openAiStream(reply)
      const event = (c: object, usage?: object) => ({
        id,
        object: 'text_completion',
        created,
        model,
        choices: [c],
        ...(usage ? { usage } : {}),
      })
      try {
        if (b.echo) out.send(event(choice(prompt, null)))
        const r = await metrics.metered(backend, '/v1/completions').chat(chatReq, {
          signal,
          onToken: (t) => {
            if (t) out.send(event(choice(t, null)))
          },
        })
        out.send(event(choice('', r.finishReason === 'length' ? 'length' : 'stop')))
        if (b.stream_options?.include_usage)
          out.send({ id, object: 'text_completion', created, model, choices: [], usage: usageOf(r) })
        out.done()
      } catch (err) {
        out.fail(...mapError(err))
      }
    },
  )

  app.post(
    '/v1/embeddings',
    {
      schema: { summary: 'Embeddings, OpenAI style', tags: ['openai'], body: EmbeddingsBody },
      ...documentedBody,
    },
    async (req, reply) => {
      const p = EmbeddingsBody.safeParse(req.body)
      if (!p.success) return invalid(reply, p.error)
      const b = p.data
      const inputs = typeof b.input === 'string' ? [b.input] : b.input
      try {
        const r = await metrics
          .metered(backend, '/v1/embeddings')
          .embed(await resolve(b.model), inputs, clientGone(req.raw, reply.raw))
        // Matryoshka-style shortening, as OpenAI's `dimensions` does: cut, then renormalise.
        const shaped = r.embeddings.map((v) =>
          b.dimensions && b.dimensions < v.length ? normalise(v.slice(0, b.dimensions)) : v,
        )
        return {
          object: 'list',
          data: shaped.map((v, index) => ({
            object: 'embedding',
            index,
            embedding: b.encoding_format === 'base64' ? base64Floats(v) : v,
          })),
          model: r.model,
          usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
        }
      } catch (err) {
        const [status, body] = mapError(err)
        return reply.code(status).send(body)
      }
    },
  )
}

function normalise(v: number[]): number[] {
  const norm = Math.hypot(...v) || 1
  return v.map((x) => x / norm)
}
