import { randomBytes } from 'node:crypto'
import { pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { noiseCrypto } from '../../src/mesh/noise-crypto.ts'

// Noise's pure-JavaScript primitives are the reference: a peer using them must interoperate.
const ref = pureJsCrypto
const hex = (b: Uint8Array | Uint8ArrayList) => Buffer.from(b.subarray()).toString('hex')

describe('noise crypto on node:crypto', () => {
  it('hashes and derives keys exactly as the reference does', () => {
    const data = randomBytes(300)
    expect(hex(noiseCrypto.hashSHA256(data))).toBe(hex(ref.hashSHA256(data)))
    const list = new Uint8ArrayList(data.subarray(0, 100), data.subarray(100))
    expect(hex(noiseCrypto.hashSHA256(list))).toBe(hex(ref.hashSHA256(data)))
    const ck = randomBytes(32)
    const ikm = randomBytes(32)
    expect(noiseCrypto.getHKDF(ck, ikm).map(hex)).toEqual(ref.getHKDF(ck, ikm).map(hex))
  })

  it('agrees with the reference on X25519 keys and shared secrets', () => {
    const seed = randomBytes(32)
    expect(hex(noiseCrypto.generateX25519KeyPairFromSeed(seed).publicKey)).toBe(
      hex(ref.generateX25519KeyPairFromSeed(seed).publicKey),
    )
    const ours = noiseCrypto.generateX25519KeyPair()
    const theirs = ref.generateX25519KeyPair()
    expect(ours.privateKey).toHaveLength(32)
    expect(hex(ref.generateX25519KeyPairFromSeed(ours.privateKey).publicKey)).toBe(hex(ours.publicKey))
    expect(hex(noiseCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey))).toBe(
      hex(ref.generateX25519SharedKey(theirs.privateKey, ours.publicKey)),
    )
  })

  it('seals and opens messages of every size the reference can open and seal', () => {
    const k = randomBytes(32)
    const nonce = randomBytes(12)
    const ad = randomBytes(32)
    for (const size of [0, 1, 100, 1199, 1200, 65_519]) {
      const plain = randomBytes(size)
      const sealed = noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k)
      expect(hex(sealed)).toBe(hex(ref.chaCha20Poly1305Encrypt(plain, nonce, ad, k)))
      expect(hex(ref.chaCha20Poly1305Decrypt(sealed.subarray(), nonce, ad, k))).toBe(hex(plain))
      const fromRef = ref.chaCha20Poly1305Encrypt(plain, nonce, ad, k)
      expect(hex(noiseCrypto.chaCha20Poly1305Decrypt(fromRef, nonce, ad, k))).toBe(hex(plain))
      // A message that arrives in pieces opens the same.
      const pieces = new Uint8ArrayList(fromRef.subarray(0, 7), fromRef.subarray(7))
      expect(hex(noiseCrypto.chaCha20Poly1305Decrypt(pieces, nonce, ad, k))).toBe(hex(plain))
    }
  })

  it('refuses a tampered message, a wrong key and one shorter than its tag', () => {
    const k = randomBytes(32)
    const nonce = randomBytes(12)
    const ad = randomBytes(8)
    const sealed = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(randomBytes(64), nonce, ad, k).subarray())
    const tampered = Buffer.from(sealed)
    tampered[3]! ^= 1
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, k)).toThrow()
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, randomBytes(32))).toThrow()
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed.subarray(0, 10), nonce, ad, k)).toThrow(/shorter/)
  })

  it('seals with the key as it is now when the same key array is changed in place', () => {
    // The key object is made once per key array; changed bytes must not be sealed with the old key.
    const k = randomBytes(32)
    const nonce = randomBytes(12)
    const ad = randomBytes(8)
    const plain = randomBytes(64)
    noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k)
    k[0]! ^= 0xff
    const sealed = noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k)
    expect(hex(sealed)).toBe(hex(ref.chaCha20Poly1305Encrypt(plain, nonce, ad, k)))
    expect(hex(noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k))).toBe(hex(plain))
  })
})
