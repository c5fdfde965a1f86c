import { randomUUID } from 'node:crypto'
import { type ActivationCertificate, canonicalJson, enrollProof, type NodeRole } from '@edgecoder/protocol'
import { peerIdFromString } from '@libp2p/peer-id'
import { hashSecret, newCode, newSecret } from '../accounts/index.ts'
import type { Database, Queryable } from '../db/index.ts'
import { PortalError } from '../http/index.ts'
import type { PortalKey } from '../keys.ts'

const CODE_TTL_MS = 30 * 60_000
const CHALLENGE_TTL_MS = 5 * 60_000

export interface NodeRow {
  peerId: string
  roles: NodeRole[]
  publicAddrs: string[]
  coordinatorApproved: boolean
  activatedAt: string
  certExpiresAt: string
  revokedAt: string | null
}

const bad = (code: string, message: string) => new PortalError(400, code, message)

/**
 * Node activation: an owner's one-time code, the node's proof that it holds its key, and the
 * certificate the portal signs. A peer id, once bound to an account, is never rebound to another.
 */
export class Activation {
  readonly #db: Database
  readonly #key: PortalKey
  readonly #certTtlMs: number

  constructor(db: Database, key: PortalKey, certTtlSec: number) {
    this.#db = db
    this.#key = key
    this.#certTtlMs = certTtlSec * 1000
  }

  async createCode(accountId: string, roles: NodeRole[]) {
    const code = newCode()
    const expiresAt = new Date(Date.now() + CODE_TTL_MS)
    await this.#db.query(
      'INSERT INTO enrollment_codes (code_hash, account_id, roles, expires_at) VALUES ($1, $2, $3, $4)',
      [hashSecret(code), accountId, roles, expiresAt],
    )
    return { code, roles, expiresAt: expiresAt.toISOString() }
  }

  async challenge(typed: string, peerId: string) {
    const code = normalizeCode(typed)
    const pub = publicKeyOf(peerId)
    if (pub === null) throw bad('invalid_peer_id', 'peerId is not an Ed25519 peer id')
    const rows = await this.#db.query<{ account_id: string }>(
      'SELECT account_id FROM enrollment_codes WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()',
      [hashSecret(code)],
    )
    if (rows[0] === undefined)
      throw new PortalError(403, 'invalid_code', 'this enrollment code is unknown, used or expired')
    await this.#refuseForeign(this.#db, peerId, rows[0].account_id)
    const id = randomUUID()
    const nonce = newSecret(24)
    const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS)
    await this.#db.query(
      'INSERT INTO enrollment_challenges (id, code_hash, peer_id, nonce, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [id, hashSecret(code), peerId, nonce, expiresAt],
    )
    return { challengeId: id, nonce, portalPeerId: this.#key.peerId, expiresAt: expiresAt.getTime() }
  }

  /** Checks the node's signature over the challenge, binds the node, and signs its certificate. */
  async complete(req: { challengeId: string; peerId: string; signature: string; publicAddrs: string[] }) {
    const pub = publicKeyOf(req.peerId)
    if (pub === null) throw bad('invalid_peer_id', 'peerId is not an Ed25519 peer id')
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<{ code_hash: string; nonce: string; peer_id: string; expires_at: Date }>(
        `UPDATE enrollment_challenges SET used_at = now()
         WHERE id = $1 AND used_at IS NULL RETURNING code_hash, nonce, peer_id, expires_at`,
        [req.challengeId],
      )
      const ch = rows[0]
      if (ch === undefined || ch.expires_at.getTime() < Date.now() || ch.peer_id !== req.peerId) {
        throw new PortalError(403, 'invalid_challenge', 'unknown, used or expired challenge')
      }
      const proof = enrollProof({
        challengeId: req.challengeId,
        nonce: ch.nonce,
        peerId: req.peerId,
        portalPeerId: this.#key.peerId,
      })
      const ok = await pub.verify(
        new TextEncoder().encode(canonicalJson(proof)),
        Buffer.from(req.signature, 'base64url'),
      )
      if (!ok)
        throw new PortalError(403, 'bad_signature', 'the signature is not from the key of this peer id')
      const codes = await tx.query<{ account_id: string; roles: NodeRole[] }>(
        `UPDATE enrollment_codes SET used_at = now()
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING account_id, roles`,
        [ch.code_hash],
      )
      const code = codes[0]
      if (code === undefined)
        throw new PortalError(403, 'invalid_code', 'this enrollment code is unknown, used or expired')
      await this.#refuseForeign(tx, req.peerId, code.account_id)
      const expiresAt = new Date(Date.now() + this.#certTtlMs)
      // The WHERE keeps another account's row untouched even if two enrollments race.
      const bound = await tx.query(
        `INSERT INTO nodes (peer_id, account_id, roles, public_addrs, cert_expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (peer_id) DO UPDATE SET roles = excluded.roles, public_addrs = excluded.public_addrs,
           cert_expires_at = excluded.cert_expires_at, revoked_at = NULL, activated_at = now()
         WHERE nodes.account_id = excluded.account_id RETURNING peer_id`,
        [req.peerId, code.account_id, code.roles, req.publicAddrs, expiresAt],
      )
      if (bound.length === 0) throw foreignNode()
      return this.#certificate(req.peerId, code.account_id, code.roles, expiresAt)
    })
  }

  /** A fresh certificate for a node that proves its key again; refused once revoked. */
  async renew(peerId: string, at: number, signature: string) {
    const pub = publicKeyOf(peerId)
    if (pub === null) throw bad('invalid_peer_id', 'peerId is not an Ed25519 peer id')
    if (Math.abs(Date.now() - at) > 5 * 60_000)
      throw new PortalError(403, 'stale_request', 'the renewal is not recent')
    const msg = canonicalJson({ type: 'edgecoder.activation-renew/1', peerId, at, portal: this.#key.peerId })
    if (!(await pub.verify(new TextEncoder().encode(msg), Buffer.from(signature, 'base64url')))) {
      throw new PortalError(403, 'bad_signature', 'the signature is not from the key of this peer id')
    }
    const expiresAt = new Date(Date.now() + this.#certTtlMs)
    const rows = await this.#db.query<{ account_id: string; roles: NodeRole[] }>(
      `UPDATE nodes SET cert_expires_at = $2 WHERE peer_id = $1 AND revoked_at IS NULL RETURNING account_id, roles`,
      [peerId, expiresAt],
    )
    if (rows[0] === undefined)
      throw new PortalError(403, 'not_active', 'this node is not activated, or was revoked')
    return this.#certificate(peerId, rows[0].account_id, rows[0].roles, expiresAt)
  }

  async list(accountId: string): Promise<NodeRow[]> {
    const rows = await this.#db.query<{
      peer_id: string
      roles: NodeRole[]
      public_addrs: string[]
      coordinator_approved: boolean
      activated_at: Date
      cert_expires_at: Date
      revoked_at: Date | null
    }>('SELECT * FROM nodes WHERE account_id = $1 ORDER BY activated_at', [accountId])
    return rows.map((r) => ({
      peerId: r.peer_id,
      roles: r.roles,
      publicAddrs: r.public_addrs,
      coordinatorApproved: r.coordinator_approved,
      activatedAt: r.activated_at.toISOString(),
      certExpiresAt: r.cert_expires_at.toISOString(),
      revokedAt: r.revoked_at?.toISOString() ?? null,
    }))
  }

  async revoke(accountId: string, peerId: string): Promise<void> {
    const rows = await this.#db.query(
      'UPDATE nodes SET revoked_at = coalesce(revoked_at, now()) WHERE peer_id = $1 AND account_id = $2 RETURNING peer_id',
      [peerId, accountId],
    )
    if (rows.length === 0) throw new PortalError(404, 'not_found', 'node not found')
  }

  /** Revoked peers whose last certificate may still be unexpired: what nodes poll to drop them early. */
  async revocations() {
    const rows = await this.#db.query<{ peer_id: string }>(
      'SELECT peer_id FROM nodes WHERE revoked_at IS NOT NULL AND cert_expires_at > now() ORDER BY peer_id',
    )
    return this.#key.sign({
      type: 'edgecoder.revocations/1',
      issuer: this.#key.peerId,
      issuedAt: Date.now(),
      revoked: rows.map((r) => r.peer_id),
    })
  }

  async #refuseForeign(q: Queryable, peerId: string, accountId: string): Promise<void> {
    const rows = await q.query<{ account_id: string }>('SELECT account_id FROM nodes WHERE peer_id = $1', [
      peerId,
    ])
    if (rows[0] !== undefined && rows[0].account_id !== accountId) throw foreignNode()
  }

  async #certificate(
    peerId: string,
    accountId: string,
    roles: NodeRole[],
    expiresAt: Date,
  ): Promise<ActivationCertificate> {
    return this.#key.sign({
      type: 'edgecoder.activation/1' as const,
      peerId,
      accountId,
      roles,
      issuedAt: Date.now(),
      expiresAt: expiresAt.getTime(),
      issuer: this.#key.peerId,
    })
  }
}

/** Codes are typed by people: case and spaces don't matter. */
const normalizeCode = (code: string) => code.trim().toUpperCase().replace(/\s+/g, '')

const foreignNode = () => new PortalError(409, 'node_taken', 'this node id belongs to another account')

function publicKeyOf(peerId: string) {
  try {
    const id = peerIdFromString(peerId)
    return id.type === 'Ed25519' ? id.publicKey : null
  } catch {
    return null
  }
}
