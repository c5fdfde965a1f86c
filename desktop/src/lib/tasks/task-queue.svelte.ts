import type { AgentApi } from '../api.ts'
import { followNodeEvents } from '../node-events.ts'
import type { TaskList, TaskRecord, TaskStatus } from './types.ts'

export const PAGE_SIZE = 20
/** Events after which the list may have changed; tokens and attempts don't change a row. */
const LIST_EVENTS = ['task-queued', 'task-routed', 'task-started', 'task-done'] as const

export interface TaskFilter {
  status: TaskStatus | null
  submitter: string
}

/** Query string of `GET /tasks` for a filter and a page. */
export function taskListQuery(filter: TaskFilter, cursor: string | null, limit = PAGE_SIZE): string {
  const q = new URLSearchParams({ limit: String(limit) })
  if (filter.status) q.set('status', filter.status)
  if (filter.submitter.trim()) q.set('submitter', filter.submitter.trim())
  if (cursor) q.set('cursor', cursor)
  return `/tasks?${q}`
}

/**
 * One page of the task list, filtered, kept current by the task events on `/events`: each event
 * reads the page again, one read at a time (events during a read cause one more read, not many).
 */
export class TaskQueue {
  tasks = $state<TaskRecord[]>([])
  nextCursor = $state<string | null>(null)
  filter = $state<TaskFilter>({ status: null, submitter: '' })
  loaded = $state(false)
  error = $state<string | null>(null)
  /** Cursors of the pages before this one; empty on the first page. */
  #back = $state<(string | null)[]>([])
  #cursor: string | null = null
  #api: () => AgentApi
  #stop: (() => void) | null = null
  #reading: Promise<void> | null = null
  #again = false

  /** `api` is read on each use: inside the shell the agent's address is known only after start. */
  constructor(api: () => AgentApi) {
    this.#api = api
  }

  get page(): number {
    return this.#back.length + 1
  }

  start(): () => void {
    this.#stop = followNodeEvents(
      this.#api().eventsUrl(),
      LIST_EVENTS,
      () => void this.refresh(),
      () => void this.refresh(),
    )
    void this.refresh()
    return () => this.#stop?.()
  }

  setFilter(filter: TaskFilter): void {
    this.filter = filter
    this.#back = []
    this.#cursor = null
    void this.refresh()
  }

  older(): void {
    if (this.nextCursor === null) return
    this.#back = [...this.#back, this.#cursor]
    this.#cursor = this.nextCursor
    void this.refresh()
  }

  newer(): void {
    if (this.#back.length === 0) return
    this.#cursor = this.#back.at(-1) ?? null
    this.#back = this.#back.slice(0, -1)
    void this.refresh()
  }

  /** Reads the current page; a call during a read makes it read once more when done. */
  refresh(): Promise<void> {
    if (this.#reading) {
      this.#again = true
      return this.#reading
    }
    this.#reading = (async () => {
      do {
        this.#again = false
        await this.#read()
      } while (this.#again)
      this.#reading = null
    })()
    return this.#reading
  }

  async #read(): Promise<void> {
    try {
      const list = await this.#api().request<TaskList>('GET', taskListQuery(this.filter, this.#cursor))
      this.tasks = list.tasks
      this.nextCursor = list.nextCursor
      this.error = null
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.loaded = true
    }
  }
}
