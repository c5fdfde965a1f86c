import { randomUUID } from 'node:crypto'
import type { Database } from '../db/index.ts'
import { PortalError } from '../http/index.ts'
import type { Outbox } from '../mail/index.ts'
import { hashSecret, newSecret } from './tokens.ts'

export type EmailPurpose = 'verify' | 'recover'

const LINK_TTL_MS: Record<EmailPurpose, number> = { verify: 24 * 3_600_000, recover: 30 * 60_000 }

export interface Account {
  id: string
  email: string
  emailVerified: boolean
}

/** Accounts and their email links: sign-up, verification, recovery. */
export class Accounts {
  readonly #db: Database
  readonly #outbox: Outbox
  readonly #publicUrl: string

  constructor(db: Database, outbox: Outbox, publicUrl: string) {
    this.#db = db
    this.#outbox = outbox
    this.#publicUrl = publicUrl
  }

  /**
   * Starts a sign-up. The answer is the same whether or not the address has an account, so the
   * form can't be used to learn who has one; an existing owner gets a recovery link instead.
   */
  async signUp(email: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const existing = await tx.query<{ id: string; email_verified_at: Date | null }>(
        'SELECT id, email_verified_at FROM accounts WHERE email = $1',
        [email],
      )
      const row = existing[0]
      if (row?.email_verified_at) {
        await this.#mailLink(tx, row.id, email, 'recover')
        return
      }
      const id = row?.id ?? randomUUID()
      if (row === undefined) await tx.query('INSERT INTO accounts (id, email) VALUES ($1, $2)', [id, email])
      await this.#mailLink(tx, id, email, 'verify')
    })
    this.#outbox.flush()
  }

  /** Sends a recovery link to a verified address; silent otherwise (same answer either way). */
  async recover(email: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const rows = await tx.query<{ id: string }>(
        'SELECT id FROM accounts WHERE email = $1 AND email_verified_at IS NOT NULL',
        [email],
      )
      if (rows[0] !== undefined) await this.#mailLink(tx, rows[0].id, email, 'recover')
    })
    this.#outbox.flush()
  }

  /** Uses an email link once; returns its account, now verified. */
  async confirmLink(token: string): Promise<Account> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<{ account_id: string; purpose: EmailPurpose }>(
        `UPDATE email_tokens SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
         RETURNING account_id, purpose`,
        [hashSecret(token)],
      )
      const r = rows[0]
      if (r === undefined) throw new PortalError(400, 'invalid_link', 'this link is unknown, used or expired')
      await tx.query(
        'UPDATE accounts SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1',
        [r.account_id],
      )
      const acc = await tx.query<{ id: string; email: string }>(
        'SELECT id, email FROM accounts WHERE id = $1',
        [r.account_id],
      )
      return { id: acc[0]!.id, email: acc[0]!.email, emailVerified: true }
    })
  }

  async get(id: string): Promise<Account> {
    const rows = await this.#db.query<{ id: string; email: string; email_verified_at: Date | null }>(
      'SELECT id, email, email_verified_at FROM accounts WHERE id = $1',
      [id],
    )
    const r = rows[0]
    if (r === undefined) throw new PortalError(401, 'unauthorized', 'sign in first')
    return { id: r.id, email: r.email, emailVerified: r.email_verified_at !== null }
  }

  async #mailLink(
    tx: Parameters<Parameters<Database['transaction']>[0]>[0],
    accountId: string,
    email: string,
    purpose: EmailPurpose,
  ) {
    const token = newSecret()
    await tx.query(
      'INSERT INTO email_tokens (token_hash, account_id, purpose, expires_at) VALUES ($1, $2, $3, $4)',
      [hashSecret(token), accountId, purpose, new Date(Date.now() + LINK_TTL_MS[purpose])],
    )
    // The token rides in the fragment: it never reaches a server log or a Referer header.
    const link = `${this.#publicUrl}/#/link/${token}`
    const [subject, text] =
      purpose === 'verify'
        ? [
            'Confirm your EdgeCoder account',
            `Open this link to confirm your address and add a passkey:\n\n${link}\n\nIt works once, for 24 hours.`,
          ]
        : [
            'Sign in to EdgeCoder',
            `Open this link to sign in and add a new passkey:\n\n${link}\n\nIt works once, for 30 minutes. If you did not ask for it, ignore this mail.`,
          ]
    await this.#outbox.enqueue(tx, email, subject, text)
  }
}
