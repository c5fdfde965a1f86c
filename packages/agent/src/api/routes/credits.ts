import {
  Block,
  ChainView,
  ChainViewQuery,
  CreditBalance,
  CreditHistory,
  CreditHistoryQuery,
  ErrorBody,
  GrantCertificate,
  LedgerVerifyReport,
  TransferRequest,
} from '@edgecoder/protocol'
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import {
  balanceView,
  chainView,
  historyView,
  type LedgerNode,
  LedgerRefusedError,
  verifyAll,
} from '../../ledger/index.ts'
import { ApiError } from '../errors.ts'
import type { RouteModule } from '../server.ts'

const PeerParam = z.object({ peerId: z.string().min(1).max(128) })

/** A ledger refusal as the API answers it: 409 when the node's credit stops it, else 400/403. */
function refused(err: unknown): unknown {
  if (!(err instanceof LedgerRefusedError)) return err
  if (err.reason === 'credit-line') return new ApiError(409, 'credit_line', err.message)
  if (err.reason === 'forged') return new ApiError(403, 'forged', err.message)
  if (err.reason === 'unknown-work') return new ApiError(404, 'unknown_proposal', err.message)
  return new ApiError(400, err.reason.replaceAll('-', '_'), err.message)
}

function checkPeerId(peerId: string, field: string): void {
  try {
    peerIdFromString(peerId)
  } catch {
    throw new ApiError(400, 'invalid_request', `${field}: not a peer id`)
  }
}

/** `/credits/*`: this node's balance and history, chains it holds, grants and transfers. */
export const creditRoutes =
  (node: LedgerNode): RouteModule =>
  (app) => {
    const { ledger } = node
    app.get(
      '/credits/balance',
      { schema: { summary: 'Balance from complete pairs and grants', response: { 200: CreditBalance } } },
      async () => balanceView(ledger),
    )
    app.get(
      '/credits/history',
      {
        schema: {
          summary:
            "This node's transfers, newest first (paged with `before`; one peer's with `counterparty`)",
          querystring: CreditHistoryQuery,
          response: { 200: CreditHistory },
        },
      },
      async (req) => historyView(ledger, req.query.limit, req.query.before, req.query.counterparty),
    )
    app.get(
      '/credits/chain/:peerId',
      {
        schema: {
          summary: 'What this node holds of a chain, and whether it validates',
          params: PeerParam,
          querystring: ChainViewQuery,
          response: { 200: ChainView, 400: ErrorBody },
        },
      },
      async (req) => {
        checkPeerId(req.params.peerId, 'params.peerId')
        return chainView(ledger, node.context, req.params.peerId, req.query.fromSeq, req.query.limit)
      },
    )
    app.get(
      '/credits/verify',
      { schema: { summary: 'Validates every chain held', response: { 200: LedgerVerifyReport } } },
      async () => verifyAll(ledger, node.context),
    )
    app.post(
      '/credits/grants',
      {
        schema: {
          summary: 'Apply a grant certificate (once per grant id; a replay answers the same block)',
          body: GrantCertificate,
          response: {
            200: z.object({ block: Block }),
            201: z.object({ block: Block }),
            400: ErrorBody,
            403: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        try {
          const { block, created } = await ledger.applyGrant(req.body)
          return reply.code(created ? 201 : 200).send({ block })
        } catch (err) {
          throw refused(err)
        }
      },
    )
    app.post(
      '/credits/transfers',
      {
        schema: {
          summary: 'Propose paying a peer (e.g. the portal, for a withdrawal); counts once it agrees',
          body: TransferRequest,
          response: { 201: z.object({ proposal: Block }), 400: ErrorBody, 409: ErrorBody },
        },
      },
      async (req, reply) => {
        checkPeerId(req.body.to, 'body.to')
        if (req.body.to === ledger.selfId)
          throw new ApiError(400, 'invalid_request', 'body.to: this node itself')
        try {
          const proposal = await ledger.propose({
            from: ledger.selfId,
            to: req.body.to,
            credits: req.body.credits,
            memo: req.body.memo,
            ref: null,
          })
          return reply.code(201).send({ proposal })
        } catch (err) {
          throw refused(err)
        }
      },
    )
    app.post(
      '/credits/agreements',
      {
        schema: {
          summary: "Ingest a counterparty's agreement to one of this node's proposals",
          body: Block,
          response: {
            200: z.object({ agreement: Block, balance: CreditBalance }),
            400: ErrorBody,
            403: ErrorBody,
            404: ErrorBody,
          },
        },
      },
      async (req) => {
        try {
          const agreement = await ledger.ingestAgreement(req.body)
          return { agreement, balance: balanceView(ledger) }
        } catch (err) {
          throw refused(err)
        }
      },
    )
    app.post(
      '/credits/sync',
      {
        schema: {
          summary: "Fetch a peer's chain (from it, or from `source`) and validate it",
          body: z
            .object({ peerId: z.string().min(1).max(128), source: z.string().min(1).max(128).optional() })
            .strict(),
          response: {
            200: z.object({ fetched: z.number().int(), stored: z.number().int(), valid: z.boolean() }),
            400: ErrorBody,
            502: ErrorBody,
          },
        },
      },
      async (req) => {
        checkPeerId(req.body.peerId, 'body.peerId')
        if (req.body.source) checkPeerId(req.body.source, 'body.source')
        try {
          const r = await node.sync(req.body.peerId, req.body.source)
          return { fetched: r.fetched, stored: r.stored, valid: r.report.valid }
        } catch (err) {
          throw new ApiError(502, 'peer_unreachable', `could not fetch the chain: ${(err as Error).message}`)
        }
      },
    )
  }
