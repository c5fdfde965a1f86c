import { createPrivateKey, randomBytes, sign } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

/** The node's Ed25519 key: its libp2p peer id and the key that signs its adverts, offers and receipts. */
export interface NodeIdentity {
  privateKey: Ed25519PrivateKey
  peerId: PeerId
  /** True when this start created the key. */
  created: boolean
}

const KEY_FILE = 'identity.key'

/** Loads the key from the data dir, or creates it (mode 0600) on first start. */
export async function loadOrCreateIdentity(dataDir: string): Promise<NodeIdentity> {
  const path = join(dataDir, KEY_FILE)
  if (existsSync(path)) {
    // Tighten permissions a copy or an unpack may have loosened.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
    const key = privateKeyFromProtobuf(readFileSync(path))
    if (key.type !== 'Ed25519') throw new Error(`${path} holds a ${key.type} key; EdgeCoder needs Ed25519`)
    return { privateKey: signingOnce(key), peerId: peerIdFromPrivateKey(key), created: false }
  }
  const key = await generateKeyPair('Ed25519')
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  return { privateKey: signingOnce(key), peerId: peerIdFromPrivateKey(key), created: true }
}

/**
 * The node's key, signing with node:crypto's key object imported once. libp2p's Ed25519 key
 * imports itself anew for every signature, which costs about five times the signature itself, and
 * this key signs on every hot path: each advert and gossip message, each task offer and receipt,
 * each ledger block. The signatures are the same (Ed25519 is deterministic).
 */
export function signingOnce(key: Ed25519PrivateKey): Ed25519PrivateKey {
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')
  const object = createPrivateKey({
    format: 'jwk',
    key: { kty: 'OKP', crv: 'Ed25519', d: b64(key.raw.subarray(0, 32)), x: b64(key.publicKey.raw) },
  })
  key.sign = (message, options) => {
    options?.signal?.throwIfAborted()
    return sign(null, message instanceof Uint8Array ? message : message.subarray(), object)
  }
  return key
}

/** The bearer token for the local API, created once (mode 0600). */
export function loadOrCreateApiToken(dataDir: string): { token: string; created: boolean } {
  const path = join(dataDir, 'api-token')
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), created: false }
  const token = randomBytes(32).toString('base64url')
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' })
  return { token, created: true }
}
