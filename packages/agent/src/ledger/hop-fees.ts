import {
  type Block,
  Block as BlockSchema,
  blockHash,
  PROPOSAL_TTL_MS,
  type PriceQuote,
  priceOf,
  type RelayPrice,
  type SettlementRef,
} from '@edgecoder/protocol'
import type { Logger } from '../logger.ts'
import { LedgerRefusedError } from './errors.ts'
import type { HopStore } from './hop-store.ts'
import type { Ledger } from './ledger.ts'

export interface HopFeesInit {
  ledger: Ledger
  hops: HopStore
  /** This node's fee as a relay; null when it relays nothing. */
  ownPrice: () => RelayPrice | null
  /** The fee a relay advertises; null when it advertises none. */
  advertisedPrice: (relay: string) => RelayPrice | null
  /** The most this node pays for one hop, as for one task. */
  maxPerHop: number
  now?: () => number
  log: Logger
}

/** How long a relay remembers a circuit it carried: as long as a fee for it may still arrive. */
const CIRCUIT_MEMORY_MS = 2 * PROPOSAL_TTL_MS

/**
 * Fees for relays, settled from the submitter's side. A relay that carried a stream between a
 * submitter and an executor advertises its fee (per 1,000 tokens and per CPU-second of the work
 * carried); once the submitter has agreed to the executor's claim, it proposes to pay the relay
 * that fee applied to the same usage, and the relay agrees if it did open a circuit between the
 * two. The executor's and the relay's transfers are separate pairs, so credits are conserved end
 * to end: the submitter pays both, each hop gets its own.
 */
export class HopFees {
  readonly #init: HopFeesInit
  readonly #now: () => number
  #proposing: Promise<unknown> = Promise.resolve()

  constructor(init: HopFeesInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** Relay: a circuit between two peers opened through this node. */
  carriedCircuit(src: string, dst: string): void {
    this.#init.hops.recordCircuit(src, dst, this.#now())
  }

  /** Submitter: the work's stream went through `relay`; its advertised fee applies. */
  routed(executor: string, workId: string, attempt: number, relay: string): void {
    const price = this.#init.advertisedPrice(relay)
    if (price === null || relay === executor || relay === this.#init.ledger.selfId) return
    const quote: PriceQuote = { ...price, max: this.#init.maxPerHop }
    this.#init.hops.route(executor, workId, attempt, relay, quote, this.#now())
  }

  /** Submitter, in the transaction agreeing to the executor's claim: the relay is owed its fee. */
  claimAgreed(executor: string, ref: SettlementRef): void {
    const route = this.#init.hops.routeOf(executor, ref.id, ref.attempt)
    if (route === undefined) return
    this.#init.hops.owe(
      {
        relay: route.relay,
        workId: ref.id,
        attempt: ref.attempt,
        executor,
        usage: ref.usage,
        quote: route.quote,
      },
      this.#now(),
    )
  }

  /**
   * Submitter: proposes a payment for every fee owed that none pays yet; returns the proposals.
   * One pass at a time, so no fee gets two proposals.
   */
  propose(): Promise<Block[]> {
    const run = this.#proposing.then(() => this.#proposeUnpaid())
    this.#proposing = run.catch(() => undefined)
    return run
  }

  async #proposeUnpaid(): Promise<Block[]> {
    const { ledger, hops, log } = this.#init
    const made: Block[] = []
    for (const hop of hops.unpaid()) {
      const credits = priceOf(hop.quote, hop.usage)
      if (credits <= 0) {
        hops.paid(hop.relay, hop.workId, hop.attempt, 'none:free')
        continue
      }
      try {
        const proposal = await ledger.propose(
          {
            from: ledger.selfId,
            to: hop.relay,
            credits,
            memo: `hop ${hop.workId}`,
            ref: {
              kind: 'hop',
              id: hop.workId,
              attempt: hop.attempt,
              usage: hop.usage,
              quote: hop.quote,
              peer: hop.executor,
            },
          },
          (block) => hops.paid(hop.relay, hop.workId, hop.attempt, blockHash(block)),
        )
        made.push(proposal)
      } catch (err) {
        if (!(err instanceof LedgerRefusedError)) throw err
        // Past its own credit line, or the relay forked its chain: this fee is not paid.
        hops.paid(hop.relay, hop.workId, hop.attempt, `none:${err.reason}`)
        log.warn({ relay: hop.relay, work: hop.workId, why: err.message }, 'relay fee not paid')
      }
    }
    return made
  }

  /** Relay: the answer to a submitter's payment for a hop: the agreement, or a refusal thrown. */
  async agree(raw: unknown, sender: string): Promise<Block> {
    const parsed = BlockSchema.safeParse(raw)
    if (!parsed.success || parsed.data.tx.type !== 'transfer' || parsed.data.tx.ref?.kind !== 'hop')
      throw new LedgerRefusedError('malformed', 'a hop fee is a transfer proposal for a hop')
    const proposal = parsed.data
    const tx = proposal.tx as Extract<Block['tx'], { type: 'transfer' }>
    const ref = tx.ref!
    const { ledger, hops } = this.#init
    if (proposal.peerId !== sender)
      throw new LedgerRefusedError('forged', 'a hop fee comes from the chain that pays it')
    if (tx.from !== sender || tx.to !== ledger.selfId)
      throw new LedgerRefusedError('misaddressed', 'a hop fee pays this node from its sender')
    if (ref.peer === undefined)
      throw new LedgerRefusedError('malformed', 'a hop fee names the executor at the far end')
    const own = this.#init.ownPrice()
    if (own === null) throw new LedgerRefusedError('unknown-work', 'this node relays nothing')
    if (!hops.carried(sender, ref.peer, proposal.ts - CIRCUIT_MEMORY_MS))
      throw new LedgerRefusedError(
        'unknown-work',
        `no circuit between ${sender} and ${ref.peer} went through this node`,
      )
    if (ref.quote.perKTokens !== own.perKTokens || ref.quote.perCpuSecond !== own.perCpuSecond)
      throw new LedgerRefusedError('over-quote', 'not this relay’s fee')
    if (tx.credits > priceOf(ref.quote, ref.usage))
      throw new LedgerRefusedError('over-quote', `${tx.credits} credits is more than the fee for this usage`)
    const hash = blockHash(proposal)
    return ledger.agree(proposal, () => {
      const before = hops.agreedFor(sender, ref.id, ref.attempt)
      if (before !== undefined && before !== hash)
        throw new LedgerRefusedError('replayed', 'this hop was paid by another proposal')
      hops.agreed(sender, ref.id, ref.attempt, hash)
    })
  }

  /** Forgets what no fee can still be about. */
  sweep(): void {
    this.#init.hops.sweep(this.#now() - CIRCUIT_MEMORY_MS)
  }
}
