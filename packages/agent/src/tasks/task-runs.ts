import type { TaskError, TaskRecord, TaskResult } from '@edgecoder/protocol'
import type { Logger } from '../logger.ts'
import type { NodeMetrics } from '../metrics.ts'
import type { SettingsStore } from '../settings/index.ts'
import {
  EngineStoppingError,
  InvalidTransitionError,
  TaskCancelledError,
  TaskDeclinedError,
  TaskDisplacedError,
  TaskFinishedError,
} from './errors.ts'
import { progressEvents, type TaskExecutor } from './executor.ts'
import { cancelledError, doneData, failureOf, type TaskOutcome } from './outcome.ts'
import type { Placement } from './ports.ts'
import type { TaskEventLog } from './task-events.ts'
import type { TaskStore } from './task-store.ts'

export interface TaskRunsModules {
  store: TaskStore
  events: TaskEventLog
  executor: TaskExecutor
  settings: SettingsStore
  log: Logger
  metrics?: NodeMetrics
  /** Puts a task that went back to `queued` into the engine's queue. */
  requeue: (task: TaskRecord, front: boolean) => void
}

/**
 * One run of a task, from `queued → running` to its verdict, wherever it runs: every transition
 * goes through the store with its event, and a task another path already finished is left as it is.
 */
export class TaskRuns {
  readonly #opts: { maxRuns: number }
  readonly #m: TaskRunsModules
  /** Moving average of run times, for the Retry-After of a full queue. */
  #avgRunMs = 1_000

  constructor(opts: { maxRuns: number }, modules: TaskRunsModules) {
    this.#opts = opts
    this.#m = modules
  }

  /**
   * After a stop or crash: tasks found running go back to the queue; a peer's task interrupted
   * here was rerun elsewhere by its submitter long ago, so its copy is given up.
   */
  recover(): void {
    for (const id of this.#m.store.activeAdopted()) this.abandon(id, 'the executor restarted')
    for (const id of this.#m.store.idsWithStatus('running')) {
      this.requeue(id, 'interrupted', 'none')
      this.#m.log.warn({ taskId: id }, 'task was interrupted by a stop or crash: queued again')
    }
  }

  /** Records where the run goes and moves the task to `running`; undefined if it is no longer queued. */
  begin(id: string, placement: Placement): TaskRecord | undefined {
    const { store, events } = this.#m
    const executor = placement.where === 'local' ? (placement.executor ?? undefined) : undefined
    if (placement.hop) events.hop(id, placement.hop, executor)
    else if (executor) store.setExecutor(id, executor)
    let ev: ReturnType<TaskEventLog['make']> | undefined
    try {
      const task = store.start(id, (t) => (ev = events.make(t.id, 'started', { runs: t.runs })))
      events.publish(ev!)
      return task
    } catch (err) {
      if (err instanceof TaskFinishedError || err instanceof InvalidTransitionError) return undefined
      throw err
    }
  }

  async run(task: TaskRecord, placement: Placement, signal: AbortSignal): Promise<void> {
    const t0 = performance.now()
    const progress = progressEvents(this.#m.events, task)
    let outcome: TaskOutcome
    try {
      outcome =
        placement.where === 'local'
          ? await this.#m.executor.execute(task, progress, signal)
          : await placement.run(task, progress, signal)
    } catch (err) {
      this.#failed(task, signal.aborted ? signal.reason : err, performance.now() - t0)
      return
    }
    const runMs = performance.now() - t0
    this.#avgRunMs = this.#avgRunMs * 0.8 + runMs * 0.2
    const { status, error, result, modelMs, sandboxMs } = outcome
    this.finish(
      task.id,
      'running',
      status,
      { ...result, durations: { queuedMs: 0, runMs, modelMs, sandboxMs } },
      error,
      runMs,
    )
  }

  #failed(task: TaskRecord, reason: unknown, runMs: number): void {
    if (reason instanceof EngineStoppingError) {
      // A peer's task is its submitter's to rerun; this node's own waits for the next start.
      if (task.origin) this.abandon(task.id, 'the executor is stopping')
      else this.requeue(task.id, 'node stopping', 'back')
      return
    }
    if (reason instanceof TaskCancelledError) {
      this.finish(task.id, 'running', 'cancelled', null, cancelledError(), runMs)
      return
    }
    if (reason instanceof TaskDeclinedError) {
      // The router leaves the peer alone for a while: no hot loop, the task waits for room.
      this.requeue(task.id, reason.message, 'front', true)
      return
    }
    if (reason instanceof TaskDisplacedError) {
      if (task.runs < this.#opts.maxRuns) {
        this.requeue(task.id, reason.message, 'front')
        return
      }
      const error = { code: 'no_executor', message: `gave up after ${task.runs} runs: ${reason.message}` }
      this.finish(task.id, 'running', 'failed', null, error, runMs)
      return
    }
    const error = failureOf(reason)
    const level = error.code === 'execution_failed' ? 'error' : 'warn'
    this.#m.log[level]({ err: reason, taskId: task.id, code: error.code }, 'task failed')
    this.finish(task.id, 'running', 'failed', null, error, runMs)
  }

  /** Writes a final status with its `done` event; a task another path already finished is left as it is. */
  finish(
    id: string,
    from: 'queued' | 'running',
    status: 'succeeded' | 'failed' | 'cancelled',
    result: TaskResult | null,
    error: TaskError | null,
    runMs: number,
  ): TaskRecord {
    const { store, events } = this.#m
    const before = store.get(id)
    if (result) {
      const queuedMs = before.startedAt ? Date.parse(before.startedAt) - Date.parse(before.createdAt) : 0
      result = { ...result, durations: { ...result.durations, queuedMs, runMs: Math.round(runMs) } }
    }
    let ev: ReturnType<TaskEventLog['make']> | undefined
    try {
      const task = store.finish(
        id,
        status,
        result,
        error,
        (t) => (ev = events.make(id, 'done', doneData(t))),
        from,
      )
      events.publish(ev!)
      this.#m.metrics?.tasksFinished.inc({ kind: task.kind, status })
      return task
    } catch (err) {
      if (err instanceof TaskFinishedError || err instanceof InvalidTransitionError) return store.get(id)
      throw err
    }
  }

  /**
   * `running → queued` with its reason; `push` says where the task goes in the queue, if anywhere
   * yet. `uncount`: the run never happened (the peer declined it), so it isn't counted.
   */
  requeue(id: string, reason: string, push: 'front' | 'back' | 'none', uncount = false): void {
    let ev: ReturnType<TaskEventLog['make']> | undefined
    try {
      const task = this.#m.store.requeue(
        id,
        (t) => (ev = this.#m.events.make(id, 'queued', { reason, runs: t.runs })),
        uncount,
      )
      this.#m.events.publish(ev!)
      if (push !== 'none') this.#m.requeue(task, push === 'front')
    } catch (err) {
      if (!(err instanceof TaskFinishedError)) throw err
    }
  }

  /** Gives up a peer's task without a verdict of its own: its submitter reruns it elsewhere. */
  abandon(id: string, why: string): void {
    const from = this.#m.store.get(id).status
    if (from !== 'queued' && from !== 'running') return
    this.finish(id, from, 'cancelled', null, { code: 'executor_gone', message: why }, 0)
  }

  /** Seconds a refused submitter should wait: the queue ahead of it at the recent pace. */
  retryAfterSec(queued: number, executes: boolean): number {
    const s = this.#m.settings.get()
    if (!executes || !s.contributing) return 60
    const sec = (this.#avgRunMs * (queued + 1)) / s.maxConcurrentTasks / 1000
    return Math.min(600, Math.max(1, Math.ceil(sec)))
  }
}
