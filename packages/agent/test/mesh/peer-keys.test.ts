import { describe, expect, it } from 'vitest'
import { fastMessageId } from '../../src/mesh/host.ts'
import { peerVerifier } from '../../src/mesh/peer-keys.ts'
import { testNode } from './helpers.ts'

describe('peerVerifier', () => {
  it('checks an Ed25519 peer’s signatures as its libp2p key does, and keeps one verifier per peer', async () => {
    const n = await testNode()
    const data = new TextEncoder().encode('an advert body')
    const sig = await n.key.sign(data)
    const verify = peerVerifier(n.peerId)!
    expect(await verify(data, sig)).toBe(true)
    expect(await n.key.publicKey.verify(data, sig)).toBe(true)
    const tampered = new TextEncoder().encode('an advert bodY')
    expect(await verify(tampered, sig)).toBe(false)
    expect(await verify(data, sig.subarray(0, 63))).toBe(false)
    expect(peerVerifier(n.peerId)).toBe(verify)
    // Another peer's signature over the same bytes is not this peer's.
    const other = await testNode()
    expect(await verify(data, await other.key.sign(data))).toBe(false)
  })

  it('throws on a peer id that does not parse', () => {
    expect(() => peerVerifier('not-a-peer-id')).toThrow()
  })
})

describe('fastMessageId', () => {
  it('is the same for copies of one message and differs between messages or authors', () => {
    const from = new Uint8Array([1, 2, 3])
    const a = fastMessageId({ from, seqno: new Uint8Array([0, 1]) })
    expect(fastMessageId({ from: new Uint8Array([1, 2, 3]), seqno: new Uint8Array([0, 1]) })).toBe(a)
    expect(fastMessageId({ from, seqno: new Uint8Array([0, 2]) })).not.toBe(a)
    expect(fastMessageId({ from: new Uint8Array([1, 2, 4]), seqno: new Uint8Array([0, 1]) })).not.toBe(a)
    expect(fastMessageId({ seqno: new Uint8Array([0, 1]) })).toBe('unsigned')
  })
})
