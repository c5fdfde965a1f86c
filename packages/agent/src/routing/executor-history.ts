/** What this node has seen of one executor. */
interface Seen {
  inflight: number
  /** Moving share of tasks it finished rather than lost. */
  success: number
  backoffUntil: number
  /** When the current backoff began. */
  backoffSince: number
}

/** A fresh advert ends a backoff at least this old: the peer is alive and says how it is. */
const FORGIVE_AFTER_MS = 1_000

/** Weight of the latest outcome in the success rate: about the last ten tasks count. */
const SUCCESS_WEIGHT = 0.2

/**
 * A submitter's memory of the executors it used: tasks in flight on each (so it respects their
 * limits before their adverts catch up), how reliably each finished, and which to leave alone
 * for a while after a decline or a loss.
 */
export class ExecutorHistory {
  readonly #peers = new Map<string, Seen>()

  #get(peerId: string): Seen {
    let s = this.#peers.get(peerId)
    if (s === undefined) {
      s = { inflight: 0, success: 1, backoffUntil: 0, backoffSince: 0 }
      this.#peers.set(peerId, s)
    }
    return s
  }

  inflight(peerId: string): number {
    return this.#peers.get(peerId)?.inflight ?? 0
  }

  successRate(peerId: string): number {
    return this.#peers.get(peerId)?.success ?? 1
  }

  backoffUntil(peerId: string): number {
    return this.#peers.get(peerId)?.backoffUntil ?? 0
  }

  placed(peerId: string): void {
    this.#get(peerId).inflight++
  }

  released(peerId: string): void {
    const s = this.#get(peerId)
    s.inflight = Math.max(0, s.inflight - 1)
  }

  finished(peerId: string): void {
    const s = this.#get(peerId)
    s.success = s.success * (1 - SUCCESS_WEIGHT) + SUCCESS_WEIGHT
  }

  lost(peerId: string): void {
    const s = this.#get(peerId)
    s.success *= 1 - SUCCESS_WEIGHT
  }

  /** Leaves the peer alone until `until`; returns the ms from now. */
  backoff(peerId: string, until: number, now: number): number {
    const s = this.#get(peerId)
    if (s.backoffUntil <= now) s.backoffSince = now
    s.backoffUntil = Math.max(s.backoffUntil, until)
    return s.backoffUntil - now
  }

  /**
   * A fresh advert from the peer: a peer that stalled, restarted or was busy is back and its
   * advert tells its room, so a backoff older than a second ends. True when one did.
   */
  heardFrom(peerId: string, now: number): boolean {
    const s = this.#peers.get(peerId)
    if (s === undefined || s.backoffUntil <= now || now - s.backoffSince < FORGIVE_AFTER_MS) return false
    s.backoffUntil = 0
    return true
  }
}
