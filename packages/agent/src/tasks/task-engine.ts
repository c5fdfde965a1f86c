import type { TaskListQuery, TaskOrigin, TaskRecord, TaskSpec } from '@edgecoder/protocol'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { NodeMetrics } from '../metrics.ts'
import type { SettingsStore } from '../settings/index.ts'
import { policyAllowsWork } from '../settings/index.ts'
import type { Store } from '../store/index.ts'
import { peerSlots, refuseAdoption } from './admission.ts'
import {
  EngineStoppingError,
  QueueFullError,
  SubmissionRefusedError,
  TaskCancelledError,
  TaskFinishedError,
} from './errors.ts'
import { TaskExecutor } from './executor.ts'
import { FairShareQueue, type QueueEntry } from './fair-share-queue.ts'
import { TASK_ENGINE_DEFAULTS, type TaskEngineOptions } from './options.ts'
import { cancelledError } from './outcome.ts'
import type { Placement, TaskModel, TaskRouter, TaskSandbox } from './ports.ts'
import { TaskEventLog } from './task-events.ts'
import { TaskRuns } from './task-runs.ts'
import { type TaskCounts, TaskStore } from './task-store.ts'

export { TASK_ENGINE_DEFAULTS, type TaskEngineOptions }

export interface TaskEngineModules {
  store: Store
  bus: EventBus
  settings: SettingsStore
  sandbox: TaskSandbox
  model: TaskModel | null
  log: Logger
  metrics?: NodeMetrics
  /** Places tasks on peers; without one every task runs here. */
  router?: TaskRouter | null
}

interface Entry extends QueueEntry {
  task: TaskRecord
}

interface Running {
  controller: AbortController
  done: Promise<void>
  local: boolean
}

const LOCAL: Placement = { where: 'local', hop: null, executor: null }

/** The flow a peer's tasks share in the queue; a space can't appear in a submitter name, so none collides. */
const peerFlow = (peerId: string) => `peer ${peerId}`

/**
 * The task engine: accepts tasks (from the local API, and from peers through routing), keeps them
 * in SQLite and in one fair-share queue, and starts each where it should run: here, while this
 * node has a free slot (`maxConcurrentTasks`, followed at run time), or on the peer the router
 * picks. Nothing accepted is lost: tasks found running at start were interrupted and go back to
 * the queue; a task a peer lets go of goes back to the front of it.
 */
export class TaskEngine {
  readonly name = 'tasks'
  readonly store: TaskStore
  readonly events: TaskEventLog
  readonly #opts: TaskEngineOptions
  readonly #m: TaskEngineModules
  readonly #runs: TaskRuns
  readonly #queue = new FairShareQueue<Entry>()
  readonly #running = new Map<string, Running>()
  readonly #listeners = new Set<() => void>()
  #pumpQueued = false
  #localRunning = 0
  /** Peers' tasks running on this node's slots, bounded as a whole by `peerSlots`. */
  #peersRunning = 0
  #started = false
  #unsubscribe: (() => void) | undefined
  readonly #onSettings = () => this.#pump()
  #policyTimer: NodeJS.Timeout | undefined

  constructor(opts: Partial<TaskEngineOptions>, modules: TaskEngineModules) {
    this.#opts = { ...TASK_ENGINE_DEFAULTS, ...opts }
    this.#m = modules
    this.store = new TaskStore(modules.store)
    this.events = new TaskEventLog(this.store, modules.bus)
    this.#runs = new TaskRuns(this.#opts, {
      ...modules,
      store: this.store,
      events: this.events,
      executor: new TaskExecutor(this.#opts.codeLoop, modules),
      requeue: (task, front) => {
        this.#queue.push(this.#entry(task), front)
        this.#changed()
      },
    })
  }

  async start(): Promise<void> {
    this.#runs.recover()
    for (const id of this.store.idsWithStatus('queued')) this.#queue.push(this.#entry(this.store.get(id)))
    this.#started = true
    this.#m.settings.on('change', this.#onSettings)
    this.#unsubscribe = this.#m.router?.onCapacity(() => this.#pump())
    if (this.#queue.size > 0) this.#m.log.info({ queued: this.#queue.size }, 'resuming queued tasks')
    this.#pump()
    // A schedule's window opens with no event to say so: look again every minute.
    this.#policyTimer = setInterval(() => this.#pump(), 60_000).unref()
  }

  /**
   * Stops taking work; this node's running tasks are interrupted and go back to the queue for the
   * next start. Peers' tasks, running or waiting, are given up now (their submitters rerun them)
   * rather than at the next start, so each submitter hears it while its stream is still open.
   */
  async stop(): Promise<void> {
    this.#started = false
    clearInterval(this.#policyTimer)
    this.#m.settings.off('change', this.#onSettings)
    this.#unsubscribe?.()
    for (const r of this.#running.values())
      r.controller.abort(new EngineStoppingError('the node is stopping'))
    await Promise.allSettled([...this.#running.values()].map((r) => r.done))
    for (const id of this.store.activeAdopted()) this.#runs.abandon(id, 'the executor is stopping')
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
    // One submitter may fill three quarters of the queue: a flood can't lock others out with 429s.
    const share = Math.max(1, Math.floor(this.#opts.maxQueued * 0.75))
    const mine = this.#queue.sizeOf(spec.submitter)
    if (mine >= share)
      throw new QueueFullError(
        `submitter "${spec.submitter}" already has ${mine} tasks waiting, the most one submitter may hold here (${share} of ${this.#opts.maxQueued}); try again later`,
        this.retryAfterSec(),
      )
    return this.#accept(spec)
  }

  /**
   * Takes a peer's task to run here. The same attempt offered twice is the same task (its copy is
   * returned); a peer may keep at most `maxConcurrentTasks` tasks waiting here, so one that floods
   * can't crowd out the others, who share the slots fairly with this node's own submitters.
   * @throws AdoptionRefusedError when this node can't take it now
   */
  adopt(spec: TaskSpec, origin: TaskOrigin): TaskRecord {
    const known = this.store.adopted(origin)
    if (known) return known
    refuseAdoption({
      executes: this.#opts.executes,
      started: this.#started,
      settings: this.#m.settings.get(),
      kind: spec.kind,
      acceptsPeerCode: this.#opts.acceptsPeerCode,
      waiting: this.#queue.sizeOf(peerFlow(origin.peerId)),
      peersWaiting: this.adoptedWaiting,
      queued: this.#queue.size,
      maxQueued: this.#opts.maxQueued,
      retryAfterMs: () => this.retryAfterSec() * 1000,
    })
    return this.#accept(spec, origin)
  }

  get(id: string): TaskRecord {
    return this.store.get(id)
  }

  list(q: TaskListQuery): { tasks: TaskRecord[]; nextCursor: string | null } {
    return this.store.list(q)
  }

  /** Cancels a waiting or running task; a running one is aborted (model and sandbox let go, or the peer told). */
  async cancel(id: string, signal?: AbortSignal): Promise<TaskRecord> {
    const task = this.store.get(id)
    if (task.status === 'queued') {
      this.#queue.remove(id)
      this.#changed()
      return this.#runs.finish(id, 'queued', 'cancelled', null, cancelledError(), 0)
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
      return this.#runs.finish(id, 'running', 'cancelled', null, cancelledError(), 0)
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

  /** Tasks running on this node's own slots (tasks running on peers are not counted). */
  get localRunning(): number {
    return this.#localRunning
  }

  /** Peers' tasks waiting for a slot here: what this node's advert calls its queue. */
  get adoptedWaiting(): number {
    let n = 0
    for (const [flow, size] of this.#queue.flowSizes()) if (flow.startsWith('peer ')) n += size
    return n
  }

  /** Calls `fn` whenever the local load (running or waiting tasks) changes; returns the unsubscribe. */
  onLoad(fn: () => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  /** Seconds a refused submitter should wait: the queue ahead of it at the recent pace. */
  retryAfterSec(): number {
    return this.#runs.retryAfterSec(this.#queue.size, this.#opts.executes)
  }

  #accept(spec: TaskSpec, origin?: TaskOrigin): TaskRecord {
    let ev: ReturnType<TaskEventLog['make']> | undefined
    const data = {
      kind: spec.kind,
      submitter: spec.submitter,
      priority: spec.priority,
      ...(origin && { origin }),
    }
    const task = this.store.create(spec, (t) => (ev = this.events.make(t.id, 'queued', data)), origin)
    this.#queue.push(this.#entry(task))
    this.events.publish(ev!)
    this.#changed()
    // A peer's task takes a free slot at once, so the next offer sees it running, not waiting.
    if (origin) this.#pump()
    else this.#pumpSoon()
    return task
  }

  /**
   * Places waiting work once the current burst of submissions has been answered: a local submit
   * returns before its task is placed, and a burst of submits in one tick costs one pass.
   */
  #pumpSoon(): void {
    if (this.#pumpQueued) return
    this.#pumpQueued = true
    setImmediate(() => {
      this.#pumpQueued = false
      this.#pump()
    })
  }

  #entry(t: TaskRecord): Entry {
    const submitter = t.origin ? peerFlow(t.origin.peerId) : t.submitter
    return { id: t.id, submitter, priority: t.priority, task: t }
  }

  #localFree(): boolean {
    const s = this.#m.settings.get()
    // The power policy governs this node's own compute too: outside its hours (or paused) the
    // router places local tasks on peers, or they wait for the window to open.
    return (
      this.#opts.executes &&
      policyAllowsWork(s, new Date(), false) &&
      this.#localRunning < s.maxConcurrentTasks
    )
  }

  /** A peer's task runs here or nowhere, in the slots peers share; the router places the rest. */
  #place(e: Entry, localFree: boolean): Placement | null {
    if (e.task.origin) {
      const room = this.#peersRunning < peerSlots(this.#m.settings.get().maxConcurrentTasks)
      return localFree && room ? LOCAL : null
    }
    if (!this.#m.router) return localFree ? LOCAL : null
    return this.#m.router.place(e.task, localFree)
  }

  #pump(): void {
    if (!this.#started) return
    for (;;) {
      const localFree = this.#localFree()
      const placements = new Map<string, Placement>()
      const entry = this.#queue.pop((e) => {
        const p = this.#place(e, localFree)
        if (p) placements.set(e.id, p)
        return p !== null
      })
      if (!entry) return
      this.#begin(entry, placements.get(entry.id)!)
    }
  }

  #begin(entry: Entry, placement: Placement): void {
    const local = placement.where === 'local'
    const task = this.#runs.begin(entry.id, placement)
    if (!task) return
    const controller = new AbortController()
    const peer = local && task.origin !== undefined && task.origin !== null
    if (local) this.#localRunning++
    if (peer) this.#peersRunning++
    const done = this.#runs.run(task, placement, controller.signal).finally(() => {
      this.#running.delete(task.id)
      if (local) this.#localRunning--
      if (peer) this.#peersRunning--
      this.#changed()
      this.#pump()
    })
    this.#running.set(task.id, { controller, done, local })
    this.#changed()
  }

  #changed(): void {
    for (const fn of this.#listeners) fn()
  }
}
