import { randomUUID } from 'node:crypto'
import type {
  RouteHop,
  TaskError,
  TaskEvent,
  TaskExecutorRef,
  TaskListQuery,
  TaskOrigin,
  TaskRecord,
  TaskResult,
  TaskSpec,
  TaskStatus,
} from '@edgecoder/protocol'
import type { Store } from '../store/index.ts'
import { InvalidTransitionError, TaskFinishedError, TaskNotFoundError } from './errors.ts'
import { TASK_MIGRATIONS, type TaskRow, toRecord } from './task-rows.ts'

/** Steps of a route kept per task: a task bounced more often than this keeps its latest steps. */
const ROUTE_LENGTH = 64

/** Counts by status, for `/status` and the queue gauges. */
export type TaskCounts = Record<TaskStatus, number>

/**
 * Tasks and their events in the node's SQLite store. Every transition is one guarded UPDATE
 * (`WHERE status = <from>`), written together with its event, so a crash at any point leaves a
 * task in exactly one status and its history consistent with it.
 */
export class TaskStore {
  readonly #store: Store

  constructor(store: Store) {
    this.#store = store
    store.migrate(TASK_MIGRATIONS)
  }

  /**
   * Accepts a task: persisted as `queued` before anyone is told its id. `origin` marks a task a
   * peer submitted; one origin (peer, task, attempt) is stored at most once.
   */
  create(spec: TaskSpec, event?: (t: TaskRecord) => TaskEvent, origin?: TaskOrigin): TaskRecord {
    const now = new Date().toISOString()
    const id = randomUUID()
    return this.#store.transaction(() => {
      this.#store.db
        .prepare(
          `INSERT INTO tasks (id, kind, submitter, priority, status, spec, runs, created_at, updated_at,
             origin_peer, origin_task, origin_attempt)
           VALUES (?, ?, ?, ?, 'queued', ?, 0, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          spec.kind,
          spec.submitter,
          spec.priority,
          JSON.stringify(spec),
          now,
          now,
          origin?.peerId ?? null,
          origin?.taskId ?? null,
          origin?.attempt ?? null,
        )
      const task = this.get(id)
      if (event) this.#append(event(task))
      return task
    })
  }

  get(id: string): TaskRecord {
    const row = this.#store.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow | undefined
    if (!row) throw new TaskNotFoundError(`no task ${id}`)
    return toRecord(row)
  }

  /** `queued → running`; counts the run. */
  start(id: string, event?: (t: TaskRecord) => TaskEvent): TaskRecord {
    const now = new Date().toISOString()
    return this.#move(id, 'queued', 'running', event, (db) =>
      db
        .prepare(
          "UPDATE tasks SET status = 'running', runs = runs + 1, started_at = ?, updated_at = ? WHERE id = ? AND status = 'queued'",
        )
        .run(now, now, id),
    )
  }

  /** `running → succeeded | failed | cancelled`, with the result and the reason. */
  finish(
    id: string,
    status: 'succeeded' | 'failed' | 'cancelled',
    result: TaskResult | null,
    error: TaskError | null,
    event?: (t: TaskRecord) => TaskEvent,
    from: TaskStatus = 'running',
  ): TaskRecord {
    const now = new Date().toISOString()
    return this.#move(id, from, status, event, (db) =>
      db
        .prepare(
          'UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ? AND status = ?',
        )
        .run(
          status,
          result === null ? null : JSON.stringify(result),
          error === null ? null : JSON.stringify(error),
          now,
          now,
          id,
          from,
        ),
    )
  }

  /** `running → queued`: the run was interrupted (crash, shutdown) and will start again. */
  requeue(id: string, event?: (t: TaskRecord) => TaskEvent, uncount = false): TaskRecord {
    const now = new Date().toISOString()
    return this.#move(id, 'running', 'queued', event, (db) =>
      db
        .prepare(
          "UPDATE tasks SET status = 'queued', runs = MAX(0, runs - ?), updated_at = ? WHERE id = ? AND status = 'running'",
        )
        .run(uncount ? 1 : 0, now, id),
    )
  }

  /** This node's copy of a peer's task attempt, if it took it. */
  adopted(origin: TaskOrigin): TaskRecord | undefined {
    const row = this.#store.db
      .prepare('SELECT * FROM tasks WHERE origin_peer = ? AND origin_task = ? AND origin_attempt = ?')
      .get(origin.peerId, origin.taskId, origin.attempt) as TaskRow | undefined
    return row && toRecord(row)
  }

  /** Ids of peers' tasks not finished yet, oldest first. */
  activeAdopted(): string[] {
    return (
      this.#store.db
        .prepare(
          "SELECT id FROM tasks WHERE origin_peer IS NOT NULL AND status IN ('queued', 'running') ORDER BY seq",
        )
        .all() as { id: string }[]
    ).map((r) => r.id)
  }

  /**
   * Appends a step to the task's route, with its `routed` event; `executor` (when given) is
   * where the task runs from now on.
   */
  addHop(id: string, hop: RouteHop, event: TaskEvent, executor?: TaskExecutorRef): TaskRecord {
    return this.#store.transaction(() => {
      const task = this.get(id)
      const route = [...task.route, hop].slice(-ROUTE_LENGTH)
      this.#store.db
        .prepare('UPDATE tasks SET route = ?, executor = COALESCE(?, executor), updated_at = ? WHERE id = ?')
        .run(JSON.stringify(route), executor ? JSON.stringify(executor) : null, hop.at, id)
      this.#append(event)
      return this.get(id)
    })
  }

  /** Where the task runs from now on, when no route step goes with it (this node, with no other choice). */
  setExecutor(id: string, executor: TaskExecutorRef): void {
    this.#store.db.prepare('UPDATE tasks SET executor = ? WHERE id = ?').run(JSON.stringify(executor), id)
  }

  /** Ids of tasks in a status, oldest first. */
  idsWithStatus(status: TaskStatus): string[] {
    return (
      this.#store.db.prepare('SELECT id FROM tasks WHERE status = ? ORDER BY seq').all(status) as {
        id: string
      }[]
    ).map((r) => r.id)
  }

  /** Newest first; `nextCursor` continues after the last task of this page. */
  list(q: TaskListQuery): { tasks: TaskRecord[]; nextCursor: string | null } {
    const where: string[] = []
    const args: (string | number)[] = []
    const filter = (clause: string, arg: string | number) => {
      where.push(clause)
      args.push(arg)
    }
    if (q.status) filter('status = ?', q.status)
    if (q.submitter) filter('submitter = ?', q.submitter)
    if (q.cursor) filter('seq < ?', Number(q.cursor))
    const rows = this.#store.db
      .prepare(
        `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
      )
      .all(...args, q.limit + 1) as unknown as TaskRow[]
    const page = rows.slice(0, q.limit)
    const more = rows.length > q.limit
    return { tasks: page.map(toRecord), nextCursor: more ? String(page.at(-1)!.seq) : null }
  }

  counts(): TaskCounts {
    const out: TaskCounts = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 }
    for (const r of this.#store.db
      .prepare('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status')
      .all() as {
      status: TaskStatus
      n: number
    }[])
      out[r.status] = r.n
    return out
  }

  /** Appends an event that goes with no transition (attempt, test result). */
  appendEvent(ev: TaskEvent): void {
    this.#append(ev)
  }

  /** A task's persisted events in order. */
  events(id: string): TaskEvent[] {
    return (
      this.#store.db
        .prepare('SELECT seq, type, at, data FROM task_events WHERE task_id = ? ORDER BY seq')
        .all(id) as { seq: number; type: TaskEvent['type']; at: string; data: string }[]
    ).map((r) => ({ taskId: id, seq: r.seq, type: r.type, at: r.at, data: JSON.parse(r.data) }))
  }

  /** The highest event number a task has used (0 when none). */
  lastEventSeq(id: string): number {
    const row = this.#store.db
      .prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM task_events WHERE task_id = ?')
      .get(id) as { n: number }
    return row.n
  }

  #move(
    id: string,
    from: TaskStatus,
    to: TaskStatus,
    event: ((t: TaskRecord) => TaskEvent) | undefined,
    update: (db: Store['db']) => { changes: number | bigint },
  ): TaskRecord {
    return this.#store.transaction(() => {
      if (Number(update(this.#store.db).changes) !== 1) {
        const current = this.get(id).status
        if (current === 'succeeded' || current === 'failed' || current === 'cancelled')
          throw new TaskFinishedError(`task ${id} is already ${current}`)
        throw new InvalidTransitionError(`task ${id} is ${current}, not ${from}: cannot move it to ${to}`)
      }
      const task = this.get(id)
      if (event) this.#append(event(task))
      return task
    })
  }

  #append(ev: TaskEvent): void {
    this.#store.db
      .prepare('INSERT INTO task_events (task_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)')
      .run(ev.taskId, ev.seq, ev.type, ev.at, JSON.stringify(ev.data))
  }
}
