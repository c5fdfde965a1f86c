import type { EventBus, NodeEvent } from '../../events.ts'
import type { RouteModule } from '../server.ts'
import { openSse } from '../sse.ts'

/** Recent events kept for clients that reconnect with `Last-Event-ID`. */
const REPLAY_EVENTS = 512

/**
 * `GET /events`: one SSE stream of everything the UI shows live. A new client starts with a
 * `hello` snapshot; one that reconnects with `Last-Event-ID` (after it fell behind and was
 * dropped, say) gets what it missed when that is still kept, and a fresh snapshot otherwise.
 */
export const eventRoutes =
  (bus: EventBus, hello: () => unknown): RouteModule =>
  (app) => {
    const recent: { id: number; event: NodeEvent }[] = []
    let nextId = 1
    const keep = (event: NodeEvent): void => {
      recent.push({ id: nextId++, event })
      if (recent.length > REPLAY_EVENTS) recent.shift()
    }
    bus.on('event', keep)
    app.addHook('onClose', async () => {
      bus.off('event', keep)
    })

    app.get(
      '/events',
      { schema: { summary: 'Server-sent events: status, settings, peers, tasks' } },
      async (req, reply) => {
        const sse = openSse(req, reply)
        const last = Number(req.headers['last-event-id'])
        const first = recent[0]?.id ?? nextId
        if (Number.isInteger(last) && last >= first - 1 && last < nextId) {
          for (const r of recent) if (r.id > last) sse.send(r.event.type, r.event.data, String(r.id))
        } else {
          sse.send('hello', hello(), String(nextId - 1))
        }
        // Registered after `keep`, so the id of the event being sent is the last one kept.
        const forward = (e: NodeEvent) => sse.send(e.type, e.data, String(nextId - 1))
        bus.on('event', forward)
        sse.onClose(() => bus.off('event', forward))
      },
    )
  }
