import {
  Coordinators,
  EnrollChallenge,
  EnrollChallengeRequest,
  EnrollComplete,
  NodeRole,
} from '@edgecoder/protocol'
import { z } from 'zod'
import type { Accounts, Sessions } from '../accounts/index.ts'
import type { Database } from '../db/index.ts'
import { type PortalApp, PortalError, type RateLimiter } from '../http/index.ts'
import type { PortalKey } from '../keys.ts'
import type { Activation } from './activation.ts'
import type { SeedDirectory } from './seed-directory.ts'

export interface NodeDeps {
  activation: Activation
  sessions: Sessions
  accounts: Accounts
  limiter: RateLimiter
  key: PortalKey
  db: Database
  admins: readonly string[]
  seeds: readonly string[]
  seedDirectory: SeedDirectory
}

const PeerIdParam = z.object({ peerId: z.string().min(1).max(128) })
const B64Sig = z.string().regex(/^[A-Za-z0-9_-]{40,200}$/)

/** Enrollment codes, node proofs and certificates, the owner's node list, and the public coordinator list. */
export function nodeRoutes(d: NodeDeps) {
  const requireAdmin = async (req: Parameters<Sessions['require']>[0]) => {
    const s = await d.sessions.require(req, 'full')
    const acc = await d.accounts.get(s.accountId)
    if (!d.admins.includes(acc.email)) throw new PortalError(403, 'not_admin', 'only an admin may do this')
    return s
  }
  return (app: PortalApp) => {
    app.get('/portal/key', { schema: {} }, async () => ({ peerId: d.key.peerId, publicKey: d.key.publicKey }))

    app.post(
      '/nodes/enrollment-codes',
      { schema: { body: z.object({ roles: z.array(NodeRole).min(1).max(2).default(['worker']) }) } },
      async (req, reply) => {
        const s = await d.sessions.require(req, 'full')
        return reply.code(201).send(await d.activation.createCode(s.accountId, [...new Set(req.body.roles)]))
      },
    )
    app.get('/nodes', { schema: {} }, async (req) => {
      const s = await d.sessions.require(req, 'full')
      return { nodes: await d.activation.list(s.accountId) }
    })
    app.delete('/nodes/:peerId', { schema: { params: PeerIdParam } }, async (req, reply) => {
      const s = await d.sessions.require(req, 'full')
      await d.activation.revoke(s.accountId, req.params.peerId)
      return reply.code(204).send()
    })

    app.post(
      '/enroll/challenge',
      { schema: { body: EnrollChallengeRequest, response: { 200: EnrollChallenge } } },
      async (req) => {
        d.limiter.hit('enroll', req.ip)
        return d.activation.challenge(req.body.code, req.body.peerId)
      },
    )
    app.post('/enroll/complete', { schema: { body: EnrollComplete } }, async (req) => {
      d.limiter.hit('enroll', req.ip)
      return { certificate: await d.activation.complete(req.body) }
    })
    app.post(
      '/activation/renew',
      {
        schema: {
          body: z.object({ peerId: z.string().min(1).max(128), at: z.number().int(), signature: B64Sig }),
        },
      },
      async (req) => {
        d.limiter.hit('enroll', req.ip)
        return { certificate: await d.activation.renew(req.body.peerId, req.body.at, req.body.signature) }
      },
    )
    app.get('/activation/revocations', { schema: {} }, async () => d.activation.revocations())

    app.get('/network/coordinators', { schema: { response: { 200: Coordinators } } }, async () => {
      const rows = await d.db.query<{ peer_id: string; public_addrs: string[] }>(
        `SELECT peer_id, public_addrs FROM nodes
         WHERE 'coordinator' = ANY(roles) AND coordinator_approved AND revoked_at IS NULL
           AND cert_expires_at > now() AND cardinality(public_addrs) > 0
         ORDER BY activated_at LIMIT 200`,
      )
      const seeds = d.seeds.map((a) => ({
        peerId: /\/p2p\/([^/]+)/.exec(a)?.[1] ?? '',
        addrs: [a],
        region: null,
      }))
      // The seed's own list (itself first, then the coordinators it knows), then activated nodes.
      const all = [
        ...seeds.filter((s) => s.peerId !== ''),
        ...(await d.seedDirectory.list()),
        ...rows.map((r) => ({ peerId: r.peer_id, addrs: r.public_addrs.slice(0, 16), region: null })),
      ]
      const seen = new Set<string>()
      return { coordinators: all.filter((c) => !seen.has(c.peerId) && seen.add(c.peerId)).slice(0, 256) }
    })
    app.get('/admin/coordinators', { schema: {} }, async (req) => {
      await requireAdmin(req)
      const rows = await d.db.query<{
        peer_id: string
        public_addrs: string[]
        coordinator_approved: boolean
      }>(
        `SELECT peer_id, public_addrs, coordinator_approved FROM nodes
         WHERE 'coordinator' = ANY(roles) AND revoked_at IS NULL ORDER BY activated_at`,
      )
      return {
        coordinators: rows.map((r) => ({
          peerId: r.peer_id,
          addrs: r.public_addrs,
          approved: r.coordinator_approved,
        })),
      }
    })
    app.post(
      '/admin/coordinators/:peerId/approve',
      { schema: { params: PeerIdParam } },
      async (req, reply) => {
        await requireAdmin(req)
        const rows = await d.db.query(
          `UPDATE nodes SET coordinator_approved = true WHERE peer_id = $1 AND 'coordinator' = ANY(roles) RETURNING peer_id`,
          [req.params.peerId],
        )
        if (rows.length === 0) throw new PortalError(404, 'not_found', 'no coordinator node with this id')
        return reply.code(204).send()
      },
    )
  }
}
