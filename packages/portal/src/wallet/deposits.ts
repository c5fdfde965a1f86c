import { randomUUID } from 'node:crypto'
import { type GrantCertificate, signGrant } from '@edgecoder/protocol'
import type { Logger } from 'pino'
import type { Database } from '../db/index.ts'
import { PortalError } from '../http/index.ts'
import type { PortalKey } from '../keys.ts'
import type { Lightning } from '../lightning/index.ts'
import type { WalletOptions } from './options.ts'

const refuse = (status: number, code: string, message: string) => new PortalError(status, code, message)

/** Deposits: an invoice from the Lightning node, and a grant signed only once it reports the invoice settled. */
export class Deposits {
  readonly #db: Database
  readonly #key: PortalKey
  readonly #ln: Lightning
  readonly #opts: WalletOptions
  readonly #log: Logger

  constructor(db: Database, key: PortalKey, ln: Lightning, opts: WalletOptions, log: Logger) {
    this.#db = db
    this.#key = key
    this.#ln = ln
    this.#opts = opts
    this.#log = log
  }

  async create(accountId: string, peerId: string, credits: number) {
    await requireActiveNode(this.#db, accountId, peerId)
    const sats = credits * this.#opts.satsPerCredit
    if (sats > this.#opts.depositMaxSats)
      throw refuse(400, 'over_limit', `a deposit is at most ${this.#opts.depositMaxSats} sats`)
    const id = randomUUID()
    const inv = await this.#ln.createInvoice(
      sats,
      `EdgeCoder: ${credits} credits (${id})`,
      this.#opts.invoiceExpirySec,
    )
    await this.#db.query(
      `INSERT INTO deposits (id, account_id, peer_id, credits, sats, payment_hash, payment_request, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'open')`,
      [id, accountId, peerId, credits, sats, inv.paymentHash, inv.paymentRequest],
    )
    return {
      id,
      peerId,
      credits,
      sats,
      paymentRequest: inv.paymentRequest,
      state: 'open' as const,
      grant: null,
    }
  }

  async get(accountId: string, id: string) {
    await this.settle('AND id = $1', [id])
    const rows = await this.#db.query<{
      id: string
      peer_id: string
      credits: number
      sats: number
      payment_request: string
      state: string
      grant_cert: string | null
    }>(
      'SELECT id, peer_id, credits, sats, payment_request, state, grant_cert FROM deposits WHERE id = $1 AND account_id = $2',
      [id, accountId],
    )
    const r = rows[0]
    if (r === undefined) throw refuse(404, 'not_found', 'deposit not found')
    return {
      id: r.id,
      peerId: r.peer_id,
      credits: r.credits,
      sats: r.sats,
      paymentRequest: r.payment_request,
      state: r.state,
      grant: r.grant_cert ? (JSON.parse(r.grant_cert) as GrantCertificate) : null,
    }
  }

  /** Grants issued to a node, oldest first: what `edgecoder credits claim` applies. */

  async grantsFor(peerId: string): Promise<GrantCertificate[]> {
    await this.settle('AND peer_id = $1', [peerId])
    const rows = await this.#db.query<{ grant_cert: string }>(
      "SELECT grant_cert FROM deposits WHERE peer_id = $1 AND state = 'paid' ORDER BY paid_at",
      [peerId],
    )
    return rows.map((r) => JSON.parse(r.grant_cert) as GrantCertificate)
  }

  /** Step one of a withdrawal (in the browser, after a fresh passkey assertion): the invoice is checked, a ticket is made. */

  /** Open deposits the Lightning node now reports paid get their grant (`filter` narrows, e.g. to one id). */
  async settle(filter: string, params: unknown[]): Promise<void> {
    const open = await this.#db.query<{
      id: string
      peer_id: string
      credits: number
      sats: number
      payment_hash: string
    }>(
      `SELECT id, peer_id, credits, sats, payment_hash FROM deposits WHERE state = 'open' ${filter} LIMIT 200`,
      params,
    )
    for (const d of open) {
      const inv = await this.#ln.invoiceState(d.payment_hash)
      if (inv.state === 'canceled') {
        await this.#db.query("UPDATE deposits SET state = 'canceled' WHERE id = $1 AND state = 'open'", [
          d.id,
        ])
        continue
      }
      if (inv.state !== 'settled' || inv.paidSats < d.sats) continue
      const grantId = randomUUID()
      const grant = await signGrant(
        { type: 'edgecoder.grant/1', grantId, peerId: d.peer_id, credits: d.credits, issuedAt: Date.now() },
        this.#key.privateKey,
      )
      await this.#db.query(
        "UPDATE deposits SET state = 'paid', paid_at = now(), grant_id = $2, grant_cert = $3 WHERE id = $1 AND state = 'open'",
        [d.id, grantId, JSON.stringify(grant)],
      )
      this.#log.info({ deposit: d.id, peerId: d.peer_id, credits: d.credits }, 'deposit paid: grant issued')
    }
  }
}

/** Deposits and withdrawals are for an active node of the caller's account only. */
export async function requireActiveNode(db: Database, accountId: string, peerId: string): Promise<void> {
  const rows = await db.query(
    'SELECT 1 FROM nodes WHERE peer_id = $1 AND account_id = $2 AND revoked_at IS NULL AND cert_expires_at > now()',
    [peerId, accountId],
  )
  if (rows.length === 0)
    throw refuse(404, 'node_not_active', 'no active node of this account has this peer id')
}
