import { randomUUID } from 'node:crypto'
import {
  Block,
  blockHash,
  type GrantCertificate,
  LEDGER_MAX_SKEW_MS,
  makeAgreement,
  PROPOSAL_TTL_MS,
  signBlock,
  verifyBlock,
} from '@edgecoder/protocol'
import type { Logger } from 'pino'
import type { Session } from '../accounts/index.ts'
import type { Database, Queryable } from '../db/index.ts'
import { PortalError } from '../http/index.ts'
import type { PortalKey } from '../keys.ts'
import { Bolt11Error, decodeBolt11, type Lightning, type PaymentOutcome } from '../lightning/index.ts'
import { Deposits, requireActiveNode } from './deposits.ts'
import type { WalletOptions } from './options.ts'

const refuse = (status: number, code: string, message: string) => new PortalError(status, code, message)

interface WithdrawalRow {
  id: string
  account_id: string
  peer_id: string
  credits: number
  sats: number
  payment_request: string
  payment_hash: string
  state: 'awaiting_proposal' | 'paying' | 'paid' | 'failed'
  expires_at: Date
  proposal_hash: string | null
  proposal: string | null
  agreement: string | null
  failure: string | null
}

/**
 * Credits for sats and back. A deposit's grant is signed only once the Lightning node itself
 * reports the invoice settled. A withdrawal pays only against the node's signed transfer
 * proposal, and the portal's agreement (what makes the transfer count) is signed only once the
 * Lightning node reports the payment succeeded; an uncertain payment is settled from the
 * node's own record, also after a restart.
 */
export class Wallet {
  readonly #db: Database
  readonly #key: PortalKey
  readonly #ln: Lightning
  readonly #opts: WalletOptions
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #chainLock: Promise<unknown> = Promise.resolve()

  constructor(db: Database, key: PortalKey, ln: Lightning, opts: WalletOptions, log: Logger) {
    this.#db = db
    this.#key = key
    this.#ln = ln
    this.#opts = opts
    this.#log = log.child({ part: 'wallet' })
    this.deposits = new Deposits(db, key, ln, opts, this.#log)
  }

  /** Resolves what a previous run left open, then keeps checking. */
  async start(): Promise<void> {
    await this.resolvePending()
    this.#timer = setInterval(() => {
      this.resolvePending().catch((err) => this.#log.warn({ err }, 'wallet check failed'))
    }, this.#opts.pollMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  rate() {
    return {
      satsPerCredit: this.#opts.satsPerCredit,
      depositMaxSats: this.#opts.depositMaxSats,
      withdrawMaxSats: this.#opts.withdrawMaxSats,
    }
  }

  readonly deposits: Deposits

  createDeposit(accountId: string, peerId: string, credits: number) {
    return this.deposits.create(accountId, peerId, credits)
  }

  deposit(accountId: string, id: string) {
    return this.deposits.get(accountId, id)
  }

  grantsFor(peerId: string): Promise<GrantCertificate[]> {
    return this.deposits.grantsFor(peerId)
  }

  async createWithdrawal(session: Session, peerId: string, invoice: string) {
    if (session.reauthAt === null || Date.now() - session.reauthAt.getTime() > this.#opts.reauthWindowMs) {
      throw refuse(403, 'reauth_required', 'confirm with your passkey first')
    }
    await requireActiveNode(this.#db, session.accountId, peerId)
    let bolt: ReturnType<typeof decodeBolt11>
    try {
      bolt = decodeBolt11(invoice)
    } catch (err) {
      if (err instanceof Bolt11Error) throw refuse(400, 'invalid_invoice', err.message)
      throw err
    }
    if (bolt.network !== this.#opts.network)
      throw refuse(400, 'invalid_invoice', `the invoice is for another network (${bolt.network})`)
    if (bolt.msat === null) throw refuse(400, 'invalid_invoice', 'the invoice must name an amount')
    if (bolt.msat % 1000n !== 0n) throw refuse(400, 'invalid_invoice', 'the amount must be whole sats')
    const sats = Number(bolt.msat / 1000n)
    if ((bolt.timestamp + bolt.expirySec) * 1000 < Date.now() + 60_000)
      throw refuse(400, 'invalid_invoice', 'the invoice has expired')
    if (sats > this.#opts.withdrawMaxSats)
      throw refuse(400, 'over_limit', `a withdrawal is at most ${this.#opts.withdrawMaxSats} sats`)
    if (sats % this.#opts.satsPerCredit !== 0) {
      throw refuse(
        400,
        'invalid_invoice',
        `the amount must be a multiple of ${this.#opts.satsPerCredit} sats (one credit)`,
      )
    }
    // The Lightning node decodes too: it checks the signature, and must agree on what is paid.
    const node = await this.#ln.decode(invoice).catch((err) => {
      throw refuse(
        400,
        'invalid_invoice',
        `the Lightning node refused the invoice: ${(err as Error).message}`,
      )
    })
    if (node.paymentHash !== bolt.paymentHash || node.sats !== sats)
      throw refuse(400, 'invalid_invoice', 'the invoice decodes inconsistently')
    const id = randomUUID()
    const credits = sats / this.#opts.satsPerCredit
    try {
      await this.#db.query(
        `INSERT INTO withdrawals (id, account_id, peer_id, credits, sats, payment_request, payment_hash, state, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'awaiting_proposal', $8)`,
        [
          id,
          session.accountId,
          peerId,
          credits,
          sats,
          invoice.trim(),
          bolt.paymentHash,
          new Date(Date.now() + this.#opts.ticketTtlMs),
        ],
      )
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw refuse(409, 'invoice_used', 'this invoice was already given for a withdrawal')
      throw err
    }
    return {
      id,
      peerId,
      credits,
      sats,
      memo: `withdrawal ${id}`,
      to: this.#key.peerId,
      state: 'awaiting_proposal' as const,
    }
  }

  /** Step two, from the node: its signed proposal; the portal pays, then agrees. */
  async submitProposal(id: string, raw: unknown) {
    const parsed = Block.safeParse(raw)
    if (!parsed.success) throw refuse(400, 'invalid_proposal', 'not a ledger block')
    const proposal = parsed.data
    const w = await this.#row(id)
    const hash = blockHash(proposal)
    // A replay of an accepted proposal answers what the first one got; nothing is paid twice.
    if (w.proposal_hash !== null) {
      if (w.proposal_hash !== hash)
        throw refuse(409, 'withdrawal_used', 'this withdrawal already has a proposal')
      return this.view(w)
    }
    const tx = proposal.tx
    if (tx.type !== 'transfer') throw refuse(400, 'invalid_proposal', 'not a transfer proposal')
    if (!(await verifyBlock(proposal)))
      throw refuse(403, 'bad_signature', 'the proposal is not signed by its chain owner')
    if (proposal.peerId !== w.peer_id || tx.from !== w.peer_id)
      throw refuse(403, 'wrong_node', 'the proposal is not from the node this withdrawal is for')
    if (tx.to !== this.#key.peerId || proposal.counterparty !== this.#key.peerId)
      throw refuse(400, 'invalid_proposal', 'the proposal does not pay the portal')
    if (tx.credits !== w.credits)
      throw refuse(400, 'invalid_proposal', `the proposal must move exactly ${w.credits} credits`)
    if (tx.memo !== `withdrawal ${id}`)
      throw refuse(400, 'invalid_proposal', `the memo must be "withdrawal ${id}"`)
    const now = Date.now()
    if (proposal.ts > now + LEDGER_MAX_SKEW_MS || proposal.ts < now - PROPOSAL_TTL_MS / 2) {
      throw refuse(400, 'invalid_proposal', 'the proposal is too old or dated in the future')
    }
    let taken: { id: string }[]
    try {
      taken = await this.#db.query<{ id: string }>(
        `UPDATE withdrawals SET state = 'paying', proposal_hash = $2, proposal = $3
         WHERE id = $1 AND state = 'awaiting_proposal' AND expires_at > now() RETURNING id`,
        [id, hash, JSON.stringify(proposal)],
      )
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw refuse(409, 'proposal_used', 'this proposal was already used')
      throw err
    }
    if (taken.length === 0)
      throw refuse(409, 'withdrawal_closed', 'this withdrawal expired or is already under way')
    let outcome: PaymentOutcome
    try {
      outcome = await this.#ln.pay(w.payment_request, { feeLimitSat: this.#opts.feeLimitSat, timeoutSec: 60 })
    } catch (err) {
      // The payment may or may not have left: only the Lightning node's own record can tell.
      this.#log.warn({ err, id }, 'payment outcome unknown; will ask the Lightning node')
      outcome = { status: 'in_flight' }
    }
    await this.#resolve(id, outcome)
    return this.view(await this.#row(id))
  }

  async withdrawal(id: string) {
    return this.view(await this.#row(id))
  }

  view(w: WithdrawalRow) {
    return {
      id: w.id,
      peerId: w.peer_id,
      credits: w.credits,
      sats: w.sats,
      state: w.state,
      memo: `withdrawal ${w.id}`,
      to: this.#key.peerId,
      agreement: w.agreement ? (JSON.parse(w.agreement) as Block) : null,
      failure: w.failure,
    }
  }

  /** Per node of the account: credits bought and withdrawn through the portal, and recent operations. */
  async summary(accountId: string) {
    const deposits = await this.#db.query<{
      id: string
      peer_id: string
      credits: number
      sats: number
      state: string
      payment_request: string
      created_at: Date
    }>(
      'SELECT id, peer_id, credits, sats, state, payment_request, created_at FROM deposits WHERE account_id = $1 ORDER BY created_at DESC LIMIT 50',
      [accountId],
    )
    const withdrawals = await this.#db.query<WithdrawalRow & { created_at: Date }>(
      'SELECT * FROM withdrawals WHERE account_id = $1 ORDER BY created_at DESC LIMIT 50',
      [accountId],
    )
    return {
      rate: this.rate(),
      portalPeerId: this.#key.peerId,
      deposits: deposits.map((d) => ({
        id: d.id,
        peerId: d.peer_id,
        credits: d.credits,
        sats: d.sats,
        state: d.state,
        paymentRequest: d.payment_request,
        createdAt: d.created_at.toISOString(),
      })),
      withdrawals: withdrawals.map((w) => ({ ...this.view(w), createdAt: w.created_at.toISOString() })),
    }
  }

  /** Open deposits paid since, and payments whose outcome was unknown. */
  async resolvePending(): Promise<void> {
    await this.deposits.settle('', [])
    const paying = await this.#db.query<{ id: string; payment_hash: string }>(
      "SELECT id, payment_hash FROM withdrawals WHERE state = 'paying'",
    )
    for (const w of paying) await this.#resolve(w.id, await this.#ln.paymentState(w.payment_hash))
  }

  async #resolve(id: string, outcome: PaymentOutcome): Promise<void> {
    if (outcome.status === 'in_flight') return
    if (outcome.status === 'failed' || outcome.status === 'unknown') {
      // Unknown after the fact means it never left: nothing was paid, so nothing is agreed.
      await this.#db.query(
        "UPDATE withdrawals SET state = 'failed', failure = $2, resolved_at = now() WHERE id = $1 AND state = 'paying'",
        [id, outcome.status === 'failed' ? outcome.reason : 'the payment never left'],
      )
      this.#log.warn({ id, outcome }, 'withdrawal payment failed; no agreement signed')
      return
    }
    // One block at a time in the portal's chain.
    const run = this.#chainLock.then(() => this.#agree(id))
    this.#chainLock = run.catch(() => {})
    await run
  }

  async #agree(id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const rows = await tx.query<{ proposal: string }>(
        "SELECT proposal FROM withdrawals WHERE id = $1 AND state = 'paying' FOR UPDATE",
        [id],
      )
      if (rows[0] === undefined) return
      const proposal = Block.parse(JSON.parse(rows[0].proposal))
      if (Date.now() > proposal.ts + PROPOSAL_TTL_MS) {
        this.#log.error(
          { id },
          'paid after the proposal expired: the node will refuse this agreement; settle by hand',
        )
      }
      const head = await this.#head(tx)
      const agreement = await signBlock(
        makeAgreement(this.#key.peerId, head, proposal, Date.now()),
        this.#key.privateKey,
      )
      await tx.query('INSERT INTO portal_chain (seq, hash, block) VALUES ($1, $2, $3)', [
        agreement.seq,
        blockHash(agreement),
        JSON.stringify(agreement),
      ])
      await tx.query(
        "UPDATE withdrawals SET state = 'paid', agreement = $2, resolved_at = now() WHERE id = $1",
        [id, JSON.stringify(agreement)],
      )
      this.#log.info({ id, seq: agreement.seq }, 'withdrawal paid: agreement signed')
    })
  }

  async #head(q: Queryable) {
    const rows = await q.query<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM portal_chain ORDER BY seq DESC LIMIT 1',
    )
    return rows[0] ?? null
  }

  async #row(id: string): Promise<WithdrawalRow> {
    const rows = await this.#db.query<WithdrawalRow>('SELECT * FROM withdrawals WHERE id = $1', [id])
    if (rows[0] === undefined) throw refuse(404, 'not_found', 'withdrawal not found')
    return { ...rows[0], credits: Number(rows[0].credits), sats: Number(rows[0].sats) }
  }
}
