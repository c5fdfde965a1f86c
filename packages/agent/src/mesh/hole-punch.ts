import type { HolePunchReport } from '@edgecoder/protocol'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'

/** DCUtR's protocol: a peer that speaks it over a relayed connection is a hole-punching attempt. */
export const DCUTR_PROTOCOL = '/libp2p/dcutr'
/** libp2p's DCUtR tries 3 times, 5 s each; an attempt not upgraded by then has failed. */
const ATTEMPT_WINDOW_MS = 20_000
const RECENT = 16

interface Attempt {
  peerId: string
  startedAt: number
  timer: NodeJS.Timeout
}

function isRelayed(c: Connection): boolean {
  return c.remoteAddr.toString().includes('/p2p-circuit')
}

/**
 * What became of hole punching. libp2p starts DCUtR on every relayed connection to a peer that
 * speaks it, and reports nothing; this watches from outside: the attempt starts when such a
 * connection opens (the same topology notification DCUtR itself acts on), succeeds when a direct
 * connection to that peer opens within the window (hole punched, or the unilateral upgrade), and
 * fails when the window passes, or the relayed connection closes, without one.
 */
export class HolePunchTracker {
  readonly #attempts = new Map<string, Attempt>()
  readonly #recent: HolePunchReport['recent'] = []
  #counts = { attempted: 0, succeeded: 0, failed: 0 }
  readonly #now: () => number
  readonly #windowMs: number
  #topology: string | null = null
  #host: Libp2p | null = null

  constructor(opts: { now?: () => number; windowMs?: number } = {}) {
    this.#now = opts.now ?? Date.now
    this.#windowMs = opts.windowMs ?? ATTEMPT_WINDOW_MS
  }

  async start(host: Libp2p): Promise<void> {
    this.#host = host
    this.#topology = await host.register(DCUTR_PROTOCOL, {
      notifyOnLimitedConnection: true,
      onConnect: (peer: PeerId, conn: Connection) => {
        if (isRelayed(conn)) this.relayedOpened(peer.toString())
      },
    })
    host.addEventListener('connection:open', this.#onOpen)
    host.addEventListener('connection:close', this.#onClose)
  }

  stop(): void {
    if (this.#topology !== null) this.#host?.unregister(this.#topology)
    this.#host?.removeEventListener('connection:open', this.#onOpen)
    this.#host?.removeEventListener('connection:close', this.#onClose)
    for (const a of this.#attempts.values()) clearTimeout(a.timer)
    this.#attempts.clear()
    this.#host = null
  }

  /** A relayed connection to a DCUtR peer: libp2p is about to try to punch through. */
  relayedOpened(peerId: string): void {
    if (this.#attempts.has(peerId)) return
    // Already direct as well: nothing to punch.
    const conns = this.#host?.getConnections(peerIdFromString(peerId)) ?? []
    if (conns.some((c) => c.status === 'open' && !isRelayed(c))) return
    this.#counts.attempted++
    const timer = setTimeout(() => this.#end(peerId, 'failed'), this.#windowMs)
    timer.unref()
    this.#attempts.set(peerId, { peerId, startedAt: this.#now(), timer })
  }

  /** A direct connection to the peer opened. */
  directOpened(peerId: string): void {
    this.#end(peerId, 'succeeded')
  }

  /** The relayed connection closed; without a direct one, the attempt failed. */
  relayedClosed(peerId: string, directOpen: boolean): void {
    this.#end(peerId, directOpen ? 'succeeded' : 'failed')
  }

  report(): HolePunchReport {
    return { ...this.#counts, pending: this.#attempts.size, recent: [...this.#recent] }
  }

  #end(peerId: string, outcome: 'succeeded' | 'failed'): void {
    const a = this.#attempts.get(peerId)
    if (a === undefined) return
    clearTimeout(a.timer)
    this.#attempts.delete(peerId)
    this.#counts[outcome]++
    const at = this.#now()
    this.#recent.unshift({ peerId, outcome, at: new Date(at).toISOString(), ms: at - a.startedAt })
    this.#recent.length = Math.min(this.#recent.length, RECENT)
  }

  readonly #onOpen = (e: CustomEvent<Connection>) => {
    if (!isRelayed(e.detail)) this.directOpened(e.detail.remotePeer.toString())
  }

  readonly #onClose = (e: CustomEvent<Connection>) => {
    const c = e.detail
    if (!isRelayed(c)) return
    const peer = c.remotePeer
    const direct = (this.#host?.getConnections(peer) ?? []).some((x) => x.status === 'open' && !isRelayed(x))
    this.relayedClosed(peer.toString(), direct)
  }
}
