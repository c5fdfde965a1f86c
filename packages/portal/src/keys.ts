import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalJson } from '@edgecoder/protocol'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

/**
 * The portal's Ed25519 identity: it signs activation and grant certificates, and its peer id is
 * the portal's identity in the credit ledger. Kept like a node's key (protobuf, mode 0600).
 */
export class PortalKey {
  readonly privateKey: Ed25519PrivateKey
  readonly peerId: string
  /** base64url of the raw 32-byte public key: what agents are given as --portal-key / --grant-key. */
  readonly publicKey: string

  constructor(privateKey: Ed25519PrivateKey) {
    this.privateKey = privateKey
    this.peerId = peerIdFromPrivateKey(privateKey).toString()
    this.publicKey = Buffer.from(privateKey.publicKey.raw).toString('base64url')
  }

  /** Signs the canonical JSON of `unsigned` and returns it with `signature` added. */
  async sign<T extends Record<string, unknown>>(unsigned: T): Promise<T & { signature: string }> {
    const sig = await this.privateKey.sign(new TextEncoder().encode(canonicalJson(unsigned)))
    return { ...unsigned, signature: Buffer.from(sig).toString('base64url') }
  }

  /** Loads `portal.key` from the data dir, or creates it on first start. */
  static async loadOrCreate(dataDir: string): Promise<PortalKey> {
    const path = join(dataDir, 'portal.key')
    if (existsSync(path)) {
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
      const key = privateKeyFromProtobuf(readFileSync(path))
      if (key.type !== 'Ed25519') throw new Error(`${path} holds a ${key.type} key; the portal needs Ed25519`)
      return new PortalKey(key)
    }
    const key = await generateKeyPair('Ed25519')
    writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    return new PortalKey(key)
  }
}
