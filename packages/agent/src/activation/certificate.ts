import { ActivationCertificate, canonicalJson } from '@edgecoder/protocol'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'

export type CertificateVerdict =
  | { ok: true; certificate: ActivationCertificate }
  | { ok: false; reason: 'malformed' | 'bad-signature' | 'wrong-peer' | 'expired' | 'revoked' }

/**
 * Checks a peer's activation certificate against the portal's public key (base64url of its raw
 * 32 bytes): the shape, the signature over the other fields, the peer it names, and its expiry.
 */
export async function verifyActivation(
  cert: unknown,
  expect: { portalKey: string; peerId: string; now?: number; revoked?: ReadonlySet<string> },
): Promise<CertificateVerdict> {
  const parsed = ActivationCertificate.safeParse(cert)
  if (!parsed.success) return { ok: false, reason: 'malformed' }
  const { signature, ...unsigned } = parsed.data
  let ok = false
  try {
    const key = publicKeyFromRaw(Buffer.from(expect.portalKey, 'base64url'))
    ok = await key.verify(
      new TextEncoder().encode(canonicalJson(unsigned)),
      Buffer.from(signature, 'base64url'),
    )
  } catch {
    ok = false
  }
  if (!ok) return { ok: false, reason: 'bad-signature' }
  if (parsed.data.peerId !== expect.peerId) return { ok: false, reason: 'wrong-peer' }
  if (parsed.data.expiresAt <= (expect.now ?? Date.now())) return { ok: false, reason: 'expired' }
  if (expect.revoked?.has(parsed.data.peerId)) return { ok: false, reason: 'revoked' }
  return { ok: true, certificate: parsed.data }
}
