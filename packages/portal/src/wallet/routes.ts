import { z } from 'zod'
import type { Sessions } from '../accounts/index.ts'
import type { PortalApp, RateLimiter } from '../http/index.ts'
import type { Wallet } from './wallet.ts'

export interface WalletDeps {
  wallet: Wallet
  sessions: Sessions
  limiter: RateLimiter
}

const PeerId = z.string().min(1).max(128)
const Id = z.object({ id: z.uuid() })

/** Deposits (invoice → grant), withdrawals (ticket → proposal → payment → agreement), grants for nodes. */
export function walletRoutes(d: WalletDeps) {
  return (app: PortalApp) => {
    app.get('/wallet', { schema: {} }, async (req) => {
      const s = await d.sessions.require(req, 'full')
      return d.wallet.summary(s.accountId)
    })
    app.post(
      '/wallet/deposits',
      { schema: { body: z.object({ peerId: PeerId, credits: z.number().int().min(1).max(1_000_000_000) }) } },
      async (req, reply) => {
        const s = await d.sessions.require(req, 'full')
        return reply
          .code(201)
          .send(await d.wallet.createDeposit(s.accountId, req.body.peerId, req.body.credits))
      },
    )
    app.get('/wallet/deposits/:id', { schema: { params: Id } }, async (req) => {
      const s = await d.sessions.require(req, 'full')
      return d.wallet.deposit(s.accountId, req.params.id)
    })
    app.get('/wallet/grants', { schema: { querystring: z.object({ peerId: PeerId }) } }, async (req) => ({
      grants: await d.wallet.grantsFor(req.query.peerId),
    }))
    app.post(
      '/wallet/withdrawals',
      { schema: { body: z.object({ peerId: PeerId, invoice: z.string().min(10).max(4096) }) } },
      async (req, reply) => {
        const s = await d.sessions.require(req, 'full')
        return reply.code(201).send(await d.wallet.createWithdrawal(s, req.body.peerId, req.body.invoice))
      },
    )
    // From the node (no session): the ticket id is unguessable, and only the node's own signed proposal moves it.
    app.get('/wallet/withdrawals/:id', { schema: { params: Id } }, async (req) =>
      d.wallet.withdrawal(req.params.id),
    )
    app.post(
      '/wallet/withdrawals/:id/proposal',
      { schema: { params: Id, body: z.object({ proposal: z.unknown() }) } },
      async (req) => {
        d.limiter.hit('enroll', req.ip)
        return d.wallet.submitProposal(req.params.id, req.body.proposal)
      },
    )
  }
}
