import {
  ADVERT_MAX_BYTES,
  ADVERT_SIGNING_DOMAIN,
  type AdvertBody,
  type AdvertRejection,
  SignedAdvert,
  signingBytes,
} from '@edgecoder/protocol'
import type { PrivateKey } from '@libp2p/interface'
import type { AdvertTiming } from './advert-timing.ts'
import { type PeerVerifier, peerVerifier } from './peer-keys.ts'

/** An advert this node could not make: it would not fit the gossip size cap. */
export class AdvertTooLargeError extends Error {
  override name = 'AdvertTooLargeError'
}

/** A checked advert: schema-valid, signed by the peer it names, dated within the window. */
export interface CheckedAdvert {
  signed: SignedAdvert
  /** The exact bytes received, re-served to peers that ask for a snapshot. */
  bytes: Uint8Array
}

export type AdvertCheck = { ok: true; advert: CheckedAdvert } | { ok: false; reason: AdvertRejection }

export interface AdvertWindow {
  now: number
  /** Adverts older than this are stale. */
  maxAgeMs: number
  /** Adverts dated further ahead than this are refused. */
  maxSkewMs: number
}

/** Signs an advert body with the node's key and encodes it for the wire. */
export async function signAdvert(body: AdvertBody, key: PrivateKey): Promise<Uint8Array> {
  const sig = await key.sign(signingBytes(ADVERT_SIGNING_DOMAIN, body))
  const bytes = new TextEncoder().encode(
    JSON.stringify({ body, sig: Buffer.from(sig).toString('base64url') }),
  )
  if (bytes.length > ADVERT_MAX_BYTES) {
    throw new AdvertTooLargeError(`advert is ${bytes.length} bytes; the cap is ${ADVERT_MAX_BYTES}`)
  }
  return bytes
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Checks an advert from the wire: size, JSON, schema, that `sender` (when given: the peer that
 * signed the gossip message) is the peer the advert names, the signature against that peer's
 * public key, and the timestamp window. Sequence numbers are the peer table's business.
 */
export async function checkAdvert(
  bytes: Uint8Array,
  sender: string | null,
  window: AdvertWindow,
  timing?: AdvertTiming,
): Promise<AdvertCheck> {
  if (bytes.length > ADVERT_MAX_BYTES) return { ok: false, reason: 'oversize' }
  const t0 = performance.now()
  let raw: unknown
  try {
    raw = JSON.parse(decoder.decode(bytes))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  const t1 = performance.now()
  const parsed = SignedAdvert.safeParse(raw)
  const t2 = performance.now()
  timing?.record('parse', t1 - t0)
  timing?.record('schema', t2 - t1)
  if (!parsed.success) return { ok: false, reason: 'malformed' }
  const { body, sig } = parsed.data
  if (sender !== null && body.peerId !== sender) return { ok: false, reason: 'sender-mismatch' }
  let verifier: PeerVerifier | undefined
  try {
    verifier = peerVerifier(body.peerId)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (verifier === undefined) return { ok: false, reason: 'malformed' }
  // The signature covers the body exactly as the sender wrote it, unknown fields included.
  const rawBody = (raw as { body: unknown }).body
  const signature = Buffer.from(sig, 'base64url')
  let valid = false
  const t3 = performance.now()
  const signed = signingBytes(ADVERT_SIGNING_DOMAIN, rawBody)
  const t4 = performance.now()
  try {
    valid = await verifier(signed, signature)
  } catch {
    valid = false
  }
  timing?.record('canonical', t4 - t3)
  timing?.record('verify', performance.now() - t4)
  if (!valid) return { ok: false, reason: 'bad-signature' }
  if (body.timestamp > window.now + window.maxSkewMs) return { ok: false, reason: 'future' }
  if (body.timestamp < window.now - window.maxAgeMs) return { ok: false, reason: 'stale' }
  return { ok: true, advert: { signed: parsed.data, bytes } }
}
