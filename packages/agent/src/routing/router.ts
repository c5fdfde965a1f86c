import type { AdvertModel, MeshPeer, RouteEvent, RouteHop, TaskRecord } from '@edgecoder/protocol'
import type { Logger } from '../logger.ts'
import type { PeerTable } from '../mesh/index.ts'
import type { SettingsStore } from '../settings/index.ts'
import {
  type Placement,
  TaskDeclinedError,
  TaskDisplacedError,
  type TaskOutcome,
  type TaskProgress,
  type TaskRouter,
} from '../tasks/index.ts'
import { ExecutorLostError, ExecutorStalledError, OfferDeclinedError } from './errors.ts'
import { ExecutorHistory } from './executor-history.ts'
import { type RoutingOptions, stallAfterMs } from './options.ts'
import { outcomeOf, passedOver, relay } from './route-notes.ts'
import { type Candidate, chooseExecutor, type ExecutorChoice, needsOf, type TaskNeeds } from './scoring.ts'
import { type OfferResult, short, type TaskClient } from './task-client.ts'

/** What this node itself offers as an executor right now. */
export interface LocalCapacity {
  models: string[]
  slots: { total: number; free: number }
  queueDepth: number
  load: number
}

export interface MeshRouterInit {
  options: RoutingOptions
  selfId: string
  /** False on a coordinator: it never runs tasks itself. */
  executes: boolean
  peers: PeerTable
  settings: SettingsStore
  local: () => LocalCapacity
  client: TaskClient
  log: Logger
}

/**
 * Chooses where each task runs (this node or the best peer, see `chooseExecutor`) and runs it
 * there through the task protocol. A peer that declines, dies or stalls is left alone for a
 * while and the task goes back to the front of the queue to be placed again; every choice and
 * every answer lands in the task's route.
 */
export class MeshRouter implements TaskRouter {
  readonly history = new ExecutorHistory()
  readonly #init: MeshRouterInit
  readonly #listeners = new Set<() => void>()
  #wakeQueued = false
  readonly #wake = () => {
    if (this.#wakeQueued) return
    this.#wakeQueued = true
    setImmediate(() => {
      this.#wakeQueued = false
      for (const fn of this.#listeners) fn()
    })
  }

  constructor(init: MeshRouterInit) {
    this.#init = init
  }

  get client(): TaskClient {
    return this.#init.client
  }

  onCapacity(fn: () => void): () => void {
    if (this.#listeners.size === 0) {
      this.#init.peers.on('joined', this.#wake)
      this.#init.peers.on('updated', this.#onUpdate)
    }
    this.#listeners.add(fn)
    return () => {
      this.#listeners.delete(fn)
      if (this.#listeners.size > 0) return
      this.#init.peers.off('joined', this.#wake)
      this.#init.peers.off('updated', this.#onUpdate)
    }
  }

  readonly #onUpdate = (p: MeshPeer, what: string) => {
    if (what === 'advert') this.history.heardFrom(p.peerId, Date.now())
    this.#wake()
  }

  /** Candidates in view, this node first when it may take the task, and the choice among them. */
  pick(
    needs: TaskNeeds,
    opts: { localFree: boolean; ignoreCapacity?: boolean; skip?: Set<string> },
  ): ExecutorChoice {
    const { options, settings } = this.#init
    const candidates = this.#candidates(opts.localFree).filter((c) => !opts.skip?.has(c.peerId))
    return chooseExecutor(needs, candidates, {
      now: Date.now(),
      region: settings.get().region,
      parkFactor: options.parkFactor,
      ignoreCapacity: opts.ignoreCapacity,
    })
  }

  place(task: TaskRecord, localFree: boolean): Placement | null {
    const { selfId, peers } = this.#init
    const attempt = task.runs + 1
    const here = { peerId: selfId, local: true, attempt, taskId: null }
    // Alone, there is nothing to choose between: the task runs here with no route to tell.
    if (peers.size === 0) return localFree ? { where: 'local', hop: null, executor: here } : null
    const choice = this.pick(needsOf(task.spec), { localFree })
    const best = choice.best
    if (best === null) {
      // No node in view could run it at all: it runs here, which says why (no model, ...).
      if (choice.capable > 0 || !localFree) return null
      const hop = this.#hop(attempt, selfId, true, 'chosen', [
        'no node in view can run it: it runs here to say why',
      ])
      return { where: 'local', hop, executor: here }
    }
    const c = best.candidate
    const reasons = [...best.reasons, ...passedOver(choice)].slice(0, 16)
    const hop = { ...this.#hop(attempt, c.peerId, c.local, 'chosen', reasons), score: best.score }
    if (c.local) return { where: 'local', hop, executor: here }
    const addrs = this.peerAddrs(c.peerId)
    return {
      where: 'remote',
      hop,
      run: (t, progress, signal) => this.#runRemote(c.peerId, addrs, t, progress, signal),
    }
  }

  /** Models peers offer now (online workers taking work), for the model lists of the IDE endpoints. */
  meshModels(): AdvertModel[] {
    const out = new Map<string, AdvertModel>()
    for (const p of this.#init.peers.list()) {
      if (!usable(p)) continue
      for (const m of p.models) if (!out.has(m.name)) out.set(m.name, m)
    }
    return [...out.values()]
  }

  /** A peer's advertised addresses (empty when it is not in view). */
  peerAddrs(peerId: string): string[] {
    return this.#init.peers.get(peerId)?.addrs ?? []
  }

  /** Leaves a peer alone for a while; routing looks again when the time is up. */
  backoff(peerId: string, ms: number): void {
    const now = Date.now()
    const left = this.history.backoff(peerId, now + ms, now)
    setTimeout(this.#wake, left + 1).unref()
  }

  async #runRemote(
    peerId: string,
    addrs: string[],
    task: TaskRecord,
    progress: TaskProgress,
    signal: AbortSignal,
  ): Promise<TaskOutcome> {
    const { options, client } = this.#init
    const attempt = task.runs
    let via: string | null = null
    const note = (event: RouteEvent, reasons: string[]) =>
      progress.routed({ ...this.#hop(attempt, peerId, false, event, reasons), via })
    this.history.placed(peerId)
    let executorTaskId: string | null = null
    let events = 0
    const since = performance.now()
    const offer = (reattach?: { skipEvents: number; since: number }) =>
      client.run({
        peerId,
        addrs,
        taskId: task.id,
        attempt,
        spec: task.spec,
        signal,
        ...(reattach && { reattach, answerWithinMs: stallAfterMs(options) }),
        onAccept: (a) => {
          via = a.via
          const why = executorTaskId === null ? relay(a.via) : `taken up again: ${relay(a.via)}`
          executorTaskId = a.executorTaskId
          progress.routed(
            { ...this.#hop(attempt, peerId, false, 'accepted', [why]), via },
            { peerId, local: false, attempt, taskId: a.executorTaskId },
          )
        },
        onEvent: (e) => {
          events++
          if (e.type === 'token') progress.token(e.text, e.phase, e.attempt)
          else if (e.type === 'attempt') progress.attempt(e.attempt)
          else progress.testResult(e.attempt, e.report)
        },
      })
    try {
      let r: OfferResult
      try {
        r = await offer()
      } catch (err) {
        // Only the stream is gone (the executor's side closed or reset it, so the node is there to
        // ask): the copy can still be running there, or have just finished. Ask the executor for
        // it once (the same attempt) before running the task anywhere else, so that neither its
        // work is lost nor the task is run to success twice. A stall is not asked again: the
        // executor is silent, and asking would only add another stall's wait before the rerun.
        if (executorTaskId === null || signal.aborted || !(err instanceof ExecutorLostError)) throw err
        note('lost', [err.message, 'asking it again for its copy'])
        try {
          r = await offer({ skipEvents: events, since })
        } catch (again) {
          if (signal.aborted) throw again
          this.history.lost(peerId)
          this.backoff(peerId, options.lostBackoffMs)
          const why = `${err.message}; asked again: ${(again as Error).message}`
          this.#init.log.warn({ taskId: task.id, peer: peerId, err: why }, 'executor lost a task: rerun')
          throw new TaskDisplacedError(why, { cause: err })
        }
      }
      if (r.status === 'cancelled' || r.error?.code === 'executor_gone' || r.error?.code === 'no_model') {
        // The executor let it go without a verdict on the task itself: another node gets it.
        this.history.lost(peerId)
        this.backoff(peerId, options.lostBackoffMs)
        note('lost', [`${short(peerId)} gave it up: ${r.error?.message ?? r.status}`])
        throw new TaskDisplacedError(`${short(peerId)} gave the task up: ${r.error?.message ?? r.status}`)
      }
      this.history.finished(peerId)
      note(r.status === 'succeeded' ? 'completed' : 'failed', [r.error?.message ?? 'result accepted'])
      return outcomeOf(r)
    } catch (err) {
      if (signal.aborted) {
        note('cancelled', [String((signal.reason as Error)?.message ?? signal.reason)])
        throw signal.reason
      }
      if (err instanceof TaskDisplacedError) throw err
      if (err instanceof OfferDeclinedError) {
        const retryable = err.reason === 'busy' || err.reason === 'paused' || err.reason === 'stopping'
        this.backoff(
          peerId,
          err.retryAfterMs ?? (retryable ? options.declineBackoffMs : options.lostBackoffMs),
        )
        note('declined', [`${err.reason}: ${err.message}`])
        const Displaced = retryable ? TaskDeclinedError : TaskDisplacedError
        throw new Displaced(`${short(peerId)} declined it (${err.reason})`, { cause: err })
      }
      this.history.lost(peerId)
      this.backoff(peerId, options.lostBackoffMs)
      const stalled = err instanceof ExecutorStalledError
      note(stalled ? 'stalled' : 'lost', [(err as Error).message])
      this.#init.log.warn(
        { taskId: task.id, peer: peerId, err: (err as Error).message },
        'executor lost a task: rerun',
      )
      throw new TaskDisplacedError((err as Error).message, { cause: err })
    } finally {
      this.history.released(peerId)
      this.#wake()
    }
  }

  #candidates(localFree: boolean): Candidate[] {
    const { selfId, executes, settings, peers } = this.#init
    const out: Candidate[] = []
    if (localFree && executes) {
      const l = this.#init.local()
      out.push({
        peerId: selfId,
        local: true,
        state: 'online',
        roles: ['worker'],
        power: 'active',
        models: l.models,
        slots: l.slots,
        queueDepth: l.queueDepth,
        load: l.load,
        rttMs: 0,
        region: settings.get().region,
        inflight: 0,
        successRate: 1,
        backoffUntil: 0,
      })
    }
    for (const p of peers.list()) {
      out.push({
        peerId: p.peerId,
        local: false,
        state: p.state,
        roles: p.roles,
        power: p.power,
        models: p.models.map((m) => m.name),
        slots: p.slots ?? { total: 0, free: 0 },
        queueDepth: p.queueDepth,
        load: p.load,
        rttMs: p.rttMs,
        region: p.region,
        inflight: this.history.inflight(p.peerId),
        successRate: this.history.successRate(p.peerId),
        backoffUntil: this.history.backoffUntil(p.peerId),
      })
    }
    return out
  }

  #hop(attempt: number, peerId: string, local: boolean, event: RouteEvent, reasons: string[]): RouteHop {
    return { at: new Date().toISOString(), attempt, peerId, local, via: null, event, reasons, score: null }
  }
}

/** A peer that may take work now. */
function usable(p: MeshPeer): boolean {
  return p.state !== 'offline' && p.roles.includes('worker') && p.power === 'active'
}
