import type { AdvertStageTiming } from '@edgecoder/protocol'

/**
 * The stages of an advert's way through a node, timed: on the publisher `build` (the advert's
 * content, from its timestamp on), `sign` (canonical bytes, Ed25519, JSON) and `publish`
 * (gossipsub's publish: its own signature, encoding, writes); on a receiver `parse` (JSON),
 * `schema` (zod), `canonical` (the bytes the signature covers), `verify` (the advert's Ed25519
 * signature), `admit` (activation) and `table`
 * (the peer table and its listeners, before gossipsub may forward the message). What is not here
 * is libp2p's: the transport, noise, yamux, gossipsub's decoding and message signature check.
 */
export type AdvertStage =
  | 'build'
  | 'sign'
  | 'publish'
  | 'parse'
  | 'schema'
  | 'canonical'
  | 'verify'
  | 'admit'
  | 'table'

export class AdvertTiming {
  readonly #stages = new Map<AdvertStage, AdvertStageTiming>()

  record(stage: AdvertStage, ms: number): void {
    const s = this.#stages.get(stage)
    if (s === undefined) this.#stages.set(stage, { count: 1, totalMs: ms, maxMs: ms })
    else {
      s.count++
      s.totalMs += ms
      s.maxMs = Math.max(s.maxMs, ms)
    }
  }

  /** Runs `fn`, recording how long it took (until its promise settles). */
  async time<T>(stage: AdvertStage, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now()
    try {
      return await fn()
    } finally {
      this.record(stage, performance.now() - t0)
    }
  }

  snapshot(): Record<string, AdvertStageTiming> {
    const out: Record<string, AdvertStageTiming> = {}
    for (const [stage, s] of this.#stages) out[stage] = { ...s, totalMs: Math.round(s.totalMs * 1000) / 1000 }
    return out
  }
}
