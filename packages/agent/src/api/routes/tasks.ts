import {
  ErrorBody,
  TaskAccepted,
  type TaskEvent,
  TaskList,
  TaskListQuery,
  TaskRecord,
  TaskSpec,
} from '@edgecoder/protocol'
import { z } from 'zod'
import {
  QueueFullError,
  SubmissionRefusedError,
  type TaskEngine,
  TaskFinishedError,
  TaskNotFoundError,
} from '../../tasks/index.ts'
import { ApiError, notFound } from '../errors.ts'
import { errorBody, type RouteModule } from '../server.ts'
import { openSse } from '../sse.ts'

const TaskParams = z.object({ id: z.string().min(1).max(128) })

/** Maps the task engine's errors onto the API's status codes. */
function apiError(err: unknown, id?: string): unknown {
  if (err instanceof TaskNotFoundError) return notFound(`task ${id}`)
  if (err instanceof TaskFinishedError) return new ApiError(409, 'task_finished', err.message)
  if (err instanceof SubmissionRefusedError) return new ApiError(403, 'submission_refused', err.message)
  return err
}

/** `POST/GET /tasks`, `GET/DELETE /tasks/:id` and the per-task event stream. */
export const taskRoutes =
  (engine: TaskEngine): RouteModule =>
  (app) => {
    app.post(
      '/tasks',
      {
        schema: {
          summary: 'Submit a task (code, run or chat); it is persisted as queued before the answer',
          body: TaskSpec,
          response: { 202: TaskAccepted, 403: ErrorBody, 429: ErrorBody },
        },
      },
      async (req, reply) => {
        try {
          const task = engine.submit(req.body)
          return reply.code(202).send({ id: task.id, status: task.status })
        } catch (err) {
          if (err instanceof QueueFullError) {
            return reply
              .code(429)
              .header('retry-after', String(err.retryAfterSec))
              .send(errorBody('queue_full', err.message, { retryAfterSec: err.retryAfterSec }))
          }
          throw apiError(err)
        }
      },
    )

    app.get(
      '/tasks',
      {
        schema: {
          summary: 'Tasks, newest first; filter by status and submitter, page with limit and cursor',
          querystring: TaskListQuery,
          response: { 200: TaskList },
        },
      },
      async (req) => engine.list(req.query),
    )

    app.get(
      '/tasks/:id',
      {
        schema: {
          summary: 'One task with its result',
          params: TaskParams,
          response: { 200: TaskRecord, 404: ErrorBody },
        },
      },
      async (req) => {
        try {
          return engine.get(req.params.id)
        } catch (err) {
          throw apiError(err, req.params.id)
        }
      },
    )

    app.delete(
      '/tasks/:id',
      {
        schema: {
          summary: 'Cancel a task, waiting or running (the model and the sandbox are stopped)',
          params: TaskParams,
          response: { 200: TaskRecord, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (req) => {
        const gone = new AbortController()
        req.raw.once('close', () => gone.abort())
        try {
          return await engine.cancel(req.params.id, gone.signal)
        } catch (err) {
          throw apiError(err, req.params.id)
        }
      },
    )

    app.get(
      '/tasks/:id/events',
      {
        schema: {
          summary:
            'Server-sent events of one task (queued, started, token, attempt, test-result, done): what already happened, then live; ends after done',
          params: TaskParams,
        },
      },
      async (req, reply) => {
        const id = req.params.id
        try {
          engine.get(id)
        } catch (err) {
          throw apiError(err, id)
        }
        const sse = openSse(req, reply)
        // A reconnecting client names the last event it saw; it gets only what came after.
        let last = Number(req.headers['last-event-id']) || 0
        const send = (ev: TaskEvent) => {
          if (ev.seq <= last || sse.closed) return
          last = ev.seq
          sse.send(ev.type, ev, String(ev.seq))
          if (ev.type === 'done') sse.close()
        }
        // Subscribe before reading the history, holding live events back, so none falls in between.
        let held: TaskEvent[] | null = []
        const unsubscribe = engine.events.subscribe(id, (ev) => (held ? held.push(ev) : send(ev)))
        sse.onClose(unsubscribe)
        for (const ev of engine.events.replay(id)) send(ev)
        const pending = held
        held = null
        for (const ev of pending) send(ev)
      },
    )
  }
