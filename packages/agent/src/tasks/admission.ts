import type { OrchestrationSettings } from '@edgecoder/protocol'
import { policyAllowsWork } from '../settings/index.ts'
import { AdoptionRefusedError } from './errors.ts'

export interface AdoptionState {
  executes: boolean
  started: boolean
  settings: OrchestrationSettings
  /** The peer's tasks already waiting here. */
  waiting: number
  /** All tasks waiting here. */
  queued: number
  maxQueued: number
  retryAfterMs: () => number
}

/**
 * Throws why this node can't take one more of a peer's tasks now: it runs no tasks, it is
 * stopping or off duty, or the peer already has `maxConcurrentTasks` tasks waiting here (so a
 * peer that floods can't crowd out the others), or the queue is full.
 */
export function refuseAdoption(s: AdoptionState): void {
  if (!s.executes)
    throw new AdoptionRefusedError('not-worker', 'this node is a coordinator: it runs no tasks')
  if (!s.started) throw new AdoptionRefusedError('stopping', 'this node is stopping')
  if (!policyAllowsWork(s.settings, new Date(), false))
    throw new AdoptionRefusedError('paused', 'this node is not taking work now (paused or outside its hours)')
  if (s.waiting >= s.settings.maxConcurrentTasks || s.queued >= s.maxQueued)
    throw new AdoptionRefusedError('busy', `${s.waiting} of your tasks already wait here`, s.retryAfterMs())
}
