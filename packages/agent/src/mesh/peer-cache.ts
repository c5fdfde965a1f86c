import type { Store } from '../store/index.ts'
import { MESH_MIGRATIONS } from './migrations.ts'

/** A peer remembered from an earlier run. */
export interface CachedPeer {
  peerId: string
  addrs: string[]
  roles: string[]
  lastSeen: number
}

/** Cached peers older than this are not worth dialing. */
const MAX_AGE_MS = 14 * 24 * 3600_000
/** How many peers a node remembers; the most recently seen win. */
const CAPACITY = 256
/** A peer's row is rewritten at most this often while it stays the same. */
const WRITE_EVERY_MS = 60_000

/**
 * Peers learned from the mesh, kept in the node's store so a restarted node finds the mesh
 * again even when its seed is gone.
 */
export class PeerCache {
  readonly #store: Store
  readonly #written = new Map<string, { at: number; addrs: string }>()

  constructor(store: Store) {
    this.#store = store
    store.migrate(MESH_MIGRATIONS)
  }

  /** Remembers a peer's addresses; cheap to call on every advert (writes are throttled). */
  remember(peer: CachedPeer): void {
    if (peer.addrs.length === 0) return
    const addrs = JSON.stringify(peer.addrs)
    const prev = this.#written.get(peer.peerId)
    if (prev !== undefined && prev.addrs === addrs && peer.lastSeen - prev.at < WRITE_EVERY_MS) return
    this.#store.db
      .prepare(
        `INSERT INTO mesh_peer_cache (peer_id, addrs, roles, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT(peer_id) DO UPDATE SET addrs = excluded.addrs, roles = excluded.roles, last_seen = excluded.last_seen`,
      )
      .run(peer.peerId, addrs, JSON.stringify(peer.roles), peer.lastSeen)
    this.#written.set(peer.peerId, { at: peer.lastSeen, addrs })
  }

  /** Peers seen recently, most recent first; drops the rest from the store. */
  recent(now: number, limit = 64): CachedPeer[] {
    const db = this.#store.db
    db.prepare('DELETE FROM mesh_peer_cache WHERE last_seen < ?').run(now - MAX_AGE_MS)
    db.prepare(
      'DELETE FROM mesh_peer_cache WHERE peer_id NOT IN (SELECT peer_id FROM mesh_peer_cache ORDER BY last_seen DESC LIMIT ?)',
    ).run(CAPACITY)
    const rows = db
      .prepare('SELECT peer_id, addrs, roles, last_seen FROM mesh_peer_cache ORDER BY last_seen DESC LIMIT ?')
      .all(limit) as { peer_id: string; addrs: string; roles: string; last_seen: number }[]
    return rows.flatMap((r) => {
      try {
        return [
          {
            peerId: r.peer_id,
            addrs: JSON.parse(r.addrs),
            roles: JSON.parse(r.roles),
            lastSeen: r.last_seen,
          },
        ]
      } catch {
        return []
      }
    })
  }
}

/** The advert sequence, persisted so it keeps rising across restarts even if the clock steps back. */
export class AdvertSequence {
  readonly #store: Store
  #last: number

  constructor(store: Store) {
    this.#store = store
    store.migrate(MESH_MIGRATIONS)
    const row = store.db.prepare("SELECT value FROM mesh_state WHERE key = 'advert_seq'").get() as
      | { value: string }
      | undefined
    this.#last = row ? Number(row.value) || 0 : 0
  }

  /** The next sequence: above the last one and, normally, the current time in ms. */
  next(now: number): number {
    this.#last = Math.max(this.#last + 1, now)
    this.#store.db
      .prepare(
        "INSERT INTO mesh_state (key, value) VALUES ('advert_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      )
      .run(String(this.#last))
    return this.#last
  }
}
