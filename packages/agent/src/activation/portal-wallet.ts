import { type Block, GrantCertificate } from '@edgecoder/protocol'
import { z } from 'zod'
import type { Ledger } from '../ledger/index.ts'

/** The portal did not answer, or answered an error; the message says which. */
export class PortalCallError extends Error {
  override name = 'PortalCallError'
  /** The portal's HTTP status, or null when it did not answer. */
  readonly status: number | null
  constructor(message: string, status: number | null) {
    super(message)
    this.status = status
  }
}

const Grants = z.union([z.array(GrantCertificate), z.object({ grants: z.array(GrantCertificate) })])

const Withdrawal = z.object({
  id: z.string(),
  peerId: z.string(),
  credits: z.number(),
  memo: z.string(),
  to: z.string(),
  state: z.enum(['awaiting_proposal', 'paying', 'paid', 'failed']),
  agreement: z.unknown().nullable(),
  failure: z.string().nullable(),
})

export interface ClaimResult {
  grants: { grantId: string; credits: number; applied: boolean; reason: string | null }[]
}

export interface WithdrawalResult {
  id: string
  credits: number
  state: 'awaiting_proposal' | 'paying' | 'paid' | 'failed'
  failure: string | null
}

async function portalCall(portal: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(new URL(path, portal.endsWith('/') ? portal : `${portal}/`), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    })
  } catch (err) {
    throw new PortalCallError(`the portal at ${portal} did not answer: ${(err as Error).message}`, null)
  }
  const json = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null
  if (!res.ok)
    throw new PortalCallError(
      `the portal answered ${res.status}${json?.error ? `: ${json.error.message}` : ''}`,
      res.status,
    )
  return json
}

/**
 * This node's side of the portal's wallet, as `edgecoder credits claim` and `edgecoder wallet
 * withdraw` do it, for the UI: grants paid on the portal are applied to the chain; a withdrawal
 * started on the portal is proposed, paid by the portal, and its agreement ingested.
 */
export class PortalWallet {
  readonly ledger: Ledger
  constructor(ledger: Ledger) {
    this.ledger = ledger
  }

  async claim(portal: string): Promise<ClaimResult> {
    const body = await portalCall(
      portal,
      'GET',
      `wallet/grants?peerId=${encodeURIComponent(this.ledger.selfId)}`,
    )
    const parsed = Grants.safeParse(body)
    if (!parsed.success)
      throw new PortalCallError('the portal answered something that is not a list of grants', 200)
    const grants = Array.isArray(parsed.data) ? parsed.data : parsed.data.grants
    const out: ClaimResult['grants'] = []
    for (const g of grants) {
      try {
        const { created } = await this.ledger.applyGrant(g)
        out.push({
          grantId: g.grantId,
          credits: g.credits,
          applied: created,
          reason: created ? null : 'already applied',
        })
      } catch (err) {
        out.push({ grantId: g.grantId, credits: g.credits, applied: false, reason: (err as Error).message })
      }
    }
    return { grants: out }
  }

  /** Carries out withdrawal `id`; a ledger refusal (not enough credits) propagates and nothing is paid. */
  async withdraw(portal: string, id: string): Promise<WithdrawalResult> {
    const path = `wallet/withdrawals/${encodeURIComponent(id)}`
    let w = Withdrawal.parse(await portalCall(portal, 'GET', path))
    if (w.peerId !== this.ledger.selfId)
      throw new PortalCallError(`withdrawal ${id} is for node ${w.peerId}, not this one`, 409)
    if (w.state === 'awaiting_proposal') {
      const proposal: Block = await this.ledger.propose({
        from: this.ledger.selfId,
        to: w.to,
        credits: w.credits,
        memo: w.memo,
        ref: null,
      })
      w = Withdrawal.parse(await portalCall(portal, 'POST', `${path}/proposal`, { proposal }))
    }
    if (w.state === 'paid' && w.agreement) await this.ledger.ingestAgreement(w.agreement)
    return { id: w.id, credits: w.credits, state: w.state, failure: w.failure }
  }
}
