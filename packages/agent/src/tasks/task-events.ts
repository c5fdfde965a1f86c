import { EventEmitter } from 'node:events'
import type { RouteHop, TaskEvent, TaskEventType, TaskExecutorRef } from '@edgecoder/protocol'
import type { EventBus } from '../events.ts'
import type { TaskStore } from './task-store.ts'

/** Tokens kept per running task for late SSE subscribers; beyond it the oldest are dropped. */
const MAX_BUFFERED_TOKENS = 100_000

/**
 * A task's history as events numbered from 1. Everything but tokens is persisted (transitions in
 * the same transaction as the status change), so a stream opened after a restart still replays
 * queued, started, attempts, test results and done. Tokens are many and only matter while a task
 * runs: they stay in memory until it finishes, and each attempt event carries the whole answer.
 */
export class TaskEventLog {
  readonly #store: TaskStore
  readonly #bus: EventBus
  readonly #live = new EventEmitter()
  readonly #seq = new Map<string, number>()
  readonly #tokens = new Map<string, TaskEvent[]>()

  constructor(store: TaskStore, bus: EventBus) {
    this.#store = store
    this.#bus = bus
    this.#live.setMaxListeners(0)
  }

  /** The task's next event; persist it (with a transition) before `publish`. */
  make(taskId: string, type: TaskEventType, data: Record<string, unknown> = {}): TaskEvent {
    const seq = (this.#seq.get(taskId) ?? this.#store.lastEventSeq(taskId)) + 1
    this.#seq.set(taskId, seq)
    return { taskId, seq, type, at: new Date().toISOString(), data }
  }

  /** Tells the bus and the task's subscribers. A `done` event ends the task's live history. */
  publish(ev: TaskEvent): void {
    this.#bus.publish(`task-${ev.type}`, ev)
    this.#live.emit(ev.taskId, ev)
    if (ev.type === 'done') {
      this.#seq.delete(ev.taskId)
      this.#tokens.delete(ev.taskId)
    }
  }

  /** Persists (tokens: buffers) and publishes an event that comes with no status change. */
  record(taskId: string, type: TaskEventType, data: Record<string, unknown>): TaskEvent {
    const ev = this.make(taskId, type, data)
    if (type === 'token') {
      const buf = this.#tokens.get(taskId) ?? []
      this.#tokens.set(taskId, buf)
      if (buf.length >= MAX_BUFFERED_TOKENS) buf.shift()
      buf.push(ev)
    } else {
      this.#store.appendEvent(ev)
    }
    this.publish(ev)
    return ev
  }

  /** Appends a step to the task's route (and, with `executor`, where it runs now), as a `routed` event. */
  hop(taskId: string, hop: RouteHop, executor?: TaskExecutorRef): TaskEvent {
    const ev = this.make(taskId, 'routed', { ...hop, executor: executor ?? null })
    this.#store.addHop(taskId, hop, ev, executor)
    this.publish(ev)
    return ev
  }

  /** What already happened to a task, in order. */
  replay(taskId: string): TaskEvent[] {
    const persisted = this.#store.events(taskId)
    const tokens = this.#tokens.get(taskId)
    if (!tokens || tokens.length === 0) return persisted
    return [...persisted, ...tokens].sort((a, b) => a.seq - b.seq)
  }

  /** Live events of one task; returns the unsubscribe. */
  subscribe(taskId: string, fn: (ev: TaskEvent) => void): () => void {
    this.#live.on(taskId, fn)
    return () => this.#live.off(taskId, fn)
  }
}
