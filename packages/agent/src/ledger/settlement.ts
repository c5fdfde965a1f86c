import {
  type Block,
  Block as BlockSchema,
  blockHash,
  canonicalJson,
  embedTokenBound,
  type LedgerRefusal,
  type LedgerRequest,
  type LedgerResponse,
  PROPOSAL_TTL_MS,
  type PriceQuote,
  priceOf,
  type TaskOfferBody,
  type TaskSpec,
  type Usage,
} from '@edgecoder/protocol'
import type { Logger } from '../logger.ts'
import type { SettlementPort, WorkRef } from '../routing/index.ts'
import { LedgerRefusedError } from './errors.ts'
import type { HopFees } from './hop-fees.ts'
import type { Ledger } from './ledger.ts'

export interface SettlementInit {
  ledger: Ledger
  rates: { perKTokens: number; perCpuSecond: number }
  /** The most this node pays for one piece of work. */
  maxPerTask: number
  /** Declines submitters whose chain shows they can't pay; null: serve everyone. */
  balanceOf: ((peerId: string) => Promise<number>) | null
  request: (peerId: string, req: LedgerRequest) => Promise<LedgerResponse>
  /** Pause between tries of a claim that found its submitter away. */
  retryMs: number
  /** How long a claim waits for the submitter to take in the result it arrived with. */
  observeWaitMs: number
  /** Fees for relays that carried work; without it relays are not paid. */
  hopFees?: HopFees
  log: Logger
}

/** Refusals a second try would get again: the claim is left to expire. */
const FINAL: ReadonlySet<LedgerRefusal> = new Set([
  'malformed',
  'forged',
  'misaddressed',
  'unknown-work',
  'over-quote',
  'over-observed',
  'credit-line',
  'expired',
  'replayed',
  'offender',
])

/** Sandbox time assumed per run when a spec names no deadline, for the quote's cap. */
const CPU_BOUND_PER_RUN_MS = 30_000

/**
 * Settlement of work between peers. The executor quotes in its accept and, when the attempt is
 * over, stores a proposal (submitter pays executor, usage and quote in its `ref`) before the
 * result leaves; it then asks the submitter to agree, and keeps asking after restarts until the
 * proposal expires. The submitter agrees only to work it saw: the quote it accepted, no more
 * tokens than it received, no more sandbox time than the wall time it waited.
 */
export class Settlement implements SettlementPort {
  readonly name = 'settlement'
  readonly #init: SettlementInit
  readonly #inFlight = new Map<string, Promise<void>>()
  readonly #givenUp = new Set<string>()
  readonly #observers = new Map<string, () => void>()
  #timer: NodeJS.Timeout | undefined

  constructor(init: SettlementInit) {
    this.#init = init
  }

  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.retryPending(), this.#init.retryMs).unref()
    void this.retryPending()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
  }

  async quote(
    offer: TaskOfferBody,
  ): Promise<{ ok: true; quote: PriceQuote } | { ok: false; message: string }> {
    const { ledger, rates, balanceOf } = this.#init
    const quote = { ...rates, max: priceOf({ ...rates, max: Number.MAX_SAFE_INTEGER }, bound(offer.spec)) }
    if (ledger.isOffender(offer.origin))
      return { ok: false, message: 'this node refuses peers that forked their chain' }
    if (balanceOf !== null && quote.max > 0) {
      const balance = await balanceOf(offer.origin)
      const line = ledger.creditLine(offer.origin)
      if (balance + line < quote.max)
        return {
          ok: false,
          message: `the quote's cap is ${quote.max} credits; your balance ${balance} and credit line ${line} do not cover it`,
        }
    }
    return { ok: true, quote }
  }

  async executed(offer: TaskOfferBody, quote: PriceQuote, usage: Usage): Promise<void> {
    const credits = priceOf(quote, usage)
    if (credits <= 0) return
    const { ledger } = this.#init
    // No line and nothing in its chain (as followed from its adverts): it could only refuse.
    if (ledger.creditLine(offer.origin) === 0 && ledger.chains.head(offer.origin) === null) return
    const kind = offer.spec.kind === 'chat' || offer.spec.kind === 'embed' ? 'chat' : 'task'
    const proposal = await this.#init.ledger.propose({
      from: offer.origin,
      to: this.#init.ledger.selfId,
      credits,
      memo: `${offer.spec.kind} ${offer.taskId}`,
      ref: { kind, id: offer.taskId, attempt: offer.attempt, usage, quote },
    })
    void this.#settle(proposal)
  }

  quoted(work: WorkRef, quote: PriceQuote): string | null {
    if (this.#init.ledger.isOffender(work.executor)) return 'this node refuses peers that forked their chain'
    if (quote.max > this.#init.maxPerTask)
      return `the quote's cap of ${quote.max} credits is above this node's limit of ${this.#init.maxPerTask}`
    this.#init.ledger.chains.expect(
      {
        executor: work.executor,
        workId: work.taskId,
        attempt: work.attempt,
        kind: work.kind,
        quote: canonicalJson(quote),
      },
      Date.now(),
    )
    if (work.via) this.#init.hopFees?.routed(work.executor, work.taskId, work.attempt, work.via)
    return null
  }

  observed(work: WorkRef, tokens: number, wallMs: number): void {
    this.#init.ledger.chains.observed(work.executor, work.taskId, work.attempt, tokens, wallMs)
    const key = `${work.executor}/${work.taskId}/${work.attempt}`
    this.#observers.get(key)?.()
  }

  /** The answer to a peer's proposal: a claim for work this node submitted, or a relay's fee. */
  async answer(raw: unknown, sender: string): Promise<Block> {
    const tx = (raw as { tx?: { to?: unknown; ref?: { kind?: unknown } | null } } | null)?.tx
    if (this.#init.hopFees && tx?.to === this.#init.ledger.selfId && tx.ref?.kind === 'hop')
      return this.#init.hopFees.agree(raw, sender)
    const agreement = await this.agreeToClaim(raw, sender)
    void this.#payHops()
    return agreement
  }

  /** The submitter's answer to an executor's claim: the agreement, or a refusal thrown. */
  async agreeToClaim(raw: unknown, sender: string): Promise<Block> {
    const parsed = BlockSchema.safeParse(raw)
    if (!parsed.success || parsed.data.tx.type !== 'transfer' || parsed.data.tx.ref === null)
      throw new LedgerRefusedError('malformed', 'a claim is a transfer proposal for work')
    const proposal = parsed.data
    const tx = proposal.tx as Extract<Block['tx'], { type: 'transfer' }>
    const ref = tx.ref!
    const { ledger } = this.#init
    if (proposal.peerId !== sender)
      throw new LedgerRefusedError('forged', 'a claim comes from the chain it is in')
    if (tx.from !== ledger.selfId || tx.to !== sender)
      throw new LedgerRefusedError('misaddressed', 'a claim asks this node to pay its sender')
    const chains = ledger.chains
    if (chains.expectation(sender, ref.id, ref.attempt) === undefined)
      throw new LedgerRefusedError(
        'unknown-work',
        `no work ${ref.id}/${ref.attempt} by this peer was accepted here`,
      )
    await this.#waitObserved(sender, ref.id, ref.attempt)
    const hash = blockHash(proposal)
    return ledger.agree(proposal, () => {
      const e = chains.expectation(sender, ref.id, ref.attempt)!
      if (e.tokens === null || e.wallMs === null)
        throw new LedgerRefusedError('not-observed', 'the result of this work has not arrived here')
      if (e.settledBy !== null && e.settledBy !== hash)
        throw new LedgerRefusedError('replayed', 'this work was settled by another claim')
      if (canonicalJson(ref.quote) !== e.quote)
        throw new LedgerRefusedError('over-quote', 'not the quote accepted')
      if (ref.usage.tokens > e.tokens || ref.usage.cpuMs > e.wallMs)
        throw new LedgerRefusedError(
          'over-observed',
          `claimed ${ref.usage.tokens} tokens and ${ref.usage.cpuMs} ms; received ${e.tokens} tokens over ${e.wallMs} ms`,
        )
      if (tx.credits > priceOf(ref.quote, ref.usage))
        throw new LedgerRefusedError(
          'over-quote',
          `${tx.credits} credits is more than the quote gives for this usage`,
        )
      chains.settle(sender, ref.id, ref.attempt, hash)
      this.#init.hopFees?.claimAgreed(sender, ref)
    })
  }

  /**
   * Asks again for the agreements of claims still open (after a restart, or a submitter away);
   * resolves when every try, the ones already under way included, has its answer.
   */
  async retryPending(): Promise<void> {
    this.#init.ledger.dropExpired()
    // What a submitter expected of work whose claims can no longer be agreed to.
    this.#init.ledger.chains.sweepExpectations(Date.now() - 2 * PROPOSAL_TTL_MS)
    this.#init.hopFees?.sweep()
    // Fees owed to relays whose proposal a crash kept from being made.
    await this.#init.hopFees?.propose()
    const self = this.#init.ledger.selfId
    const tries: Promise<void>[] = []
    for (const p of this.#init.ledger.pending()) {
      if (p.tx.type !== 'transfer' || p.tx.ref === null) continue
      // Own claims for work done, and own payments of relays' fees.
      const claim = p.tx.to === self
      const hop = p.tx.from === self && p.tx.ref.kind === 'hop'
      if ((!claim && !hop) || this.#init.ledger.isExpired(p)) continue
      tries.push(this.#settle(p))
    }
    await Promise.all(tries)
  }

  /** Proposes the fees owed to relays and asks each relay to agree. */
  async #payHops(): Promise<void> {
    try {
      const made = (await this.#init.hopFees?.propose()) ?? []
      await Promise.all(made.map((p) => this.#settle(p)))
    } catch (err) {
      this.#init.log.error({ err }, 'could not pay relay fees')
    }
  }

  #settle(proposal: Block): Promise<void> {
    const hash = blockHash(proposal)
    const running = this.#inFlight.get(hash)
    if (running) return running
    if (this.#givenUp.has(hash)) return Promise.resolve()
    const run = this.#try(proposal, hash).finally(() => this.#inFlight.delete(hash))
    this.#inFlight.set(hash, run)
    return run
  }

  async #try(proposal: Block, hash: string): Promise<void> {
    const { ledger, log } = this.#init
    try {
      const answer = await this.#init.request(proposal.counterparty, { type: 'settle', proposal })
      if (answer.type === 'agreement') await ledger.ingestAgreement(answer.block)
      else if (answer.type === 'refused') {
        if (FINAL.has(answer.reason)) this.#givenUp.add(hash)
        log.warn({ peer: proposal.counterparty, reason: answer.reason, why: answer.message }, 'claim refused')
      }
    } catch (err) {
      if (err instanceof LedgerRefusedError) this.#givenUp.add(hash)
      log.debug({ err: (err as Error).message, peer: proposal.counterparty }, 'claim not settled yet')
    }
  }

  /** Waits (a bounded time) for the task client to record the result a claim is about. */
  async #waitObserved(executor: string, workId: string, attempt: number): Promise<void> {
    const e = this.#init.ledger.chains.expectation(executor, workId, attempt)
    if (e === undefined || e.tokens !== null) return
    const key = `${executor}/${workId}/${attempt}`
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#init.observeWaitMs)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#observers.set(key, done)
    })
    this.#observers.delete(key)
  }
}

/** The most a spec can consume: its token budget and sandbox time, for the quote's cap. */
function bound(spec: TaskSpec): Usage {
  if (spec.kind === 'chat') return { tokens: spec.maxTokens, cpuMs: 0 }
  if (spec.kind === 'embed') return { tokens: embedTokenBound(spec), cpuMs: 0 }
  if (spec.kind === 'run') return { tokens: 0, cpuMs: spec.deadlineMs ?? CPU_BOUND_PER_RUN_MS }
  const runs = spec.maxAttempts
  // A round of two attempts starts with its own plan (code-loop.ts).
  const plans = spec.plan ? Math.ceil(runs / 2) : 0
  return { tokens: (runs + plans) * spec.maxTokens, cpuMs: runs * CPU_BOUND_PER_RUN_MS }
}
