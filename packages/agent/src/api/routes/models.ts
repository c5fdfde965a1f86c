import { z } from 'zod'
import type { ModelManager } from '../../inference/index.ts'
import {
  InferenceError,
  ModelNotFoundError,
  PullError,
  type PullProgressEvent,
} from '../../inference/index.ts'
import { ApiError } from '../errors.ts'
import type { RouteModule } from '../server.ts'
import { clientGone } from './chat-backend.ts'

const ModelName = z.string().min(1).max(200)
const PullBody = z
  .object({
    name: ModelName.optional(),
    source: z.string().min(1).max(4096).optional(),
    sizeBytes: z.number().int().positive().optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'sha256 is 64 hex digits')
      .optional(),
  })
  .strict()
  .refine((b) => b.name !== undefined || b.source !== undefined, { message: 'give a name or a source' })

/** Maps model-manager failures to API errors: unknown model 404, bad pull 400/422. */
function toApiError(err: unknown): unknown {
  if (err instanceof ModelNotFoundError)
    return new ApiError(404, 'model_not_found', err.message, { available: err.available })
  if (err instanceof PullError) {
    const status = err.code === 'cancelled' ? 409 : err.code === 'source_unreachable' ? 502 : 422
    return new ApiError(status, err.code, err.message)
  }
  if (err instanceof InferenceError) return new ApiError(502, err.code, err.message)
  return err
}

/** The Model Manager panel's routes: list, status, swap, pull (streamed progress), remove. */
export const modelRoutes =
  (models: ModelManager): RouteModule =>
  (app) => {
    app.get('/model/list', { schema: { summary: 'Models this node can serve' } }, async () => {
      try {
        return { provider: models.provider.name, models: await models.list() }
      } catch (err) {
        throw toApiError(err)
      }
    })

    app.get(
      '/model/status',
      { schema: { summary: 'Active model, loaded or not, context, memory, last tokens/s' } },
      async () => models.status(),
    )

    app.post(
      '/model/swap',
      {
        schema: {
          summary: 'Make a model active; tasks in flight finish on the old one',
          body: z.object({ model: ModelName }).strict(),
        },
      },
      async (req) => {
        try {
          return { active: await models.swap(req.body.model) }
        } catch (err) {
          throw toApiError(err)
        }
      },
    )

    app.post(
      '/model/pull',
      {
        schema: {
          summary:
            'Pull a model; progress streams as NDJSON (or SSE with Accept: text/event-stream). A second pull of the same model joins the first.',
          body: PullBody,
        },
      },
      async (req, reply) => {
        const sse = (req.headers.accept ?? '').includes('text/event-stream')
        const signal = clientGone(req.raw, reply.raw)
        let started = false
        const res = reply.raw
        const write = (event: string, data: object) => {
          if (!started) {
            started = true
            reply.hijack()
            res.writeHead(200, {
              'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
            })
          }
          res.write(sse ? `event: ${event}\ndata: ${JSON.stringify(data)}\n\n` : `${JSON.stringify(data)}\n`)
        }
        let done: Promise<{ name: string }>
        let last: PullProgressEvent | null = null
        try {
          done = models.pull(
            req.body,
            (p: PullProgressEvent) => {
              last = p
              write('progress', p)
            },
            signal,
          )
        } catch (err) {
          throw toApiError(err)
        }
        try {
          const { name } = await done
          write('done', {
            ...(last as PullProgressEvent | null),
            status: 'success',
            fraction: 1,
            name,
            done: true,
          })
          res.end()
        } catch (err) {
          const e = toApiError(err)
          if (!started && e instanceof ApiError) throw e
          const body =
            e instanceof ApiError
              ? { error: { code: e.code, message: e.message } }
              : { error: { code: 'internal', message: 'pull failed' } }
          write('error', body)
          res.end()
        }
      },
    )

    app.delete(
      '/model/pull/:name',
      { schema: { summary: 'Cancel a pull in progress', params: z.object({ name: ModelName }) } },
      async (req) => {
        if (!models.cancelPull(req.params.name))
          throw new ApiError(404, 'not_found', `no pull of ${req.params.name} in progress`)
        return { cancelled: req.params.name }
      },
    )

    app.delete(
      '/model/:name',
      { schema: { summary: 'Remove a model', params: z.object({ name: ModelName }) } },
      async (req) => {
        try {
          await models.remove(req.params.name)
          return { removed: req.params.name }
        } catch (err) {
          throw toApiError(err)
        }
      },
    )
  }
