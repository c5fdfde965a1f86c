import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  agreementMismatch,
  type Block,
  blockHash,
  canonicalJson,
  ExecutorFrame,
  signingBytes,
  verifyBlock,
} from '@edgecoder/protocol'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { checkAdvert } from '../src/mesh/index.ts'
import { checkOffer } from '../src/routing/index.ts'

/**
 * The test vectors committed in docs/protocol-vectors.json, which docs/protocol.md specifies:
 * this implementation must reproduce them byte for byte, or the document and the code disagree.
 */
const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../docs/protocol-vectors.json'), 'utf8'),
)
type Signed = {
  domain: string
  body: { timestamp?: number; issuedAt?: number }
  signingBytesHex: string
  sig: string
}
const key = (who: 'submitter' | 'executor') =>
  generateKeyPairFromSeed('Ed25519', Buffer.from(vectors.keys[who].seedHex, 'hex'))

describe('protocol test vectors', () => {
  it('derive each peer id and public key from its seed', async () => {
    for (const who of ['submitter', 'executor'] as const) {
      const k = await key(who)
      expect(Buffer.from(k.publicKey.raw).toString('hex')).toBe(vectors.keys[who].publicKeyHex)
      expect(peerIdFromPrivateKey(k).toString()).toBe(vectors.keys[who].peerId)
    }
  })

  it('encode canonical JSON exactly', () => {
    for (const c of vectors.canonicalJson) expect(canonicalJson(c.input)).toBe(c.output)
  })

  it.each(['advert', 'taskOffer', 'embedOffer'])(
    'give the %s its signing bytes and its deterministic signature',
    async (name) => {
      const v = vectors[name] as Signed
      const bytes = signingBytes(v.domain, v.body)
      expect(Buffer.from(bytes).toString('hex')).toBe(v.signingBytesHex)
      const k = await key('submitter')
      expect(Buffer.from(await k.sign(bytes)).toString('base64url')).toBe(v.sig)
      expect(await k.publicKey.verify(bytes, Buffer.from(v.sig, 'base64url'))).toBe(true)
    },
  )

  it('make an advert this node accepts, and refuses once one byte of the signature changes', async () => {
    const v = vectors.advert as Signed
    const window = { now: v.body.timestamp!, maxAgeMs: 60_000, maxSkewMs: 30_000 }
    const wire = (sig: string) => new TextEncoder().encode(JSON.stringify({ body: v.body, sig }))
    const ok = await checkAdvert(wire(v.sig), vectors.keys.submitter.peerId, window)
    expect(ok.ok).toBe(true)
    const sig = Buffer.from(v.sig, 'base64url')
    sig[0]! ^= 1
    expect(await checkAdvert(wire(sig.toString('base64url')), null, window)).toEqual({
      ok: false,
      reason: 'bad-signature',
    })
  })

  it.each(['taskOffer', 'embedOffer'])(
    'make a %s the executor accepts, and only from the submitter',
    async (name) => {
      const v = vectors[name] as Signed
      const ctx = {
        self: vectors.keys.executor.peerId,
        sender: vectors.keys.submitter.peerId,
        now: v.body.issuedAt!,
        maxSkewMs: 30_000,
      }
      expect((await checkOffer({ body: v.body, sig: v.sig }, ctx)).ok).toBe(true)
      const forged = await checkOffer(
        { body: v.body, sig: v.sig },
        { ...ctx, sender: vectors.keys.executor.peerId },
      )
      expect(forged).toMatchObject({ ok: false, reason: 'forged' })
    },
  )

  it('carry an embed result frame the submitter reads: one vector per input, in order', () => {
    const frame = ExecutorFrame.parse(vectors.embedResultFrame)
    expect(frame.type === 'result' && frame.result?.embeddings).toEqual([
      [0.25, -0.5, 0.125],
      [-1, 0.0625, 2],
    ])
  })
})

describe('ledger test vectors', () => {
  const v = vectors.ledger as {
    domain: string
    proposal: { block: Block; signingBytesHex: string; hash: string }
    agreement: { block: Block; hash: string }
  }

  it('sign the proposal over its canonical bytes in the ledger-block domain, and hash it with its signature', async () => {
    const { signature, ...unsigned } = v.proposal.block
    const bytes = signingBytes(v.domain, unsigned)
    expect(Buffer.from(bytes).toString('hex')).toBe(v.proposal.signingBytesHex)
    expect(Buffer.from(await (await key('executor')).sign(bytes)).toString('base64url')).toBe(signature)
    expect(blockHash(v.proposal.block)).toBe(v.proposal.hash)
    expect(await verifyBlock(v.proposal.block)).toBe(true)
  })

  it('link the agreement to the proposal by seq and hash, signed by the payer', async () => {
    expect(blockHash(v.agreement.block)).toBe(v.agreement.hash)
    expect(await verifyBlock(v.agreement.block)).toBe(true)
    expect(agreementMismatch(v.proposal.block, v.agreement.block)).toBeNull()
    const tampered = { ...v.agreement.block, linkSeq: 2 }
    expect(agreementMismatch(v.proposal.block, tampered)).not.toBeNull()
    expect(await verifyBlock(tampered)).toBe(false)
  })
})
