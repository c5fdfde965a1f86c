import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Database } from '../db/index.ts'
import { PortalError, unauthorized } from '../http/index.ts'
import { hashSecret, newSecret } from './tokens.ts'

export const SESSION_COOKIE = 'edgecoder_session'
export const CSRF_HEADER = 'x-csrf-token'

/** 'setup' came through an email link and may only add a passkey; 'full' signed in with a passkey. */
export type SessionLevel = 'setup' | 'full'

export interface Session {
  accountId: string
  level: SessionLevel
  csrf: string
  idHash: string
  /** When a passkey was last presented in this session: withdrawals ask for a recent one. */
  reauthAt: Date | null
}

const LIFETIME_MS: Record<SessionLevel, number> = { setup: 30 * 60_000, full: 12 * 3_600_000 }

/** Sessions kept in the database, named to the browser by an HttpOnly, Secure, SameSite=Strict cookie. */
export class Sessions {
  readonly #db: Database

  constructor(db: Database) {
    this.#db = db
  }

  async create(reply: FastifyReply, accountId: string, level: SessionLevel): Promise<Session> {
    const id = newSecret()
    const csrf = newSecret(24)
    const expires = new Date(Date.now() + LIFETIME_MS[level])
    const reauthAt = level === 'full' ? new Date() : null
    await this.#db.query(
      'INSERT INTO sessions (id_hash, account_id, level, csrf, expires_at, reauth_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [hashSecret(id), accountId, level, csrf, expires, reauthAt],
    )
    reply.setCookie(SESSION_COOKIE, id, {
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      expires,
    })
    return { accountId, level, csrf, idHash: hashSecret(id), reauthAt }
  }

  async find(req: FastifyRequest): Promise<Session | null> {
    const id = req.cookies[SESSION_COOKIE]
    if (id === undefined || id.length > 100) return null
    const rows = await this.#db.query<{
      account_id: string
      level: SessionLevel
      csrf: string
      reauth_at: Date | null
    }>('SELECT account_id, level, csrf, reauth_at FROM sessions WHERE id_hash = $1 AND expires_at > now()', [
      hashSecret(id),
    ])
    const r = rows[0]
    if (r === undefined) return null
    return {
      accountId: r.account_id,
      level: r.level,
      csrf: r.csrf,
      idHash: hashSecret(id),
      reauthAt: r.reauth_at,
    }
  }

  /**
   * The session a route acts for. State changes must also carry the session's CSRF token in a
   * header: a page on another origin can make the browser send the cookie, never read the token.
   */
  async require(req: FastifyRequest, level: SessionLevel = 'full'): Promise<Session> {
    const s = await this.find(req)
    if (s === null) throw unauthorized()
    if (level === 'full' && s.level !== 'full') {
      throw new PortalError(403, 'passkey_required', 'add a passkey and sign in with it first')
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const given = Buffer.from(String(req.headers[CSRF_HEADER] ?? ''))
      const want = Buffer.from(s.csrf)
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        throw new PortalError(403, 'csrf', 'missing or wrong CSRF token')
      }
    }
    return s
  }

  async upgrade(s: Session): Promise<void> {
    await this.#db.query(
      "UPDATE sessions SET level = 'full', reauth_at = now(), expires_at = $2 WHERE id_hash = $1",
      [s.idHash, new Date(Date.now() + LIFETIME_MS.full)],
    )
  }

  async markReauth(s: Session): Promise<void> {
    await this.#db.query('UPDATE sessions SET reauth_at = now() WHERE id_hash = $1', [s.idHash])
  }

  async end(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const id = req.cookies[SESSION_COOKIE]
    if (id !== undefined) await this.#db.query('DELETE FROM sessions WHERE id_hash = $1', [hashSecret(id)])
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' })
  }
}
