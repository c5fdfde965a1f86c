import { EventEmitter } from 'node:events'

/** One thing the UI shows live. `type` names it (`status`, `settings`, `peer-joined`, `task-updated`, ...). */
export interface NodeEvent {
  type: string
  at: string
  data: unknown
}

/**
 * The node's event bus: every part publishes here, `/events` streams it. Listeners are many
 * (one per open SSE connection), so the default cap of 10 is lifted.
 */
export class EventBus extends EventEmitter<{ event: [NodeEvent] }> {
  constructor() {
    super()
    this.setMaxListeners(0)
  }

  publish(type: string, data: unknown): void {
    this.emit('event', { type, at: new Date().toISOString(), data })
  }
}
