import type { AdvertBody } from '@edgecoder/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type CheckedAdvert, checkAdvert, signAdvert } from '../../src/mesh/index.ts'

/** A node identity for tests: its key and peer id. */
export async function testNode(): Promise<{ key: PrivateKey; peerId: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, peerId: peerIdFromPrivateKey(key).toString() }
}

export function advertBody(peerId: string, patch: Partial<AdvertBody> = {}): AdvertBody {
  const now = Date.now()
  return {
    v: 1,
    peerId,
    region: 'eu-west',
    roles: ['coordinator', 'worker'],
    models: [],
    provider: null,
    slots: { total: 2, free: 2 },
    queueDepth: 0,
    load: 0.1,
    power: 'active',
    version: '0.1.0',
    addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`],
    intervalMs: 1000,
    seq: now,
    timestamp: now,
    ...patch,
  }
}

export const WINDOW = { maxAgeMs: 60_000, maxSkewMs: 30_000 }

/** Signs and checks an advert, as a receiver would: fails the test if it doesn't pass. */
export async function checked(key: PrivateKey, body: AdvertBody): Promise<CheckedAdvert> {
  const bytes = await signAdvert(body, key)
  const r = await checkAdvert(bytes, body.peerId, { now: Date.now(), ...WINDOW })
  if (!r.ok) throw new Error(`advert refused: ${r.reason}`)
  return r.advert
}
