import { randomBytes } from 'node:crypto'
import {
  type DeclineReason,
  SignedTaskOffer,
  signingBytes,
  TASK_OFFER_MAX_TTL_MS,
  TASK_OFFER_SIGNING_DOMAIN,
  type TaskOfferBody,
} from '@edgecoder/protocol'
import type { PrivateKey } from '@libp2p/interface'
import { peerVerifier } from '../mesh/index.ts'

/** A fresh offer nonce: 144 random bits. */
export function newNonce(): string {
  return randomBytes(18).toString('base64url')
}

/** Signs an offer body with the submitting node's key. */
export async function signOffer(body: TaskOfferBody, key: PrivateKey): Promise<SignedTaskOffer> {
  const sig = await key.sign(signingBytes(TASK_OFFER_SIGNING_DOMAIN, body))
  return { body, sig: Buffer.from(sig).toString('base64url') }
}

export type OfferCheck =
  | { ok: true; offer: TaskOfferBody }
  | { ok: false; reason: DeclineReason; message: string }

export interface OfferContext {
  /** This node: the only executor an offer here may name. */
  self: string
  /** The peer on the other end of the stream (authenticated by the connection). */
  sender: string
  now: number
  maxSkewMs: number
}

/**
 * Checks an offer from the wire: its shape, that it is addressed to this node, that the peer
 * sending it is the origin that signed it, the signature over the body exactly as sent, and its
 * validity window. Whether the nonce was seen before is the caller's to ask (see `OfferNonces`).
 */
export async function checkOffer(raw: unknown, ctx: OfferContext): Promise<OfferCheck> {
  const parsed = SignedTaskOffer.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: 'malformed', message: `offer: ${issue?.path.join('.')}: ${issue?.message}` }
  }
  const { body, sig } = parsed.data
  if (body.executor !== ctx.self)
    return { ok: false, reason: 'misaddressed', message: `the offer is for ${body.executor}, not this node` }
  if (body.origin !== ctx.sender)
    return {
      ok: false,
      reason: 'forged',
      message: `the offer names ${body.origin} as its origin but came from ${ctx.sender}`,
    }
  if (body.expiresAt <= body.issuedAt || body.expiresAt - body.issuedAt > TASK_OFFER_MAX_TTL_MS)
    return {
      ok: false,
      reason: 'malformed',
      message: `an offer is valid for 1 ms to ${TASK_OFFER_MAX_TTL_MS} ms after it is issued`,
    }
  if (!(await signedBy(body.origin, (raw as { body: unknown }).body, sig)))
    return { ok: false, reason: 'forged', message: 'the signature does not match the origin’s key' }
  if (body.issuedAt > ctx.now + ctx.maxSkewMs)
    return { ok: false, reason: 'expired', message: 'the offer is dated in the future (is a clock off?)' }
  if (body.expiresAt <= ctx.now)
    return { ok: false, reason: 'expired', message: `the offer expired ${ctx.now - body.expiresAt} ms ago` }
  return { ok: true, offer: body }
}

async function signedBy(peerId: string, rawBody: unknown, sig: string): Promise<boolean> {
  try {
    const verify = peerVerifier(peerId)
    if (verify === undefined) return false
    return await verify(signingBytes(TASK_OFFER_SIGNING_DOMAIN, rawBody), Buffer.from(sig, 'base64url'))
  } catch {
    return false
  }
}
