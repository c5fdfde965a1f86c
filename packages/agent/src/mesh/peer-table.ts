import { EventEmitter } from 'node:events'
import type { MeshPeer, MeshPeerDetail, PeerState, PeerStateChange } from '@edgecoder/protocol'
import type { CheckedAdvert } from './adverts.ts'

/**
 * What the table did with an advert. `replayed` counts against the sender; `superseded` (a newer
 * one came first) and `duplicate` (gossip bringing what a snapshot already did) are not hostile.
 */
export type AdvertOutcome = 'accepted' | 'replayed' | 'superseded' | 'duplicate'

/** How an advert reached this node. */
export type AdvertRoute = 'gossip' | 'snapshot'

export interface PeerTableOptions {
  /** A peer silent for this many of its heartbeats is evicted (at least 2). */
  evictAfterHeartbeats: number
}

export interface PeerTableEvents {
  joined: [MeshPeer]
  updated: [MeshPeer, string]
  left: [string, string]
}

interface Entry {
  advert: CheckedAdvert
  advertReceivedAt: number
  firstSeen: number
  /** Latest evidence from its adverts: states and eviction follow this alone. */
  heardAt: number
  /** Latest sign of life of any kind (an advert, an open connection), for display. */
  lastSeen: number
  state: PeerState
  history: PeerStateChange[]
  connection: 'direct' | 'relayed' | null
  rttMs: number | null
}

const HISTORY_LENGTH = 32
// Sequence numbers of evicted peers are remembered a while, so an old advert can't bring one back.
const REMEMBERED_SEQS = 4096

// States by silence, in heartbeats of the peer: a missed advert makes it suspect, two make it offline.
const SUSPECT_AFTER = 1.5
const OFFLINE_AFTER = 2

function stateFor(silenceMs: number, intervalMs: number): PeerState {
  const beats = silenceMs / intervalMs
  return beats > OFFLINE_AFTER ? 'offline' : beats > SUSPECT_AFTER ? 'suspect' : 'online'
}

/**
 * Every peer this node knows: its latest advert merged with what the connection says (direct or
 * relayed, RTT, last activity). States follow silence: online → suspect → offline → evicted.
 */
export class PeerTable extends EventEmitter<PeerTableEvents> {
  readonly #entries = new Map<string, Entry>()
  readonly #seqs = new Map<string, { seq: number; via: AdvertRoute }>()
  readonly #evictAfter: number

  constructor(opts: PeerTableOptions) {
    super()
    this.#evictAfter = Math.max(OFFLINE_AFTER, opts.evictAfterHeartbeats)
  }

  get size(): number {
    return this.#entries.size
  }

  /**
   * Takes a checked advert if its sequence is newer than any seen from that peer. `seenAt` is
   * when the peer was last known alive: now for gossip, the advert's own date for a snapshot.
   */
  offer(advert: CheckedAdvert, now: number, via: AdvertRoute = 'gossip', seenAt = now): AdvertOutcome {
    const { body } = advert.signed
    const last = this.#seqs.get(body.peerId)
    if (last !== undefined && body.seq === last.seq) {
      if (via === 'snapshot') return 'duplicate'
      // Gossip dedupes what it delivers, so the same sequence twice through it is a replay.
      if (last.via === 'gossip') return 'replayed'
      const entry = this.#entries.get(body.peerId)
      if (entry === undefined || !Buffer.from(entry.advert.bytes).equals(advert.bytes)) return 'replayed'
      // The original publication, after a snapshot brought the same advert: fresh news of the peer.
      last.via = 'gossip'
      entry.heardAt = Math.max(entry.heardAt, now)
      entry.lastSeen = Math.max(entry.lastSeen, now)
      this.#updateState(body.peerId, entry, now)
      return 'duplicate'
    }
    if (last !== undefined && body.seq < last.seq) return 'superseded'
    this.#rememberSeq(body.peerId, body.seq, via)
    const entry = this.#entries.get(body.peerId)
    if (entry === undefined) {
      const heardAt = Math.min(now, seenAt)
      const state = stateFor(now - heardAt, body.intervalMs)
      const fresh: Entry = {
        advert,
        advertReceivedAt: now,
        firstSeen: now,
        heardAt,
        lastSeen: heardAt,
        state,
        history: [{ state, at: new Date(now).toISOString(), reason: 'first advert' }],
        connection: null,
        rttMs: null,
      }
      this.#entries.set(body.peerId, fresh)
      this.emit('joined', this.#row(body.peerId, fresh))
      return 'accepted'
    }
    entry.advert = advert
    entry.advertReceivedAt = now
    entry.heardAt = Math.max(entry.heardAt, Math.min(now, seenAt))
    entry.lastSeen = Math.max(entry.lastSeen, entry.heardAt)
    if (!this.#updateState(body.peerId, entry, now)) {
      this.emit('updated', this.#row(body.peerId, entry), 'advert')
    }
    return 'accepted'
  }

  /** The last sequence accepted from a peer, if any. */
  lastSeq(peerId: string): number | undefined {
    return this.#seqs.get(peerId)?.seq
  }

  /**
   * Notes a sign of life other than an advert (an open connection answering pings). It shows in
   * `lastSeen` but keeps no peer online: one that stays connected yet stops advertising is not
   * doing its part, and leaves like any silent peer.
   */
  touch(peerId: string, now: number): void {
    const entry = this.#entries.get(peerId)
    if (entry !== undefined) entry.lastSeen = Math.max(entry.lastSeen, now)
  }

  /** Records how this node reaches the peer now; the RTT is kept from the last measure. */
  link(peerId: string, connection: 'direct' | 'relayed' | null, rttMs: number | null): void {
    const entry = this.#entries.get(peerId)
    if (entry === undefined) return
    entry.connection = connection
    if (rttMs !== null) entry.rttMs = rttMs
  }

  /** Re-derives every peer's state from its silence; evicts the long silent. */
  tick(now: number): void {
    for (const [peerId, entry] of this.#entries) {
      const interval = entry.advert.signed.body.intervalMs
      if (now - entry.heardAt > this.#evictAfter * interval) {
        this.#entries.delete(peerId)
        this.emit('left', peerId, `no advert for ${Math.round((now - entry.heardAt) / 1000)} s`)
        continue
      }
      this.#updateState(peerId, entry, now)
    }
  }

  /** Forgets a peer at once (its advert names us, or it was found hostile). */
  remove(peerId: string, reason: string): void {
    if (this.#entries.delete(peerId)) this.emit('left', peerId, reason)
  }

  has(peerId: string): boolean {
    return this.#entries.has(peerId)
  }

  list(): MeshPeer[] {
    return [...this.#entries]
      .map(([id, e]) => this.#row(id, e))
      .sort((a, b) => (a.peerId < b.peerId ? -1 : 1))
  }

  get(peerId: string): MeshPeerDetail | undefined {
    const e = this.#entries.get(peerId)
    if (e === undefined) return undefined
    return {
      ...this.#row(peerId, e),
      advert: e.advert.signed,
      advertReceivedAt: new Date(e.advertReceivedAt).toISOString(),
      firstSeen: new Date(e.firstSeen).toISOString(),
      history: e.history.map((h) => ({ ...h })),
    }
  }

  /** Adverts of peers that are not offline: what a joining peer gets to fill its table at once. */
  snapshot(): CheckedAdvert[] {
    return [...this.#entries.values()].filter((e) => e.state !== 'offline').map((e) => e.advert)
  }

  counts(): Record<PeerState, number> {
    const out: Record<PeerState, number> = { online: 0, suspect: 0, offline: 0 }
    for (const e of this.#entries.values()) out[e.state]++
    return out
  }

  /** Sets the state the silence calls for; true when it changed (and `updated` was emitted). */
  #updateState(peerId: string, entry: Entry, now: number): boolean {
    const interval = entry.advert.signed.body.intervalMs
    const state = stateFor(now - entry.heardAt, interval)
    if (state === entry.state) return false
    entry.state = state
    const beats = ((now - entry.heardAt) / interval).toFixed(1)
    const reason = state === 'online' ? 'adverts resumed' : `no advert for ${beats} heartbeats`
    entry.history.push({ state, at: new Date(now).toISOString(), reason })
    if (entry.history.length > HISTORY_LENGTH) entry.history.shift()
    this.emit('updated', this.#row(peerId, entry), 'state')
    return true
  }

  #rememberSeq(peerId: string, seq: number, via: AdvertRoute): void {
    this.#seqs.delete(peerId)
    this.#seqs.set(peerId, { seq, via })
    if (this.#seqs.size > REMEMBERED_SEQS) {
      const oldest = this.#seqs.keys().next().value
      if (oldest !== undefined && !this.#entries.has(oldest)) this.#seqs.delete(oldest)
    }
  }

  #row(peerId: string, e: Entry): MeshPeer {
    const b = e.advert.signed.body
    return {
      peerId,
      state: e.state,
      region: b.region,
      roles: [...b.roles],
      models: b.models.map((m) => ({ ...m })),
      slots: { ...b.slots },
      queueDepth: b.queueDepth,
      load: b.load,
      power: b.power,
      rttMs: e.rttMs,
      lastSeen: new Date(e.lastSeen).toISOString(),
      connection: e.connection,
      addrs: [...b.addrs],
    }
  }
}
