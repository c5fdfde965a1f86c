import { randomUUID } from 'node:crypto'
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server'
import type { Database } from '../db/index.ts'
import { PortalError } from '../http/index.ts'

export interface RelyingParty {
  id: string
  name: string
  origin: string
}

const CHALLENGE_TTL_MS = 5 * 60_000

const refused = (why: string) => new PortalError(401, 'passkey_refused', why)

/** Passkeys (WebAuthn): several per account, challenges single-use and short-lived. */
export class Passkeys {
  readonly #db: Database
  readonly #rp: RelyingParty

  constructor(db: Database, rp: RelyingParty) {
    this.#db = db
    this.#rp = rp
  }

  async registrationOptions(account: { id: string; email: string }) {
    const existing = await this.#db.query<{ id: string; transports: string[] }>(
      'SELECT id, transports FROM passkeys WHERE account_id = $1',
      [account.id],
    )
    const options = await generateRegistrationOptions({
      rpName: this.#rp.name,
      rpID: this.#rp.id,
      userName: account.email,
      userID: uuidBytes(account.id),
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    })
    const challengeId = await this.#saveChallenge(account.id, 'register', options.challenge)
    return { challengeId, options }
  }

  async register(accountId: string, challengeId: string, name: string, response: RegistrationResponseJSON) {
    const challenge = await this.#takeChallenge(challengeId, 'register', accountId)
    let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>
    try {
      result = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.#rp.origin,
        expectedRPID: this.#rp.id,
        requireUserVerification: false,
      })
    } catch (err) {
      throw refused(`the passkey was not accepted: ${(err as Error).message}`)
    }
    if (!result.verified) throw refused('the passkey was not accepted')
    const c = result.registrationInfo.credential
    const rows = await this.#db.query(
      `INSERT INTO passkeys (id, account_id, public_key, counter, transports, name)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [c.id, accountId, Buffer.from(c.publicKey), c.counter, c.transports ?? [], name],
    )
    if (rows.length === 0) throw new PortalError(409, 'passkey_exists', 'this passkey is already registered')
    return { id: c.id }
  }

  /** Options for signing in (any discoverable passkey) or re-authenticating (this account's). */
  async authenticationOptions(accountId: string | null) {
    const allow =
      accountId === null
        ? undefined
        : (
            await this.#db.query<{ id: string; transports: string[] }>(
              'SELECT id, transports FROM passkeys WHERE account_id = $1',
              [accountId],
            )
          ).map((c) => ({ id: c.id, transports: c.transports as never }))
    const options = await generateAuthenticationOptions({
      rpID: this.#rp.id,
      allowCredentials: allow,
      userVerification: 'preferred',
    })
    const challengeId = await this.#saveChallenge(accountId, 'authenticate', options.challenge)
    return { challengeId, options }
  }

  /** Verifies an assertion; returns the account it belongs to. */
  async authenticate(challengeId: string, response: AuthenticationResponseJSON, accountId: string | null) {
    const challenge = await this.#takeChallenge(challengeId, 'authenticate', accountId)
    const rows = await this.#db.query<{
      id: string
      account_id: string
      public_key: Uint8Array
      counter: number
      transports: string[]
    }>('SELECT id, account_id, public_key, counter, transports FROM passkeys WHERE id = $1', [response.id])
    const key = rows[0]
    if (key === undefined || (accountId !== null && key.account_id !== accountId))
      throw refused('unknown passkey')
    let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>
    try {
      result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.#rp.origin,
        expectedRPID: this.#rp.id,
        credential: {
          id: key.id,
          publicKey: new Uint8Array(key.public_key),
          counter: Number(key.counter),
          transports: key.transports as never,
        },
        requireUserVerification: false,
      })
    } catch (err) {
      throw refused(`the passkey was not accepted: ${(err as Error).message}`)
    }
    if (!result.verified) throw refused('the passkey was not accepted')
    await this.#db.query('UPDATE passkeys SET counter = $2, last_used_at = now() WHERE id = $1', [
      key.id,
      result.authenticationInfo.newCounter,
    ])
    return { accountId: key.account_id, passkeyId: key.id }
  }

  async list(accountId: string) {
    return this.#db.query<{ id: string; name: string; created_at: Date; last_used_at: Date | null }>(
      'SELECT id, name, created_at, last_used_at FROM passkeys WHERE account_id = $1 ORDER BY created_at',
      [accountId],
    )
  }

  /** Removes one passkey; the last one stays, so an account can't lock itself out by a click. */
  async remove(accountId: string, id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const mine = await tx.query<{ id: string }>(
        'SELECT id FROM passkeys WHERE account_id = $1 FOR UPDATE',
        [accountId],
      )
      if (!mine.some((k) => k.id === id)) throw new PortalError(404, 'not_found', 'passkey not found')
      if (mine.length === 1)
        throw new PortalError(409, 'last_passkey', 'add another passkey before removing this one')
      await tx.query('DELETE FROM passkeys WHERE id = $1 AND account_id = $2', [id, accountId])
    })
  }

  async #saveChallenge(accountId: string | null, purpose: string, challenge: string): Promise<string> {
    const id = randomUUID()
    await this.#db.query(
      'INSERT INTO webauthn_challenges (id, account_id, purpose, challenge, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [id, accountId, purpose, challenge, new Date(Date.now() + CHALLENGE_TTL_MS)],
    )
    return id
  }

  /** A challenge is used once: it is deleted as it is read. */
  async #takeChallenge(id: string, purpose: string, accountId: string | null): Promise<string> {
    const rows = await this.#db.query<{ challenge: string; account_id: string | null; expires_at: Date }>(
      'DELETE FROM webauthn_challenges WHERE id = $1 AND purpose = $2 RETURNING challenge, account_id, expires_at',
      [id, purpose],
    )
    const r = rows[0]
    if (r === undefined || r.expires_at.getTime() < Date.now() || r.account_id !== accountId) {
      throw refused('unknown or expired challenge; start again')
    }
    return r.challenge
  }
}

function uuidBytes(id: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(id.replaceAll('-', ''), 'hex'))
}
