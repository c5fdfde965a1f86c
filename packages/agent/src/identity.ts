import { randomBytes } from 'node:crypto'
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
    return { privateKey: key, peerId: peerIdFromPrivateKey(key), created: false }
  }
  const key = await generateKeyPair('Ed25519')
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  return { privateKey: key, peerId: peerIdFromPrivateKey(key), created: true }
}

/** The bearer token for the local API, created once (mode 0600). */
export function loadOrCreateApiToken(dataDir: string): { token: string; created: boolean } {
  const path = join(dataDir, 'api-token')
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), created: false }
  const token = randomBytes(32).toString('base64url')
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' })
  return { token, created: true }
}
