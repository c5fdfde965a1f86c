import type { EventBus, NodeEvent } from '../../events.ts'
import type { RouteModule } from '../server.ts'
import { openSse } from '../sse.ts'

/** `GET /events`: one SSE stream of everything the UI shows live, starting with a `hello` snapshot. */
export const eventRoutes =
  (bus: EventBus, hello: () => unknown): RouteModule =>
  (app) => {
    app.get(
      '/events',
      { schema: { summary: 'Server-sent events: status, settings, peers, tasks' } },
      async (req, reply) => {
        const sse = openSse(req, reply)
        sse.send('hello', hello())
        const forward = (e: NodeEvent) => sse.send(e.type, e.data)
        bus.on('event', forward)
        sse.onClose(() => bus.off('event', forward))
      },
    )
  }
