import type { AdvertBody } from '@edgecoder/protocol'
import type { PrivateKey } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import type { AdvertTiming } from './advert-timing.ts'
import { signAdvert } from './adverts.ts'
import { ADVERT_COALESCE_MS, heartbeatFor } from './options.ts'
import type { AdvertSequence } from './peer-cache.ts'

/** What the node currently has to say about itself; the advertiser adds sequence, time and heartbeat. */
export type AdvertContent = Omit<AdvertBody, 'v' | 'peerId' | 'version' | 'intervalMs' | 'seq' | 'timestamp'>

export interface AdvertiserInit {
  peerId: string
  key: PrivateKey
  version: string
  baseHeartbeatMs: number
  sequence: AdvertSequence
  content: () => AdvertContent
  /** Peers this node knows now: the heartbeat stretches with them. */
  knownPeers: () => number
  /** `urgent` for a change, which should reach everyone at once; heartbeats may take the slow path. */
  publish: (bytes: Uint8Array, urgent: boolean) => Promise<void>
  timing?: AdvertTiming
  log: Logger
}

/**
 * Publishes this node's advert on every change (changes close together go out as one) and on a
 * heartbeat. Every advert states the heartbeat it keeps, and the next one always comes sooner.
 */
export class Advertiser {
  readonly #init: AdvertiserInit
  #timer: NodeJS.Timeout | undefined
  #running = false
  #chain: Promise<void> = Promise.resolve()
  #changed = false
  #latest: Uint8Array | undefined
  #intervalMs: number

  constructor(init: AdvertiserInit) {
    this.#init = init
    this.#intervalMs = init.baseHeartbeatMs
  }

  /** The last advert this node signed, as sent. */
  get latest(): Uint8Array | undefined {
    return this.#latest
  }

  get intervalMs(): number {
    return this.#intervalMs
  }

  start(): void {
    this.#running = true
    this.#schedule(0)
  }

  stop(): void {
    this.#running = false
    clearTimeout(this.#timer)
  }

  /** Something in the advert changed: publish soon. */
  changed(): void {
    if (!this.#running) return
    this.#changed = true
    this.#schedule(ADVERT_COALESCE_MS)
  }

  /** Resolves once adverts queued so far have gone out. */
  settled(): Promise<void> {
    return this.#chain
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#chain = this.#chain.then(() => this.#publishNow())
    }, delayMs)
    this.#timer.unref()
  }

  async #publishNow(): Promise<void> {
    if (!this.#running) return
    const { peerId, version, key, sequence, timing, log } = this.#init
    const urgent = this.#changed
    this.#changed = false
    this.#intervalMs = heartbeatFor(this.#init.baseHeartbeatMs, this.#init.knownPeers())
    // Jitter keeps nodes started together from heartbeating in lockstep; never later than promised.
    this.#schedule(Math.round(this.#intervalMs * (0.85 + Math.random() * 0.1)))
    try {
      const now = Date.now()
      const t0 = performance.now()
      const body: AdvertBody = {
        v: 1,
        peerId,
        version,
        ...this.#init.content(),
        intervalMs: this.#intervalMs,
        seq: sequence.next(now),
        timestamp: now,
      }
      const t1 = performance.now()
      const bytes = await signAdvert(body, key)
      const t2 = performance.now()
      this.#latest = bytes
      await this.#init.publish(bytes, urgent)
      timing?.record('build', t1 - t0)
      timing?.record('sign', t2 - t1)
      timing?.record('publish', performance.now() - t2)
    } catch (err) {
      log.warn({ err }, 'advert not published')
    }
  }
}
