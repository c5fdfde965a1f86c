import type { PriceQuote, TaskOfferBody, Usage } from '@edgecoder/protocol'

/**
 * What the task protocol asks of the ledger, on both sides of a stream. Routing knows when work
 * is priced, done and seen; the ledger (which implements this) knows what it is worth and signs.
 */
export interface SettlementPort {
  /** Executor: the price of an offer it is about to take, or why it declines the submitter. */
  quote(offer: TaskOfferBody): Promise<{ ok: true; quote: PriceQuote } | { ok: false; message: string }>
  /** Executor: the attempt is over with this usage; resolves once the claim is stored (it settles later). */
  executed(offer: TaskOfferBody, quote: PriceQuote, usage: Usage): Promise<void>
  /** Submitter: the executor's quote; a message when it is refused. */
  quoted(work: WorkRef, quote: PriceQuote): string | null
  /** Submitter: the result arrived after this many tokens and ms since the offer left. */
  observed(work: WorkRef, tokens: number, wallMs: number): void
}

export interface WorkRef {
  executor: string
  taskId: string
  attempt: number
  kind: string
  /** The relay the work's stream went through, when it was reachable only that way. */
  via?: string | null
}
