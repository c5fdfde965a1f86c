import type { NodeMetrics } from '../../metrics.ts'
import type { RouteModule } from '../server.ts'

export const metricsRoutes =
  (metrics: NodeMetrics, refresh: () => void): RouteModule =>
  (app) => {
    app.get('/metrics', { schema: { summary: 'Prometheus metrics (edgecoder_*)' } }, async (_req, reply) => {
      refresh()
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
    })
  }
