import type { TaskPriority } from '@edgecoder/protocol'

/** What the queue needs to know about an entry. */
export interface QueueEntry {
  id: string
  submitter: string
  priority: TaskPriority
}

/**
 * How much of its submitter's share one task takes: a `high` task costs a quarter of a `low` one,
 * so a submitter's high-priority work moves faster without ever shutting the others out.
 */
const PRIORITY_WEIGHT: Record<TaskPriority, number> = { low: 1, normal: 2, high: 4 }
const PRIORITY_ORDER: TaskPriority[] = ['high', 'normal', 'low']

interface Flow<T> {
  /** One FIFO per priority: within a submitter, higher priority first, then arrival order. */
  lanes: Record<TaskPriority, T[]>
  size: number
  /** Virtual start tag of the head entry. */
  start: number
  /** When the flow was created or last served, to break ties in favour of who waited longer. */
  since: number
}

/**
 * Weighted fair queuing across submitters (start-time fair queuing): each submitter is a flow,
 * every entry gets a virtual finish tag `start + 1/weight`, and the queue serves the flow whose
 * head finishes first. A submitter who floods only lengthens its own flow: one who arrives later
 * starts at the current virtual time, so its tasks interleave with the flood instead of waiting
 * behind it.
 */
export class FairShareQueue<T extends QueueEntry> {
  #flows = new Map<string, Flow<T>>()
  /** Finish tag of each submitter's last served entry, kept while it is ahead of virtual time. */
  #lastFinish = new Map<string, number>()
  #vtime = 0
  #clock = 0
  #size = 0

  get size(): number {
    return this.#size
  }

  sizeOf(submitter: string): number {
    return this.#flows.get(submitter)?.size ?? 0
  }

  /** Waiting entries per submitter. */
  *flowSizes(): Iterable<[string, number]> {
    for (const [submitter, flow] of this.#flows) yield [submitter, flow.size]
  }

  /** Submitters with waiting entries. */
  get submitters(): number {
    return this.#flows.size
  }

  /** Queues an entry behind its submitter's others; `front` puts it first (a task sent back to wait). */
  push(entry: T, front = false): void {
    let flow = this.#flows.get(entry.submitter)
    if (!flow) {
      flow = {
        lanes: { high: [], normal: [], low: [] },
        size: 0,
        start: Math.max(this.#vtime, this.#lastFinish.get(entry.submitter) ?? 0),
        since: this.#clock++,
      }
      this.#flows.set(entry.submitter, flow)
    }
    if (front) flow.lanes[entry.priority].unshift(entry)
    else flow.lanes[entry.priority].push(entry)
    flow.size++
    this.#size++
  }

  /** The entry `pop()` would return, without taking it. */
  peek(eligible?: (entry: T) => boolean): T | undefined {
    const best = this.#nextFlow(eligible)
    return best ? head(best[1]) : undefined
  }

  /**
   * Takes the next entry in fair order. With `eligible`, submitters whose next entry can't be
   * served now are passed over, so one that waits for a busy node holds up no one else.
   */
  pop(eligible?: (entry: T) => boolean): T | undefined {
    const best = this.#nextFlow(eligible)
    if (!best) return undefined
    const [submitter, flow] = best
    const entry = head(flow)!
    flow.lanes[entry.priority].shift()
    flow.size--
    this.#size--
    const finish = flow.start + 1 / PRIORITY_WEIGHT[entry.priority]
    this.#vtime = flow.start
    if (flow.size === 0) {
      this.#flows.delete(submitter)
      this.#lastFinish.set(submitter, finish)
    } else {
      flow.start = finish
      flow.since = this.#clock++
    }
    this.#forgetIdle()
    return entry
  }

  /** Takes a waiting entry out (a cancelled task). */
  remove(id: string): T | undefined {
    for (const [submitter, flow] of this.#flows) {
      for (const p of PRIORITY_ORDER) {
        const i = flow.lanes[p].findIndex((e) => e.id === id)
        if (i < 0) continue
        const [entry] = flow.lanes[p].splice(i, 1)
        flow.size--
        this.#size--
        if (flow.size === 0) this.#flows.delete(submitter)
        return entry
      }
    }
    return undefined
  }

  has(id: string): boolean {
    for (const flow of this.#flows.values())
      for (const p of PRIORITY_ORDER) if (flow.lanes[p].some((e) => e.id === id)) return true
    return false
  }

  #nextFlow(eligible?: (entry: T) => boolean): [string, Flow<T>] | undefined {
    let best: [string, Flow<T>] | undefined
    let bestFinish = Number.POSITIVE_INFINITY
    for (const [submitter, flow] of this.#flows) {
      const first = head(flow)!
      if (eligible && !eligible(first)) continue
      const finish = flow.start + 1 / PRIORITY_WEIGHT[first.priority]
      if (finish < bestFinish || (finish === bestFinish && best && flow.since < best[1].since)) {
        best = [submitter, flow]
        bestFinish = finish
      }
    }
    return best
  }

  /** A submitter whose last finish tag is behind virtual time has no credit or debt left to remember. */
  #forgetIdle(): void {
    for (const [s, f] of this.#lastFinish) if (f <= this.#vtime) this.#lastFinish.delete(s)
  }
}

function head<T extends QueueEntry>(flow: Flow<T>): T | undefined {
  for (const p of PRIORITY_ORDER) if (flow.lanes[p].length > 0) return flow.lanes[p][0]
  return undefined
}
