import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { ModelManager } from '../../inference/index.ts'
import {
  InferenceError,
  ModelNotFoundError,
  PullError,
  type PullProgressEvent,
} from '../../inference/index.ts'
import { clientGone } from './chat-backend.ts'
import { documentedBody } from './ide-body.ts'
import { resolveModelName } from './model-names.ts'
import { ollamaError } from './ollama-answer.ts'
import type { ModelAdmin } from './ollama-models.ts'

const PullBody = z.object({
  model: z.string().min(1).max(4096).optional(),
  name: z.string().min(1).max(4096).optional(),
  stream: z.boolean().optional(),
})
const DeleteBody = z.object({ model: z.string().min(1).optional(), name: z.string().min(1).optional() })
const CopyBody = z.object({ source: z.string().min(1), destination: z.string().min(1) })

function statusOf(err: unknown): number {
  if (err instanceof ModelNotFoundError) return 404
  if (err instanceof PullError) return err.code === 'source_unreachable' ? 502 : 400
  if (err instanceof InferenceError) return 502
  return 500
}

/** A pull target: a URL or file becomes the source; a name with a tag is stored without the colon. */
function pullRequest(target: string) {
  if (/^https?:\/\//.test(target) || target.startsWith('/')) return { source: target }
  return { name: target.replace(/:latest$/, '').replace(':', '-') }
}

/**
 * Ollama's pull lines for a progress event: the layer's bytes so far, and the verify step once
 * the transfer is complete (the final `success` is the route's to send).
 */
function pullLines(p: PullProgressEvent): object[] {
  const layer = {
    status: 'pulling model',
    digest: 'model',
    total: p.totalBytes ?? 0,
    completed: p.completedBytes,
  }
  if (p.status === 'downloading') return [layer]
  if (p.status === 'verifying') return [layer, { status: 'verifying sha256 digest' }]
  return []
}

/** `/api/pull`, `/api/delete` and `/api/copy` on this node's model manager. */
export function ollamaAdmin(models: ModelManager): ModelAdmin {
  return {
    register(app: FastifyInstance) {
      app.post(
        '/api/pull',
        {
          schema: {
            summary: 'Pull a model, Ollama style (NDJSON progress)',
            tags: ['ollama'],
            body: PullBody,
          },
          ...documentedBody,
        },
        async (req, reply) => {
          const p = PullBody.safeParse(req.body)
          const target = p.success ? (p.data.model ?? p.data.name) : undefined
          if (!p.success || target === undefined)
            return reply.code(400).send(ollamaError('model is required'))
          const stream = p.data.stream ?? true
          const signal = clientGone(req.raw, reply.raw)
          const res = reply.raw
          let started = false
          const write = (line: object) => {
            if (!stream) return
            if (!started) {
              started = true
              reply.hijack()
              res.writeHead(200, { 'content-type': 'application/x-ndjson' })
            }
            res.write(`${JSON.stringify(line)}\n`)
          }
          try {
            write({ status: 'pulling manifest' })
            await models.pull(
              pullRequest(target),
              (ev) => {
                for (const line of pullLines(ev)) write(line)
              },
              signal,
            )
            write({ status: 'writing manifest' })
            if (!stream) return { status: 'success' }
            write({ status: 'success' })
            res.end()
          } catch (err) {
            const message = err instanceof Error ? err.message : 'pull failed'
            if (!started) return reply.code(statusOf(err)).send(ollamaError(message))
            res.end(`${JSON.stringify(ollamaError(message))}\n`)
          }
        },
      )

      app.delete(
        '/api/delete',
        {
          schema: { summary: 'Remove a model, Ollama style', tags: ['ollama'], body: DeleteBody },
          ...documentedBody,
        },
        async (req, reply) => {
          const p = DeleteBody.safeParse(req.body)
          const target = p.success ? (p.data.model ?? p.data.name) : undefined
          if (target === undefined) return reply.code(400).send(ollamaError('model is required'))
          try {
            const names = (await models.listModels()).map((m) => m.name)
            await models.remove(resolveModelName(target, names))
            return reply.code(200).send()
          } catch (err) {
            return reply.code(statusOf(err)).send(ollamaError((err as Error).message))
          }
        },
      )

      app.post(
        '/api/copy',
        {
          schema: {
            summary: 'Copy a model under a new name, Ollama style',
            tags: ['ollama'],
            body: CopyBody,
          },
          ...documentedBody,
        },
        async (req, reply) => {
          const p = CopyBody.safeParse(req.body)
          if (!p.success) return reply.code(400).send(ollamaError('source and destination are required'))
          try {
            const names = (await models.listModels()).map((m) => m.name)
            const dest = p.data.destination.replace(/:latest$/, '').replace(':', '-')
            await models.copy(resolveModelName(p.data.source, names), dest)
            return reply.code(200).send()
          } catch (err) {
            return reply.code(statusOf(err)).send(ollamaError((err as Error).message))
          }
        },
      )
    },
  }
}
