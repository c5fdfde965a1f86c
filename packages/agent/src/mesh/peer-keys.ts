import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'

/** Peers whose keys are kept; the mesh's peer table holds far fewer. */
const CAPACITY = 1024

/** Checks a signature by one peer's key. */
export type PeerVerifier = (data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>

const verifiers = new Map<string, PeerVerifier>()

/**
 * How to check a peer's signatures, from its peer id (which embeds its public key). An Ed25519
 * key becomes node:crypto's key object once per peer: importing it anew for every advert, as the
 * libp2p key's `verify` does, costs about as much as the check itself, on every hop. Throws on an
 * id that does not parse; undefined for one without an embedded key.
 */
export function peerVerifier(peerId: string): PeerVerifier | undefined {
  const known = verifiers.get(peerId)
  if (known !== undefined) return known
  const publicKey = peerIdFromString(peerId).publicKey
  if (publicKey === undefined) return undefined
  let verifier: PeerVerifier
  if (publicKey.type === 'Ed25519') {
    const key: KeyObject = createPublicKey({
      format: 'jwk',
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.raw).toString('base64url') },
    })
    verifier = (data, signature) => signature.length === 64 && verify(null, data, key, signature)
  } else {
    verifier = (data, signature) => publicKey.verify(data, signature)
  }
  if (verifiers.size >= CAPACITY) verifiers.delete(verifiers.keys().next().value!)
  verifiers.set(peerId, verifier)
  return verifier
}
