import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'
import { dialableAddrs, fetchCoordinators } from './discovery.ts'
import type { MeshHost } from './host.ts'
import type { MeshOptions } from './options.ts'
import type { PeerCache } from './peer-cache.ts'
import type { PeerTable } from './peer-table.ts'

/** Per peer: time for a direct address that drops packets (host.ts's per-address timeout) and then the relay. */
const DIAL_TIMEOUT_MS = 20_000
const DISCOVERY_TIMEOUT_MS = 5_000
const DIALS_AT_ONCE = 8
/**
 * While alone, the node retries its entry points with this backoff. The cap is short: a node with
 * no connection is useless to its operator, and on a loaded machine a dial that timed out says
 * more about the local load than about the entry point (a minute's cap once left nodes alone for
 * 90 s under load).
 */
const REJOIN_MIN_MS = 2_000
const REJOIN_MAX_MS = 15_000

/**
 * Keeps the node connected: dials its entry points (bootstrap addresses, the discovery URL's
 * coordinators, peers cached from earlier runs) and, while below its target, peers it learned
 * from adverts. Alone again (the seed died, the network dropped), it dials the peers its table
 * still holds and its entry points, and retries with backoff.
 */
export class Connectivity {
  readonly #host: MeshHost
  readonly #opts: MeshOptions
  readonly #cache: PeerCache
  readonly #table: PeerTable
  readonly #log: Logger
  readonly #selfId: string
  #rejoinAt = 0
  #rejoinDelay = REJOIN_MIN_MS
  #busy = false

  /** Entry points added at run time (settings, an invite), besides `opts.bootstrap`. */
  readonly #extraEntries: () => readonly string[]

  constructor(
    host: MeshHost,
    opts: MeshOptions,
    cache: PeerCache,
    table: PeerTable,
    log: Logger,
    extraEntries: () => readonly string[] = () => [],
  ) {
    this.#host = host
    this.#extraEntries = extraEntries
    this.#opts = opts
    this.#cache = cache
    this.#table = table
    this.#log = log
    this.#selfId = host.peerId.toString()
  }

  /**
   * Dials every entry point once, and some of the peers the table still holds: a node that lost
   * its connections (its event loop stalled past their pings, its network dropped) knows who was
   * there moments ago, and its entry points may be the ones that went down. Resolves when each
   * dial has succeeded or failed.
   */
  async join(signal: AbortSignal): Promise<number> {
    // One target per peer: libp2p tries a peer's addresses itself.
    const targets = [...new Set([...this.#opts.bootstrap, ...this.#extraEntries()])].map((a) => [a])
    const listed = new Set<string>()
    // Those heard from lately first; after a long stall every peer may read offline.
    const known = this.#table.list().filter((p) => p.addrs.length > 0)
    shuffle(known)
    known.sort((a, b) => Number(a.state === 'offline') - Number(b.state === 'offline'))
    for (const peer of known.slice(0, this.#opts.targetConnections)) {
      listed.add(peer.peerId)
      targets.push(dialableAddrs(peer.peerId, peer.addrs))
    }
    for (const peer of this.#cache.recent(Date.now())) {
      if (peer.peerId !== this.#selfId && !listed.has(peer.peerId))
        targets.push(dialableAddrs(peer.peerId, peer.addrs))
    }
    if (this.#opts.discoveryUrl !== null) {
      try {
        const timeout = AbortSignal.any([signal, AbortSignal.timeout(DISCOVERY_TIMEOUT_MS)])
        for (const c of await fetchCoordinators(this.#opts.discoveryUrl, timeout)) {
          if (c.peerId !== this.#selfId && c.addrs.length > 0) targets.push(dialableAddrs(c.peerId, c.addrs))
        }
      } catch (err) {
        if (signal.aborted) return 0
        this.#log.warn({ err: (err as Error).message }, 'discovery URL gave no coordinators')
      }
    }
    const failures: string[] = []
    const connected = await this.#dialAll(targets, signal, failures)
    // An operator whose node can't join wants to know why, not only that it is alone.
    if (connected === 0 && failures.length > 0 && !signal.aborted)
      this.#log.warn({ entryPoints: targets.length, errors: failures.slice(0, 4) }, 'no entry point answered')
    return connected
  }

  /** One round of upkeep: rejoin when alone, otherwise top up connections from the peer table. */
  async maintain(signal: AbortSignal): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const connected = new Set(this.#host.getPeers().map((p) => p.toString()))
      if (connected.size === 0) {
        if (Date.now() < this.#rejoinAt) return
        const joined = await this.join(signal)
        this.#rejoinDelay = joined > 0 ? REJOIN_MIN_MS : Math.min(REJOIN_MAX_MS, this.#rejoinDelay * 2)
        // Jitter, so that nodes a seed's restart left alone together don't dial it in lockstep.
        this.#rejoinAt = Date.now() + this.#rejoinDelay * (0.8 + Math.random() * 0.4)
        return
      }
      this.#rejoinDelay = REJOIN_MIN_MS
      const missing = this.#opts.targetConnections - connected.size
      if (missing <= 0) return
      const candidates = this.#table
        .list()
        .filter((p) => p.state !== 'offline' && !connected.has(p.peerId) && p.addrs.length > 0)
      shuffle(candidates)
      const targets = candidates.slice(0, missing).map((p) => dialableAddrs(p.peerId, p.addrs))
      await this.#dialAll(targets, signal)
    } finally {
      this.#busy = false
    }
  }

  /** Dials targets (each: one peer's addresses) a few at a time; returns how many connected. */
  async #dialAll(targets: string[][], signal: AbortSignal, failures: string[] = []): Promise<number> {
    let connected = 0
    const queue = targets.filter((t) => t.length > 0 && !t.some((a) => this.#isSelf(a)))
    const worker = async () => {
      for (let t = queue.shift(); t !== undefined && !signal.aborted; t = queue.shift()) {
        try {
          const timeout = AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)])
          // libp2p tries them in dial-order.ts's order: reachable direct ones, then relays.
          await this.#host.dial(
            t.map((a) => multiaddr(a)),
            { signal: timeout },
          )
          connected++
        } catch (err) {
          const e = err as Error & { errors?: Error[] }
          const why = e.errors?.length ? e.errors.map((x) => x.message).join('; ') : e.message
          failures.push(`${t[0]}: ${why}`)
          this.#log.debug({ addrs: t, err: why }, 'dial failed')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(DIALS_AT_ONCE, queue.length) }, worker))
    return connected
  }

  #isSelf(addr: string): boolean {
    const id = /\/p2p\/([^/]+)$/.exec(addr)?.[1]
    if (id === undefined) return false
    try {
      return peerIdFromString(id).equals(this.#host.peerId)
    } catch {
      return true
    }
  }
}

function shuffle<T>(xs: T[]): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
}
