import type { AgentApi } from '../api.ts'
import type { TaskEvent, TaskRecord, TestReport } from './types.ts'

/** Tokens kept for the live view; the whole answer is in the task's result once it ends. */
const TOKEN_KEEP = 64 * 1024

/**
 * One task as it happens: its record, re-read on every step, plus what only the event stream
 * carries, the model's tokens and each test run, from `GET /tasks/:id/events`.
 */
export class TaskLive {
  task = $state<TaskRecord | null>(null)
  error = $state<string | null>(null)
  tokens = $state('')
  phase = $state<string | null>(null)
  tests = $state<{ attempt: number | null; report: TestReport }[]>([])
  #api: AgentApi
  #id: string
  #source: EventSource | null = null
  #reading: AbortController | null = null

  constructor(api: AgentApi, id: string) {
    this.#api = api
    this.#id = id
  }

  start(): () => void {
    void this.reread()
    const source = new EventSource(this.#api.url(`/tasks/${encodeURIComponent(this.#id)}/events`))
    this.#source = source
    const on = (type: TaskEvent['type'], fn: (e: TaskEvent) => void) =>
      source.addEventListener(type, (m: MessageEvent<string>) => {
        try {
          fn(JSON.parse(m.data) as TaskEvent)
        } catch {
          // a malformed event is dropped; the record re-read on the next one is whole
        }
      })
    on('token', (e) => {
      const phase = String(e.data.phase ?? '')
      if (phase !== this.phase) {
        this.phase = phase
        this.tokens += this.tokens ? `\n\n[${phase}]\n` : `[${phase}]\n`
      }
      this.tokens = (this.tokens + String(e.data.text ?? '')).slice(-TOKEN_KEEP)
    })
    on('test-result', (e) => {
      const { attempt, ...report } = e.data as unknown as { attempt: number | null } & TestReport
      this.tests = [...this.tests, { attempt: attempt ?? null, report }]
    })
    for (const type of ['queued', 'routed', 'started', 'attempt'] as const) on(type, () => void this.reread())
    on('done', () => {
      // The stream ends after `done`; without this the browser would open it again.
      source.close()
      void this.reread()
    })
    return () => this.stop()
  }

  stop(): void {
    this.#source?.close()
    this.#reading?.abort()
  }

  async reread(): Promise<void> {
    this.#reading?.abort()
    const ctrl = new AbortController()
    this.#reading = ctrl
    try {
      this.task = await this.#api.request<TaskRecord>(
        'GET',
        `/tasks/${encodeURIComponent(this.#id)}`,
        undefined,
        ctrl.signal,
      )
      this.error = null
    } catch (err) {
      if (!ctrl.signal.aborted) this.error = (err as Error).message
    }
  }
}
