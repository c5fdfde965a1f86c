import { Healthz, Readyz, RuntimeHealth, StatusSummary } from '@edgecoder/protocol'
import type { z } from 'zod'
import type { RouteModule } from '../server.ts'

/** Where the model a node loads at start stands; null when it loads none (no model, or a server provider). */
export type ModelLoad = 'loading' | 'loaded' | 'failed' | null

/**
 * Readiness from the node's phase and its parts: ready once every part has started and the model
 * it serves is in memory; a model that failed to load is a failed check, not a node that never
 * becomes ready (it still routes, coordinates and runs code).
 */
export function readiness(
  phase: 'starting' | 'started' | 'stopping',
  store: boolean,
  model: ModelLoad,
): z.infer<typeof Readyz> {
  const checks: Record<string, boolean> = { store, api: true }
  if (model !== null) checks.model = model === 'loaded'
  if (phase !== 'started') return { status: phase, checks }
  return { status: model === 'loading' ? 'loading' : 'ready', checks }
}

/** What the node tells the health routes; assembled by the node from its parts. */
export interface NodeView {
  runtime(): RuntimeHealth
  status(): StatusSummary
  readiness(): z.infer<typeof Readyz>
}

export const healthRoutes =
  (view: NodeView): RouteModule =>
  (app) => {
    app.get(
      '/healthz',
      { schema: { summary: 'Liveness: answers while the process runs', response: { 200: Healthz } } },
      async () => ({ status: 'ok' as const }),
    )
    app.get(
      '/readyz',
      {
        schema: {
          summary: 'Readiness: every part started and the served model loaded',
          response: { 200: Readyz, 503: Readyz },
        },
      },
      async (_req, reply) => {
        const r = view.readiness()
        return reply.code(r.status === 'ready' ? 200 : 503).send(r)
      },
    )
    app.get(
      '/health/runtime',
      { schema: { summary: 'Detailed runtime status', response: { 200: RuntimeHealth } } },
      async () => view.runtime(),
    )
    app.get(
      '/status',
      { schema: { summary: 'Dashboard summary', response: { 200: StatusSummary } } },
      async () => view.status(),
    )
  }
