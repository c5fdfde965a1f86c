import type { AgentApi } from '../api.ts'
import type { TaskRecord } from '../tasks/types.ts'
import type { CreditHistoryEntry, MeshPeerDetail } from './types.ts'

/** How many recent tasks are searched for those exchanged with a peer. */
export const TASKS_SCANNED = 200

/** What this node and one peer did for each other. */
export interface PeerExchange {
  /** This node's tasks the peer ran (last executor), among the recent ones. */
  tasksSent: number
  /** Tasks the peer sent that this node ran. */
  tasksReceived: number
  /** Whether the tasks counted are all of them, or the recent ones only. */
  tasksComplete: boolean
  creditsIn: number
  creditsOut: number
  transfers: CreditHistoryEntry[]
}

export interface PeerView {
  detail: MeshPeerDetail
  exchange: PeerExchange
}

/** A peer's detail, and the tasks and credits exchanged with it. */
export async function readPeer(api: AgentApi, peerId: string, signal?: AbortSignal): Promise<PeerView> {
  const id = encodeURIComponent(peerId)
  const [detail, tasks, credits] = await Promise.all([
    api.request<MeshPeerDetail>('GET', `/agent-mesh/peers/${id}`, undefined, signal),
    api.request<{ tasks: TaskRecord[]; nextCursor: string | null }>(
      'GET',
      `/tasks?limit=${TASKS_SCANNED}`,
      undefined,
      signal,
    ),
    api.request<{ entries: CreditHistoryEntry[] }>(
      'GET',
      `/credits/history?limit=500&counterparty=${id}`,
      undefined,
      signal,
    ),
  ])
  return { detail, exchange: exchangeWith(peerId, tasks.tasks, tasks.nextCursor === null, credits.entries) }
}

export function exchangeWith(
  peerId: string,
  tasks: readonly TaskRecord[],
  tasksComplete: boolean,
  transfers: readonly CreditHistoryEntry[],
): PeerExchange {
  const mine = transfers.filter((t) => t.counterparty === peerId && t.state !== 'expired')
  const sum = (dir: 'in' | 'out') =>
    mine.filter((t) => t.direction === dir).reduce((n, t) => n + t.credits, 0)
  return {
    tasksSent: tasks.filter((t) => t.executor?.peerId === peerId && !t.executor.local).length,
    tasksReceived: tasks.filter((t) => t.origin?.peerId === peerId).length,
    tasksComplete,
    creditsIn: sum('in'),
    creditsOut: sum('out'),
    transfers: mine.slice(0, 8),
  }
}
