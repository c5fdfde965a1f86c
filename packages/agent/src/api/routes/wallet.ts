import { ErrorBody } from '@edgecoder/protocol'
import { z } from 'zod'
import type { Enrolled } from '../../activation/index.ts'
import {
  type ClaimResult,
  PortalCallError,
  type PortalWallet,
  type WithdrawalResult,
} from '../../activation/index.ts'
import { LedgerRefusedError } from '../../ledger/index.ts'
import { ApiError } from '../errors.ts'
import type { RouteModule } from '../server.ts'

const PortalUrl = z.url({ protocol: /^https?$/, error: 'a portal URL is http(s)://host[:port]' }).max(2048)
const PortalBody = z.object({ portal: PortalUrl.optional() }).strict()

const ActivationView = z.object({
  portal: z.string().nullable(),
  activation: z
    .object({ accountId: z.string(), roles: z.array(z.string()), expiresAt: z.number() })
    .nullable(),
})

export interface WalletDeps {
  wallet: PortalWallet
  /** The portal this node is enrolled with, if any. */
  portal(): string | null
  certificate(): { accountId: string; roles: string[]; expiresAt: number } | null
  enroll(portal: string, code: string): Promise<Enrolled>
}

/** A portal's refusal or silence as this API answers it: 502 when it did not answer, else 409/400. */
function portalError(err: unknown): unknown {
  if (err instanceof PortalCallError)
    return new ApiError(err.status === null ? 502 : 409, 'portal_refused', err.message)
  if (err instanceof LedgerRefusedError)
    return new ApiError(409, err.reason.replaceAll('-', '_'), `nothing was paid: ${err.message}`)
  return err
}

/**
 * `/activation` and `/wallet/*`: enrollment and the node's side of the portal's wallet, so the UI
 * needs no portal session of its own (deposits and withdrawals are started on the portal, with a passkey).
 */
export const walletRoutes =
  (deps: WalletDeps): RouteModule =>
  (app) => {
    const portalOf = (given: string | undefined): string => {
      const portal = given ?? deps.portal()
      if (portal === null || portal === undefined)
        throw new ApiError(
          409,
          'no_portal',
          'this node knows no portal: enroll it in Settings (or start it with --portal-url)',
        )
      return portal
    }
    app.get(
      '/activation',
      {
        schema: {
          summary: "This node's portal and activation certificate",
          response: { 200: ActivationView },
        },
      },
      async () => ({ portal: deps.portal(), activation: deps.certificate() }),
    )
    app.post(
      '/activation/enroll',
      {
        schema: {
          summary: 'Enroll this node on a portal with a code made there; applied at once',
          body: z.object({ portal: PortalUrl, code: z.string().min(1).max(128) }).strict(),
          response: { 200: ActivationView, 409: ErrorBody, 502: ErrorBody },
        },
      },
      async (req) => {
        try {
          await deps.enroll(req.body.portal, req.body.code)
        } catch (err) {
          const why = (err as Error).message
          if (why.startsWith('portal answered')) throw new ApiError(409, 'portal_refused', why)
          throw new ApiError(502, 'portal_unreachable', `the portal at ${req.body.portal}: ${why}`)
        }
        return { portal: deps.portal(), activation: deps.certificate() }
      },
    )
    app.post(
      '/wallet/claim',
      {
        schema: {
          summary: 'Apply the grants the portal issued to this node (deposits paid there)',
          body: PortalBody,
          response: {
            200: z.object({
              grants: z.array(
                z.object({
                  grantId: z.string(),
                  credits: z.number(),
                  applied: z.boolean(),
                  reason: z.string().nullable(),
                }),
              ),
            }),
            409: ErrorBody,
            502: ErrorBody,
          },
        },
      },
      async (req): Promise<ClaimResult> => {
        try {
          return await deps.wallet.claim(portalOf(req.body.portal))
        } catch (err) {
          throw portalError(err)
        }
      },
    )
    app.post(
      '/wallet/withdrawals/:id',
      {
        schema: {
          summary:
            'Carry out a withdrawal started on the portal: propose, have it paid, ingest the agreement',
          params: z.object({ id: z.string().min(1).max(128) }),
          body: PortalBody,
          response: {
            200: z.object({
              id: z.string(),
              credits: z.number(),
              state: z.enum(['awaiting_proposal', 'paying', 'paid', 'failed']),
              failure: z.string().nullable(),
            }),
            409: ErrorBody,
            502: ErrorBody,
          },
        },
      },
      async (req): Promise<WithdrawalResult> => {
        try {
          return await deps.wallet.withdraw(portalOf(req.body.portal), req.params.id)
        } catch (err) {
          throw portalError(err)
        }
      },
    )
  }
