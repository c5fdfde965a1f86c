import type { OrchestrationSettings } from '@edgecoder/protocol'
import { policyAllowsWork } from '../settings/index.ts'
import { AdoptionRefusedError } from './errors.ts'

export interface AdoptionState {
  executes: boolean
  started: boolean
  settings: OrchestrationSettings
  /** The task's kind: `run` and `code` tasks run code in the sandbox. */
  kind: string
  /** False where the sandbox has no OS confinement and the operator did not allow it anyway. */
  acceptsPeerCode: boolean
  /** The peer's tasks already waiting here. */
  waiting: number
  /** All peers' tasks waiting here, whatever identity sent them. */
  peersWaiting: number
  /** All tasks waiting here. */
  queued: number
  maxQueued: number
  retryAfterMs: () => number
}

/**
 * Peer tasks that may run here at once: all peers together, so fresh identities can't take
 * more, and the local user keeps at least a quarter of the slots (one, with two or three).
 */
export function peerSlots(maxConcurrentTasks: number): number {
  return Math.max(1, maxConcurrentTasks - Math.ceil(maxConcurrentTasks / 4))
}

/**
 * Peer tasks that may wait here, all peers together: room for two peers' full share each, so
 * a flooding peer can't crowd another out, while any number of fresh identities gets no more.
 */
export function peerWaitingRoom(maxConcurrentTasks: number): number {
  return 2 * maxConcurrentTasks
}

/**
 * Throws why this node can't take one more of a peer's tasks now: it runs no tasks, it is
 * stopping or off duty, the task would run code outside OS confinement, the peer already has
 * `maxConcurrentTasks` tasks waiting here, all peers together fill their waiting room (so a
 * flood of fresh identities gets no more than two peers would), or the queue is full.
 */
export function refuseAdoption(s: AdoptionState): void {
  if (!s.executes)
    throw new AdoptionRefusedError('not-worker', 'this node is a coordinator: it runs no tasks')
  if (!s.started) throw new AdoptionRefusedError('stopping', 'this node is stopping')
  if (!policyAllowsWork(s.settings, new Date(), false))
    throw new AdoptionRefusedError('paused', 'this node is not taking work now (paused or outside its hours)')
  if (!s.acceptsPeerCode && (s.kind === 'run' || s.kind === 'code'))
    throw new AdoptionRefusedError(
      'not-worker',
      'this node runs no code for peers: its sandbox has no OS confinement here',
    )
  if (s.waiting >= s.settings.maxConcurrentTasks || s.queued >= s.maxQueued)
    throw new AdoptionRefusedError('busy', `${s.waiting} of your tasks already wait here`, s.retryAfterMs())
  if (s.peersWaiting >= peerWaitingRoom(s.settings.maxConcurrentTasks))
    throw new AdoptionRefusedError(
      'busy',
      `peers' tasks already fill the room kept for them here (${s.peersWaiting} waiting)`,
      s.retryAfterMs(),
    )
}
