import type { TaskError, TaskListQuery, TaskRecord, TaskResult, TaskSpec } from '@edgecoder/protocol'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { NodeMetrics } from '../metrics.ts'
import type { SettingsStore } from '../settings/index.ts'
import type { Store } from '../store/index.ts'
import type { CodeLoopOptions } from './code-loop.ts'
import {
  EngineStoppingError,
  InvalidTransitionError,
  QueueFullError,
  SubmissionRefusedError,
  TaskCancelledError,
  TaskFinishedError,
} from './errors.ts'
import { progressEvents, TaskExecutor } from './executor.ts'
import { FairShareQueue, type QueueEntry } from './fair-share-queue.ts'
import { cancelledError, doneData, failureOf, type TaskOutcome } from './outcome.ts'
import type { TaskModel, TaskSandbox } from './ports.ts'
import { TaskEventLog } from './task-events.ts'
import { type TaskCounts, TaskStore } from './task-store.ts'

export interface TaskEngineOptions {
  /** False on a coordinator: tasks wait in the queue for routing and never run here. */
  executes: boolean
  /** False on a worker: the local API may not submit. */
  acceptsLocal: boolean
  /** Tasks that may wait at once; one more is refused with a retry hint. */
  maxQueued: number
  /** How long a cancelled task may take to let go of the model and sandbox before it is marked cancelled anyway. */
  cancelGraceMs: number
  codeLoop: Partial<CodeLoopOptions>
}

export const TASK_ENGINE_DEFAULTS: TaskEngineOptions = {
  executes: true,
  acceptsLocal: true,
  maxQueued: 1_000,
  cancelGraceMs: 5_000,
  codeLoop: {},
}

export interface TaskEngineModules {
  store: Store
  bus: EventBus
  settings: SettingsStore
  sandbox: TaskSandbox
  model: TaskModel | null
  log: Logger
  metrics?: NodeMetrics
}

interface Running {
  controller: AbortController
  done: Promise<void>
}

/**
 * The task engine: accepts tasks, keeps them in SQLite and in a fair-share queue, and runs as
 * many at once as `maxConcurrentTasks` allows while the node is contributing. Both settings are
 * followed at run time. Nothing accepted is lost: tasks found running at start were interrupted
 * and go back to the queue.
 */
export class TaskEngine {
  readonly name = 'tasks'
  readonly store: TaskStore
  readonly events: TaskEventLog
  readonly #opts: TaskEngineOptions
  readonly #m: TaskEngineModules
  readonly #executor: TaskExecutor
  readonly #queue = new FairShareQueue<QueueEntry>()
  readonly #running = new Map<string, Running>()
  #started = false
  /** Moving average of run times, for the Retry-After of a full queue. */
  #avgRunMs = 1_000
  readonly #onSettings = () => this.#pump()

  constructor(opts: Partial<TaskEngineOptions>, modules: TaskEngineModules) {
    this.#opts = { ...TASK_ENGINE_DEFAULTS, ...opts }
    this.#m = modules
    this.store = new TaskStore(modules.store)
    this.events = new TaskEventLog(this.store, modules.bus)
    this.#executor = new TaskExecutor(this.#opts.codeLoop, modules)
  }

  async start(): Promise<void> {
    for (const id of this.store.idsWithStatus('running')) {
      let ev: ReturnType<TaskEventLog['make']> | undefined
      this.store.requeue(
        id,
        (t) => (ev = this.events.make(id, 'queued', { reason: 'interrupted', runs: t.runs })),
      )
      this.events.publish(ev!)
      this.#m.log.warn({ taskId: id }, 'task was interrupted by a stop or crash: queued again')
    }
    for (const id of this.store.idsWithStatus('queued')) this.#queue.push(this.#entry(this.store.get(id)))
    this.#started = true
    this.#m.settings.on('change', this.#onSettings)
    if (this.#queue.size > 0) this.#m.log.info({ queued: this.#queue.size }, 'resuming queued tasks')
    this.#pump()
  }

  /** Stops taking work; running tasks are interrupted and go back to the queue for the next start. */
  async stop(): Promise<void> {
    this.#started = false
    this.#m.settings.off('change', this.#onSettings)
    for (const r of this.#running.values())
      r.controller.abort(new EngineStoppingError('the node is stopping'))
    await Promise.allSettled([...this.#running.values()].map((r) => r.done))
  }

  /** Accepts a task from the local API: persisted as queued before its id is returned. */
  submit(spec: TaskSpec): TaskRecord {
    if (!this.#opts.acceptsLocal)
      throw new SubmissionRefusedError(
        'this node runs in worker mode: it runs tasks routed to it by the mesh and takes none from its local API; submit to a coordinator or an all-in-one node',
      )
    if (this.#queue.size >= this.#opts.maxQueued)
      throw new QueueFullError(
        `the task queue is full (${this.#opts.maxQueued} waiting); try again later`,
        this.retryAfterSec(),
      )
    let ev: ReturnType<TaskEventLog['make']> | undefined
    const task = this.store.create(spec, (t) => {
      ev = this.events.make(t.id, 'queued', { kind: t.kind, submitter: t.submitter, priority: t.priority })
      return ev
    })
    this.#queue.push(this.#entry(task))
    this.events.publish(ev!)
    this.#pump()
    return task
  }

  get(id: string): TaskRecord {
    return this.store.get(id)
  }

  list(q: TaskListQuery): { tasks: TaskRecord[]; nextCursor: string | null } {
    return this.store.list(q)
  }

  /** Cancels a waiting or running task; a running one is aborted (model and sandbox let go). */
  async cancel(id: string, signal?: AbortSignal): Promise<TaskRecord> {
    const task = this.store.get(id)
    if (task.status === 'queued') {
      this.#queue.remove(id)
      return this.#finish(id, 'queued', 'cancelled', null, cancelledError(), 0)
    }
    const running = this.#running.get(id)
    if (task.status === 'running' && running) {
      running.controller.abort(new TaskCancelledError('cancelled by the submitter'))
      const grace = AbortSignal.any([
        AbortSignal.timeout(this.#opts.cancelGraceMs),
        ...(signal ? [signal] : []),
      ])
      await Promise.race([
        running.done,
        new Promise((r) => grace.addEventListener('abort', r, { once: true })),
      ])
      const now = this.store.get(id)
      if (now.status !== 'running') return now
      this.#m.log.warn({ taskId: id }, 'task did not let go within the grace period: marked cancelled anyway')
      return this.#finish(id, 'running', 'cancelled', null, cancelledError(), 0)
    }
    throw new TaskFinishedError(`task ${id} is already ${task.status}`)
  }

  counts(): TaskCounts {
    return this.store.counts()
  }

  get queueDepth(): number {
    return this.#queue.size
  }

  get runningCount(): number {
    return this.#running.size
  }

  /** Seconds a refused submitter should wait: the queue ahead of it at the recent pace. */
  retryAfterSec(): number {
    const s = this.#m.settings.get()
    if (!this.#opts.executes || !s.contributing) return 60
    const sec = (this.#avgRunMs * (this.#queue.size + 1)) / s.maxConcurrentTasks / 1000
    return Math.min(600, Math.max(1, Math.ceil(sec)))
  }

  #entry(t: TaskRecord): QueueEntry {
    return { id: t.id, submitter: t.submitter, priority: t.priority }
  }

  #pump(): void {
    if (!this.#started || !this.#opts.executes) return
    const s = this.#m.settings.get()
    if (!s.contributing) return
    while (this.#running.size < s.maxConcurrentTasks && this.#queue.size > 0) {
      const entry = this.#queue.pop()!
      let ev: ReturnType<TaskEventLog['make']> | undefined
      let task: TaskRecord
      try {
        task = this.store.start(entry.id, (t) => (ev = this.events.make(t.id, 'started', { runs: t.runs })))
      } catch (err) {
        if (err instanceof TaskFinishedError || err instanceof InvalidTransitionError) continue
        throw err
      }
      this.events.publish(ev!)
      const controller = new AbortController()
      const done = this.#run(task, controller.signal).finally(() => {
        this.#running.delete(task.id)
        this.#pump()
      })
      this.#running.set(task.id, { controller, done })
    }
  }

  async #run(task: TaskRecord, signal: AbortSignal): Promise<void> {
    const t0 = performance.now()
    let outcome: TaskOutcome
    try {
      outcome = await this.#executor.execute(task, progressEvents(this.events, task), signal)
    } catch (err) {
      const reason = signal.aborted ? signal.reason : err
      if (reason instanceof EngineStoppingError) {
        this.#requeue(task.id)
        return
      }
      const runMs = performance.now() - t0
      if (reason instanceof TaskCancelledError) {
        this.#finish(task.id, 'running', 'cancelled', null, cancelledError(), runMs)
        return
      }
      const error = failureOf(reason)
      const level = error.code === 'execution_failed' ? 'error' : 'warn'
      this.#m.log[level]({ err: reason, taskId: task.id, code: error.code }, 'task failed')
      this.#finish(task.id, 'running', 'failed', null, error, runMs)
      return
    }
    const runMs = performance.now() - t0
    this.#avgRunMs = this.#avgRunMs * 0.8 + runMs * 0.2
    const { status, error, result, modelMs, sandboxMs } = outcome
    this.#finish(
      task.id,
      'running',
      status,
      { ...result, durations: { queuedMs: 0, runMs, modelMs, sandboxMs } },
      error,
      runMs,
    )
  }

  /** Writes a final status with its `done` event; a task another path already finished is left as it is. */
  #finish(
    id: string,
    from: 'queued' | 'running',
    status: 'succeeded' | 'failed' | 'cancelled',
    result: TaskResult | null,
    error: TaskError | null,
    runMs: number,
  ): TaskRecord {
    const before = this.store.get(id)
    if (result) {
      const queuedMs = before.startedAt ? Date.parse(before.startedAt) - Date.parse(before.createdAt) : 0
      result = { ...result, durations: { ...result.durations, queuedMs, runMs: Math.round(runMs) } }
    }
    let ev: ReturnType<TaskEventLog['make']> | undefined
    try {
      const task = this.store.finish(
        id,
        status,
        result,
        error,
        (t) => (ev = this.events.make(id, 'done', doneData(t))),
        from,
      )
      this.events.publish(ev!)
      this.#m.metrics?.tasksFinished.inc({ kind: task.kind, status })
      return task
    } catch (err) {
      if (err instanceof TaskFinishedError || err instanceof InvalidTransitionError) return this.store.get(id)
      throw err
    }
  }

  #requeue(id: string): void {
    let ev: ReturnType<TaskEventLog['make']> | undefined
    try {
      this.store.requeue(
        id,
        (t) => (ev = this.events.make(id, 'queued', { reason: 'node stopping', runs: t.runs })),
      )
      this.events.publish(ev!)
    } catch (err) {
      if (!(err instanceof TaskFinishedError)) throw err
    }
  }
}
