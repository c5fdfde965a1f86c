import type { AdvertRejection } from '@edgecoder/protocol'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from '../logger.ts'
import type { AdvertTiming } from './advert-timing.ts'
import { checkAdvert } from './adverts.ts'
import type { PeerTable } from './peer-table.ts'

export interface IntakeInit {
  selfId: string
  table: PeerTable
  maxAdvertAgeMs: number
  maxClockSkewMs: number
  evictAfterHeartbeats: number
  /** Whether a peer may enter the table (activation, when required); absent: every valid advert may. */
  admit?: (peerId: string, activation: unknown) => Promise<boolean>
  /** Where the stages of received adverts are timed. */
  timing?: AdvertTiming
  log: Logger
}

/**
 * Where adverts enter the node, from gossip or from a neighbour's snapshot. Only an advert that
 * passes every check reaches the peer table; gossip that fails is rejected, which costs its
 * sender gossip score.
 */
export class AdvertIntake {
  readonly #init: IntakeInit
  accepted = 0
  ignored = 0
  readonly rejected: Record<AdvertRejection, number> = {
    oversize: 0,
    malformed: 0,
    'bad-signature': 0,
    'sender-mismatch': 0,
    replayed: 0,
    stale: 0,
    future: 0,
    'not-activated': 0,
  }

  constructor(init: IntakeInit) {
    this.#init = init
  }

  /** The gossip topic validator: `from` signed the gossip message, `source` forwarded it to us. */
  async fromGossip(from: string, source: string, data: Uint8Array): Promise<TopicValidatorResult> {
    const { table, selfId, timing } = this.#init
    const now = Date.now()
    const check = await checkAdvert(
      data,
      from,
      { now, maxAgeMs: this.#init.maxAdvertAgeMs, maxSkewMs: this.#init.maxClockSkewMs },
      timing,
    )
    if (!check.ok) return this.#reject(check.reason, source)
    if (check.advert.signed.body.peerId === selfId) {
      this.ignored++
      return TopicValidatorResult.Ignore
    }
    const t0 = performance.now()
    const admitted = await this.#admitted(check.advert.signed.body)
    const t1 = performance.now()
    timing?.record('admit', t1 - t0)
    if (!admitted) return this.#reject('not-activated', source)
    const outcome = table.offer(check.advert, Date.now(), 'gossip')
    timing?.record('table', performance.now() - t1)
    if (outcome === 'replayed') return this.#reject('replayed', source)
    if (outcome === 'duplicate') return TopicValidatorResult.Accept
    if (outcome === 'superseded') {
      // Arrived after a newer one from the same peer (another path was faster): late, not hostile.
      this.ignored++
      return TopicValidatorResult.Ignore
    }
    this.accepted++
    return TopicValidatorResult.Accept
  }

  /** Adverts a neighbour relayed in a snapshot; each is dated by itself. Returns how many were taken. */
  async fromSnapshot(adverts: Uint8Array[], source: string): Promise<number> {
    const { table, selfId, evictAfterHeartbeats } = this.#init
    let taken = 0
    for (const bytes of adverts) {
      const now = Date.now()
      const check = await checkAdvert(bytes, null, {
        now,
        maxAgeMs: Number.POSITIVE_INFINITY,
        maxSkewMs: this.#init.maxClockSkewMs,
      })
      if (!check.ok) {
        this.#count(check.reason, source)
        continue
      }
      const body = check.advert.signed.body
      if (body.peerId === selfId || now - body.timestamp > evictAfterHeartbeats * body.intervalMs) continue
      if (!(await this.#admitted(body))) {
        this.#count('not-activated', source)
        continue
      }
      if (table.offer(check.advert, now, 'snapshot', body.timestamp) === 'accepted') {
        this.accepted++
        taken++
      }
    }
    return taken
  }

  #admitted(body: { peerId: string; activation?: unknown }): Promise<boolean> {
    return this.#init.admit ? this.#init.admit(body.peerId, body.activation) : Promise.resolve(true)
  }

  #reject(reason: AdvertRejection, source: string): TopicValidatorResult {
    this.#count(reason, source)
    return TopicValidatorResult.Reject
  }

  #count(reason: AdvertRejection, source: string): void {
    this.rejected[reason]++
    this.#init.log.warn({ reason, peer: source }, 'advert rejected')
  }
}
