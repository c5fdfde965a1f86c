import type { MetricsRegister } from '@libp2p/gossipsub/metrics'

type Labels = Record<string, string | number>

/**
 * Keeps gossipsub's counters in memory: bytes and RPCs each way, first-seen and duplicate
 * messages. Enough to tell whether the mesh's idle chatter grows with its size.
 */
export class GossipCounters {
  readonly #totals = new Map<string, number>()

  /** The register handed to gossipsub; histograms and summaries are dropped. */
  readonly register: MetricsRegister = {
    gauge: ((config: { name: string }) => ({
      inc: (a?: Labels | number, b?: number) =>
        this.#add(config.name, typeof a === 'object' ? (b ?? 1) : (a ?? 1)),
      set: () => {},
      addCollect: () => {},
    })) as MetricsRegister['gauge'],
    histogram: (() => ({ startTimer: () => () => {}, observe: () => {}, reset: () => {} })) as never,
    avgMinMax: (() => ({ set: () => {} })) as never,
  }

  /** The running total of one gossipsub counter (all labels together). */
  total(name: string): number {
    return this.#totals.get(name) ?? 0
  }

  #add(name: string, value: number): void {
    this.#totals.set(name, (this.#totals.get(name) ?? 0) + value)
  }
}
