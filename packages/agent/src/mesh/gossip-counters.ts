import type { MetricsRegister } from '@libp2p/gossipsub/metrics'

type Labels = Record<string, string | number>

/** Counters kept by label too. */
const BY_LABEL = new Set(['gossipsub_scoring_penalties_total'])

/**
 * Keeps gossipsub's counters in memory: bytes and RPCs each way, first-seen and duplicate
 * messages. Enough to tell whether the mesh's idle chatter grows with its size.
 */
export class GossipCounters {
  readonly #totals = new Map<string, number>()
  /** Per counter, its totals by the value of its one label (e.g. a penalty's kind). */
  readonly #byLabel = new Map<string, Map<string, number>>()

  /** The register handed to gossipsub; histograms and summaries are dropped. */
  readonly register: MetricsRegister = {
    gauge: ((config: { name: string }) => ({
      inc: (a?: Labels | number, b?: number) =>
        this.#add(
          config.name,
          typeof a === 'object' ? (b ?? 1) : (a ?? 1),
          typeof a === 'object' ? a : undefined,
        ),
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

  /** One counter's totals by the value of its only label; empty for a counter never counted. */
  byLabel(name: string): Record<string, number> {
    return Object.fromEntries(this.#byLabel.get(name) ?? [])
  }

  #add(name: string, value: number, labels?: Labels): void {
    this.#totals.set(name, (this.#totals.get(name) ?? 0) + value)
    // gossipsub counts per RPC and per message: only these few are kept by label.
    if (labels === undefined || !BY_LABEL.has(name)) return
    const only = Object.values(labels)
    if (only.length !== 1) return
    const by = this.#byLabel.get(name) ?? new Map<string, number>()
    by.set(String(only[0]), (by.get(String(only[0])) ?? 0) + value)
    this.#byLabel.set(name, by)
  }
}
