import type { Connection, IdentifyResult, Libp2p } from '@libp2p/interface'
import type { Logger } from '../logger.ts'

/** A connection this old without a finished identify is retried. */
const IDENTIFY_GRACE_MS = 8_000
/** Time for a retried identify: a loaded machine answers late, not never. */
const RETRY_TIMEOUT_MS = 15_000
/** After this many failed retries the connection is closed, so a fresh dial starts over. */
const MAX_RETRIES = 2

interface Identify {
  identify(connection: Connection, options?: { signal?: AbortSignal }): Promise<IdentifyResult>
}

/**
 * libp2p identifies a peer once, when a connection opens, and drops a failure silently. Until
 * identify succeeds nothing knows the peer's protocols: gossipsub never opens its stream, no
 * snapshot is fetched, and the two nodes stay connected yet strangers. On a loaded machine the
 * first identify can time out; this retries it, and closes a connection that keeps failing so
 * the connectivity upkeep dials the peer afresh.
 */
export class IdentifyRepair {
  readonly #identified = new WeakSet<Connection>()
  readonly #tries = new WeakMap<Connection, number>()
  readonly #inFlight = new WeakSet<Connection>()
  readonly #host: Libp2p<{ identify: Identify }>
  readonly #log: Logger

  constructor(host: Libp2p<{ identify: Identify }>, log: Logger) {
    this.#host = host
    this.#log = log
    host.addEventListener('peer:identify', (e) => this.#identified.add(e.detail.connection))
  }

  /** Retries identify on connections that have gone without it for too long. */
  check(now: number, signal: AbortSignal): void {
    for (const conn of this.#host.getConnections()) {
      if (conn.status !== 'open' || this.#identified.has(conn) || this.#inFlight.has(conn)) continue
      if (now - conn.timeline.open < IDENTIFY_GRACE_MS) continue
      const tries = this.#tries.get(conn) ?? 0
      if (tries >= MAX_RETRIES) {
        this.#log.info({ peer: conn.remotePeer.toString() }, 'identify keeps failing: closing the connection')
        conn.close().catch(() => conn.abort(new Error('identify failed')))
        continue
      }
      this.#tries.set(conn, tries + 1)
      this.#inFlight.add(conn)
      this.#host.services.identify
        .identify(conn, { signal: AbortSignal.any([signal, AbortSignal.timeout(RETRY_TIMEOUT_MS)]) })
        .then(() => this.#log.info({ peer: conn.remotePeer.toString() }, 'identify succeeded on retry'))
        .catch((err) => this.#log.debug({ err: (err as Error).message }, 'identify retry failed'))
        .finally(() => this.#inFlight.delete(conn))
    }
  }
}
