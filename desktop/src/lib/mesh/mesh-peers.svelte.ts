import type { AgentApi } from '../api.ts'
import { followNodeEvents } from '../node-events.ts'
import type { MeshPeer } from './types.ts'

const PEER_EVENTS = ['peer-joined', 'peer-updated', 'peer-left'] as const

/**
 * The peer table as the panel shows it: read once from `GET /mesh/peers`, then kept current
 * by the peer events on `/events` (and read again whenever the stream had to start over).
 */
export class MeshPeers {
  peers = $state<MeshPeer[]>([])
  loaded = $state(false)
  error = $state<string | null>(null)
  /** Bumped on every peer event, for views that re-read what depends on one peer. */
  revision = $state(0)
  #api: () => AgentApi
  #byId = new Map<string, MeshPeer>()
  #stop: (() => void) | null = null
  #reading: AbortController | null = null

  /** `api` is read on each use: inside the shell the agent's address is known only after start. */
  constructor(api: () => AgentApi) {
    this.#api = api
  }

  start(): () => void {
    this.#stop = followNodeEvents(
      this.#api().eventsUrl(),
      PEER_EVENTS,
      (type, data) => this.#apply(type, data),
      () => void this.reload(),
    )
    return () => this.stop()
  }

  stop(): void {
    this.#stop?.()
    this.#reading?.abort()
  }

  get(peerId: string): MeshPeer | undefined {
    return this.#byId.get(peerId)
  }

  async reload(): Promise<void> {
    this.#reading?.abort()
    const ctrl = new AbortController()
    this.#reading = ctrl
    try {
      const { peers } = await this.#api().request<{ peers: MeshPeer[] }>(
        'GET',
        '/mesh/peers',
        undefined,
        ctrl.signal,
      )
      this.#byId = new Map(peers.map((p) => [p.peerId, p]))
      this.#publish()
      this.error = null
    } catch (err) {
      if (!ctrl.signal.aborted) this.error = (err as Error).message
    } finally {
      if (!ctrl.signal.aborted) this.loaded = true
    }
  }

  #apply(type: string, data: unknown): void {
    if (type === 'peer-left') {
      this.#byId.delete((data as { peerId: string }).peerId)
    } else {
      const { change: _, ...peer } = data as MeshPeer & { change?: string }
      this.#byId.set(peer.peerId, peer)
    }
    this.#publish()
  }

  #publish(): void {
    this.peers = [...this.#byId.values()]
    this.revision++
  }
}
