import type { AgentStatus, HelloEvent, OrchestrationSettings } from './types.ts'

/** What the UI does with each kind of message on `GET /events`. */
export interface AgentEventHandlers {
  open(): void
  /** The stream dropped; the browser reconnects by itself. */
  lost(): void
  hello(e: HelloEvent): void
  status(s: AgentStatus): void
  settings(s: OrchestrationSettings): void
  /** peer-joined / peer-updated / peer-left and task-*: the runtime summary is stale. */
  changed(type: string): void
}

const CHANGE_EVENTS = [
  'peer-joined',
  'peer-updated',
  'peer-left',
  'task-queued',
  'task-started',
  'task-completed',
  'task-failed',
  'task-cancelled',
  // A model pulled, swapped or removed, or another provider: the runtime's model line is stale.
  'models',
]

/** Subscribes to the agent's event stream; returns the function that closes it. */
export function subscribeAgentEvents(url: string, on: AgentEventHandlers): () => void {
  const source = new EventSource(url)
  const parse =
    <T>(fn: (v: T) => void) =>
    (e: MessageEvent<string>) => {
      try {
        fn(JSON.parse(e.data) as T)
      } catch {
        // A malformed message is dropped; the next status message corrects the view.
      }
    }
  source.onopen = () => on.open()
  source.onerror = () => on.lost()
  source.addEventListener('hello', parse(on.hello))
  source.addEventListener('status', parse(on.status))
  source.addEventListener('settings', parse(on.settings))
  for (const type of CHANGE_EVENTS) source.addEventListener(type, () => on.changed(type))
  return () => source.close()
}
