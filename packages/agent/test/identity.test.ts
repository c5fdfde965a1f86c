import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { afterAll, describe, expect, it } from 'vitest'
import { loadOrCreateIdentity, signingOnce } from '../src/identity.ts'

const dir = mkdtempSync(join(tmpdir(), 'edgecoder-identity-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the node key', () => {
  it('signs exactly as libp2p’s own Ed25519 key does, and its signatures verify', async () => {
    const key = await generateKeyPair('Ed25519')
    const original = privateKeyFromProtobuf(privateKeyToProtobuf(key))
    const fast = signingOnce(key)
    const message = new TextEncoder().encode('an advert to sign')
    const sig = await fast.sign(message)
    expect(Buffer.from(sig)).toEqual(Buffer.from(await original.sign(message)))
    expect(await fast.publicKey.verify(message, sig)).toBe(true)
    const aborted = AbortSignal.abort()
    expect(() => fast.sign(message, { signal: aborted })).toThrow()
  })

  it('is the same key after a restart, and signs the same way', async () => {
    const first = await loadOrCreateIdentity(dir)
    const again = await loadOrCreateIdentity(dir)
    expect(first.created).toBe(true)
    expect(again.created).toBe(false)
    expect(again.peerId.toString()).toBe(first.peerId.toString())
    const message = new TextEncoder().encode('a task offer')
    expect(Buffer.from(await again.privateKey.sign(message))).toEqual(
      Buffer.from(await first.privateKey.sign(message)),
    )
  })
})
