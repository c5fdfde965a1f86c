import { randomBytes } from 'node:crypto'
import {
  agreementMismatch,
  type Block,
  Block as BlockSchema,
  balanceEffect,
  blockHash,
  canonicalJson,
  checkEquivocation,
  type EquivocationProof,
  GrantCertificate,
  makeAgreement,
  makeGrantBlock,
  makeProposal,
  PROPOSAL_TTL_MS,
  type SettlementEvent,
  signBlock,
  type TransferTx,
  type UnsignedBlock,
  verifyBlock,
  verifyGrant,
} from '@edgecoder/protocol'
import type { PrivateKey } from '@libp2p/interface'
import type { ChainStore } from './chain-store.ts'
import { LedgerRefusedError } from './errors.ts'
import type { CreditPolicy } from './policy.ts'

export interface LedgerInit {
  chains: ChainStore
  key: PrivateKey
  selfId: string
  policy: CreditPolicy
  /** Peer ids whose grant certificates this node honours. */
  grantIssuers: ReadonlySet<string>
  now?: () => number
  /** A pair completed in this node's chain. */
  onSettled?: (e: SettlementEvent) => void
  /** A node was caught signing two blocks at one seq. */
  onOffender?: (proof: EquivocationProof) => void
  /** This node's chain grew. */
  onAppend?: (block: Block) => void
}

export interface Totals {
  balance: number
  earned: number
  spent: number
}

/**
 * This node's own chain and what it adds up to. Appends are serialised (one head at a time) and
 * each is one SQLite transaction, so a crash leaves either the whole block or none of it. A
 * transfer counts once both halves are held: this node's half and the counterparty's.
 */
export class Ledger {
  readonly selfId: string
  readonly chains: ChainStore
  readonly #init: LedgerInit
  readonly #now: () => number
  #appending: Promise<unknown> = Promise.resolve()
  #totals: Totals = { balance: 0, earned: 0, spent: 0 }
  /** Own proposals without an agreement yet, by hash. */
  readonly #pending = new Map<string, Block>()
  readonly #grants = new Map<string, Block>()
  readonly #offenders = new Set<string>()

  constructor(init: LedgerInit) {
    this.#init = init
    this.selfId = init.selfId
    this.chains = init.chains
    this.#now = init.now ?? Date.now
    this.#recount()
    for (const o of init.chains.offenders()) this.#offenders.add(o.peerId)
  }

  get totals(): Totals {
    return { ...this.#totals }
  }

  creditLine(peerId = this.selfId): number {
    return this.#init.policy.creditLine(peerId)
  }

  /** Own proposals still waiting for their agreement (expired ones included until swept by the caller). */
  pending(): Block[] {
    return [...this.#pending.values()]
  }

  /** Forgets expired proposals among the pending ones (the chain keeps them; they count for nothing). */
  dropExpired(): void {
    for (const [hash, p] of this.#pending) if (this.isExpired(p)) this.#pending.delete(hash)
  }

  isExpired(proposal: Block): boolean {
    return this.#now() > proposal.ts + PROPOSAL_TTL_MS
  }

  /** Pending credits: outgoing (held back from spending) and incoming. */
  pendingTotals(): { out: number; in: number } {
    let out = 0
    let inc = 0
    for (const p of this.#pending.values()) {
      if (this.isExpired(p) || p.tx.type !== 'transfer') continue
      if (p.tx.from === this.selfId) out += p.tx.credits
      else inc += p.tx.credits
    }
    return { out, in: inc }
  }

  available(): number {
    return this.#totals.balance + this.creditLine() - this.pendingTotals().out
  }

  isOffender(peerId: string): boolean {
    return this.#offenders.has(peerId)
  }

  head(): { seq: number; hash: string } | null {
    return this.chains.head(this.selfId)
  }

  /**
   * Proposes a transfer to or from `counterparty`; paying needs the credits (or line) for it.
   * `record` runs in the proposal's transaction, so what it writes commits with the block.
   */
  async propose(tx: Omit<TransferTx, 'type' | 'nonce'>, record?: (proposal: Block) => void): Promise<Block> {
    const transfer: TransferTx = { type: 'transfer', nonce: randomBytes(18).toString('base64url'), ...tx }
    const other = transfer.from === this.selfId ? transfer.to : transfer.from
    if (this.isOffender(other)) throw new LedgerRefusedError('offender', `${other} forked its chain`)
    return this.#append(
      (head) => makeProposal(this.selfId, head, transfer, this.#now()),
      (block) => {
        if (transfer.from === this.selfId && transfer.credits > this.available())
          throw new LedgerRefusedError(
            'credit-line',
            `paying ${transfer.credits} would take this node past its credit line (available ${this.available()})`,
          )
        record?.(block)
        this.#pending.set(blockHash(block), block)
        return undefined
      },
    )
  }

  /**
   * Signs the agreement to a peer's proposal, once: asked again, it answers the agreement it
   * already signed. `approve` is the caller's check of what the transfer pays for; it runs in the
   * agreement's transaction, so what it records commits (or not) with the block.
   */
  async agree(raw: unknown, approve: (proposal: Block) => void): Promise<Block> {
    const parsed = BlockSchema.safeParse(raw)
    if (!parsed.success || parsed.data.tx.type !== 'transfer')
      throw new LedgerRefusedError('malformed', 'not a transfer proposal')
    const proposal = parsed.data
    const hash = blockHash(proposal)
    const done = this.chains.agreementTo(hash)
    if (done !== undefined && done.peerId === this.selfId) return done
    if (proposal.counterparty !== this.selfId)
      throw new LedgerRefusedError('misaddressed', 'the proposal names another counterparty')
    if (!(await verifyBlock(proposal)))
      throw new LedgerRefusedError('forged', 'the proposal signature does not verify')
    if (this.isOffender(proposal.peerId))
      throw new LedgerRefusedError('offender', `${proposal.peerId} forked its chain`)
    if (this.isExpired(proposal)) throw new LedgerRefusedError('expired', 'the proposal expired')
    return this.#append(
      (head) => makeAgreement(this.selfId, head, proposal, this.#now()),
      (block) => {
        // Checked again under the append lock: two concurrent asks sign one agreement.
        const again = this.chains.agreementTo(hash)
        if (again !== undefined && again.peerId === this.selfId) return again
        approve(proposal)
        const tx = proposal.tx as TransferTx
        if (tx.from === this.selfId && tx.credits > this.available())
          throw new LedgerRefusedError(
            'credit-line',
            `paying ${tx.credits} would pass this node's credit line`,
          )
        this.#storeForeign(proposal)
        this.#count(block, proposal)
        return undefined
      },
    )
  }

  /** Takes the counterparty's agreement to one of this node's proposals; the pair now counts. */
  async ingestAgreement(raw: unknown): Promise<Block> {
    const parsed = BlockSchema.safeParse(raw)
    if (!parsed.success || parsed.data.tx.type !== 'agreement')
      throw new LedgerRefusedError('malformed', 'not an agreement block')
    const agreement = parsed.data
    if (agreement.counterparty !== this.selfId)
      throw new LedgerRefusedError('misaddressed', 'the agreement answers another chain')
    const proposal = this.chains.get(this.selfId, agreement.linkSeq)
    if (proposal === undefined) throw new LedgerRefusedError('unknown-work', 'no such proposal in this chain')
    const why = agreementMismatch(proposal, agreement)
    if (why !== null) throw new LedgerRefusedError('malformed', why)
    if (!(await verifyBlock(agreement)))
      throw new LedgerRefusedError('forged', 'the agreement signature does not verify')
    this.chains.transaction(() => {
      const stored = this.#storeForeign(agreement)
      if (stored) this.#count(proposal, agreement)
    })
    return agreement
  }

  /** Records a grant certificate in this chain, once per grant id (a replay answers the same block). */
  async applyGrant(raw: unknown): Promise<{ block: Block; created: boolean }> {
    const parsed = GrantCertificate.safeParse(raw)
    if (!parsed.success)
      throw new LedgerRefusedError('malformed', parsed.error.issues[0]?.message ?? 'not a grant certificate')
    const cert = parsed.data
    const known = this.#grants.get(cert.grantId)
    const same = (b: Block) =>
      b.tx.type === 'grant' && canonicalJson(b.tx.certificate) === canonicalJson(cert)
    if (known !== undefined && same(known)) return { block: known, created: false }
    if (cert.peerId !== this.selfId)
      throw new LedgerRefusedError('misaddressed', 'the grant is for another node')
    let issuer: string | null = null
    for (const candidate of this.#init.grantIssuers)
      if (await verifyGrant(cert, candidate)) issuer = candidate
    if (issuer === null)
      throw new LedgerRefusedError('forged', 'no configured grant key signed this certificate')
    const signedBy = issuer
    let created = true
    const block = await this.#append(
      (head) => makeGrantBlock(this.selfId, head, cert, signedBy, this.#now()),
      (b) => {
        const again = this.#grants.get(cert.grantId)
        if (again !== undefined) {
          created = false
          return again
        }
        this.#grants.set(cert.grantId, b)
        this.#count(b, null)
        return undefined
      },
    )
    return { block, created }
  }

  /** Records proof that a node forked its chain; true when it is news. */
  async addProof(proof: EquivocationProof): Promise<boolean> {
    const offender = await checkEquivocation(proof)
    if (offender === null) throw new LedgerRefusedError('forged', 'not a proof of equivocation')
    const fresh = this.chains.addOffender(proof, this.#now())
    this.#offenders.add(offender)
    if (fresh) this.#init.onOffender?.(proof)
    return fresh
  }

  /** Stores a block of another chain; a different block at the same seq is proof of a fork. */
  #storeForeign(block: Block): boolean {
    const r = this.chains.put(block)
    if (r.status === 'conflict') {
      void this.addProof({ a: r.other, b: block })
      throw new LedgerRefusedError('offender', `${block.peerId} signed two blocks at seq ${block.seq}`)
    }
    return r.status === 'stored'
  }

  /**
   * Signs and stores the next block of this chain. `commit` runs in the block's transaction
   * (after signing): it may refuse by throwing, or return an existing block to store nothing.
   */
  #append(
    make: (head: { seq: number; hash: string } | null) => UnsignedBlock,
    commit: (b: Block) => Block | undefined,
  ): Promise<Block> {
    const run = this.#appending.then(async () => {
      const block = await this.#sign(make(this.head()))
      const stored = this.chains.transaction(() => {
        const existing = commit(block)
        if (existing) return existing
        this.chains.put(block)
        return block
      })
      if (stored === block) this.#init.onAppend?.(block)
      return stored
    })
    this.#appending = run.catch(() => undefined)
    return run
  }

  #sign(unsigned: UnsignedBlock): Promise<Block> {
    return signBlock(unsigned, this.#init.key)
  }

  /** A pair (or grant) of this chain completed: `own` is this node's block. */
  #count(own: Block, other: Block | null): void {
    const effect = balanceEffect(own)
    this.#totals.balance += effect
    if (effect > 0) this.#totals.earned += effect
    else this.#totals.spent -= effect
    const proposal = own.tx.type === 'transfer' ? own : other
    if (proposal) this.#pending.delete(blockHash(proposal))
    const t = own.tx.type === 'grant' ? null : own.tx.type === 'transfer' ? own.tx : own.tx.transfer
    this.#init.onSettled?.({
      hash: blockHash(own),
      direction: effect > 0 ? 'in' : 'out',
      counterparty: own.counterparty,
      credits: Math.abs(effect),
      kind: t?.ref?.kind ?? (t ? 'transfer' : 'grant'),
      taskId: t?.ref?.id ?? null,
      balance: this.#totals.balance,
    })
  }

  /** Totals, pending proposals and grants from the chain as stored (at start). */
  #recount(): void {
    const totals: Totals = { balance: 0, earned: 0, spent: 0 }
    let from = 1
    for (;;) {
      const page = this.chains.range(this.selfId, from, 1000)
      if (page.length === 0) break
      for (const b of page) {
        const tx = b.tx
        let counts = false
        if (tx.type === 'grant') {
          counts = true
          this.#grants.set(tx.certificate.grantId, b)
        } else if (tx.type === 'agreement') {
          const p = this.chains.get(b.counterparty, b.linkSeq)
          counts = p !== undefined && agreementMismatch(p, b) === null
        } else {
          const a = this.chains.agreementTo(blockHash(b))
          counts = a !== undefined && agreementMismatch(b, a) === null
          if (!counts) this.#pending.set(blockHash(b), b)
        }
        if (!counts) continue
        const e = balanceEffect(b)
        totals.balance += e
        if (e > 0) totals.earned += e
        else totals.spent -= e
      }
      from = page.at(-1)!.seq + 1
    }
    this.#totals = totals
  }
}
