import { Healthz, Readyz, RuntimeHealth, StatusSummary } from '@edgecoder/protocol'
import type { z } from 'zod'
import type { RouteModule } from '../server.ts'

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
      { schema: { summary: 'Readiness: every part started', response: { 200: Readyz, 503: Readyz } } },
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
