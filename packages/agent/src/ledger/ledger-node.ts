import {
  blockHash,
  type ChainContext,
  type EquivocationProof,
  grantIssuerId,
  LEDGER_PROTOCOL,
  type LedgerRequest,
  type LedgerResponse,
  type RelayPrice,
  type SettlementEvent,
  validateChain,
} from '@edgecoder/protocol'
import type { Libp2p, PrivateKey, StreamHandler } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import { ChainStore } from './chain-store.ts'
import { LedgerRefusedError } from './errors.ts'
import { HopFees } from './hop-fees.ts'
import { HopStore } from './hop-store.ts'
import { Ledger } from './ledger.ts'
import type { CreditPolicy } from './policy.ts'
import { LedgerService } from './service.ts'
import { Settlement } from './settlement.ts'
import { fetchChain, SYNC_PAGE, serveBlocks } from './sync.ts'
import { storeContext } from './views.ts'

export interface LedgerNodeInit {
  store: Store
  key: PrivateKey
  selfId: string
  policy: CreditPolicy
  /** Grant issuers' public keys, base64url of the raw 32 bytes. */
  grantKeys: readonly string[]
  rates: { perKTokens: number; perCpuSecond: number }
  maxPerTask: number
  /** This node's fee for carrying others' work as a relay; null when it serves no relay. */
  relayPrice: () => RelayPrice | null
  /** The relay fee a peer advertises. */
  relayPriceOf: (peerId: string) => RelayPrice | null
  creditCheck: boolean
  host: () => Libp2p | undefined
  addrsOf: (peerId: string) => string[]
  register: (protocol: string, handler: StreamHandler, options: object) => Promise<void>
  /** Peers this node is connected to now: where proofs of equivocation are pushed. */
  connectedPeers: () => string[]
  onSettled: (e: SettlementEvent) => void
  onOffender: (peerId: string) => void
  /** This node's chain grew, or one of its proposals settled: its advert should carry the new head. */
  onHeadChanged: () => void
  log: Logger
  retryMs?: number
  requestTimeoutMs?: number
}

/**
 * The ledger as a part of the node: the chain store, this node's chain, settlement of work with
 * peers, and `LEDGER_PROTOCOL` (block fetches, claims, equivocation proofs pushed peer to peer).
 */
export class LedgerNode {
  readonly name = 'ledger'
  readonly ledger: Ledger
  readonly settlement: Settlement
  readonly service: LedgerService
  readonly hopFees: HopFees
  readonly grantIssuers: ReadonlySet<string>
  readonly context: ChainContext
  readonly #init: LedgerNodeInit
  /** Chains being fetched now, and whether another advert asked again meanwhile. */
  readonly #following = new Map<string, boolean>()

  constructor(init: LedgerNodeInit) {
    this.#init = init
    this.grantIssuers = new Set(init.grantKeys.map(grantIssuerId))
    this.ledger = new Ledger({
      chains: new ChainStore(init.store),
      key: init.key,
      selfId: init.selfId,
      policy: init.policy,
      grantIssuers: this.grantIssuers,
      onSettled: (e) => {
        init.onSettled(e)
        // A pair completed: the advert's count of open proposals may have fallen.
        init.onHeadChanged()
      },
      onOffender: (proof) => this.#spread(proof),
      onAppend: () => init.onHeadChanged(),
    })
    this.context = storeContext(this.ledger, this.grantIssuers)
    this.service = new LedgerService({
      host: init.host,
      addrsOf: init.addrsOf,
      register: (h) => init.register(LEDGER_PROTOCOL, h, LedgerService.streamOptions),
      handler: (req, sender) => this.#answer(req, sender),
      timeoutMs: init.requestTimeoutMs ?? 10_000,
      log: init.log,
    })
    this.hopFees = new HopFees({
      ledger: this.ledger,
      hops: new HopStore(init.store),
      ownPrice: init.relayPrice,
      advertisedPrice: init.relayPriceOf,
      maxPerHop: init.maxPerTask,
      log: init.log,
    })
    this.settlement = new Settlement({
      ledger: this.ledger,
      rates: init.rates,
      maxPerTask: init.maxPerTask,
      balanceOf: init.creditCheck ? (peerId) => this.balanceOf(peerId) : null,
      request: (peerId, req) => this.service.request(peerId, req),
      retryMs: init.retryMs ?? 3_000,
      observeWaitMs: 5_000,
      hopFees: this.hopFees,
      log: init.log,
    })
  }

  async start(): Promise<void> {
    await this.service.start()
    await this.settlement.start()
  }

  async stop(): Promise<void> {
    await this.settlement.stop()
    await this.service.stop()
  }

  /** Fetches `chainOf` from `source` (by default the chain's owner) and validates it. */
  /** Fetches what this node lacks of a chain; from `recheckFrom` on, the held part is read again for the other halves of its pairs. */
  sync(chainOf: string, source = chainOf, recheckFrom?: number) {
    return fetchChain(
      this.ledger,
      this.context,
      (p, r) => this.service.request(p, r),
      source,
      chainOf,
      recheckFrom,
    )
  }

  /** This node's head as its advert carries it. */
  advertHead(): { seq: number; hash: string; open: number } | null {
    const head = this.ledger.head()
    if (!head) return null
    return {
      seq: head.seq,
      hash: head.hash.slice(0, 16),
      open: this.ledger.chains.openProposals(this.ledger.selfId).length,
    }
  }

  /**
   * A peer advertised its chain head: fetch what this node lacks of that chain. A head that
   * differs from the block held at that seq is fetched too, and the fetch turns it into a proof.
   * With the whole chain held, a proposal still open here that the peer holds settled (its
   * advert counts fewer open) is fetched again with its agreement: a pair completes without
   * the head moving, as when the portal agrees to a withdrawal.
   */
  followHead(peerId: string, head: { seq: number; hash: string; open?: number } | null | undefined): void {
    if (!head || peerId === this.ledger.selfId || this.ledger.isOffender(peerId)) return
    const held = this.ledger.chains.get(peerId, head.seq)
    let recheckFrom: number | undefined
    if (
      held !== undefined &&
      blockHash(held).startsWith(head.hash) &&
      this.ledger.chains.countUpTo(peerId, head.seq) === head.seq
    ) {
      if (head.open === undefined) return
      const open = this.ledger.chains.openProposals(peerId)
      if (open.length <= head.open) return
      recheckFrom = open[0]
    }
    if (this.#following.has(peerId)) {
      this.#following.set(peerId, true)
      return
    }
    this.#following.set(peerId, false)
    this.sync(peerId, peerId, recheckFrom)
      .catch((err: Error) => this.#init.log.debug({ err: err.message, peer: peerId }, 'chain fetch failed'))
      .finally(() => {
        const again = this.#following.get(peerId)
        this.#following.delete(peerId)
        if (again) this.followHead(peerId, head)
      })
  }

  /** A peer's balance as its chain shows it, fetched from the peer first; what is held if it can't be reached. */
  async balanceOf(peerId: string): Promise<number> {
    try {
      return (await this.sync(peerId)).report.balance
    } catch (err) {
      this.#init.log.debug({ err: (err as Error).message, peer: peerId }, 'chain fetch failed')
      const held = this.ledger.chains.range(peerId, 1, Number.MAX_SAFE_INTEGER)
      return (await validateChain(held, this.context)).balance
    }
  }

  async #answer(req: LedgerRequest, sender: string): Promise<LedgerResponse> {
    switch (req.type) {
      case 'blocks':
        return serveBlocks(this.ledger, req.peerId, req.fromSeq, Math.min(req.limit, SYNC_PAGE))
      case 'settle':
        return { type: 'agreement', block: await this.settlement.answer(req.proposal, sender) }
      case 'proof':
        // A fresh proof is pushed on by the ledger's offender hook.
        await this.ledger.addProof(req.proof)
        return { type: 'ok' }
    }
  }

  /** Pushes a fresh proof to every connected peer; each forwards it only when it is news, so it floods once. */
  #spread(proof: EquivocationProof): void {
    this.#init.onOffender(proof.a.peerId)
    for (const peer of this.#init.connectedPeers()) {
      if (peer === proof.a.peerId) continue
      this.service.request(peer, { type: 'proof', proof }).catch((err: Error) => {
        if (!(err instanceof LedgerRefusedError))
          this.#init.log.debug({ err: err.message, peer }, 'proof not delivered')
      })
    }
  }
}
