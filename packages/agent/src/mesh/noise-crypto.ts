import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * The Noise handshake's primitives on OpenSSL, through node:crypto, for every message size.
 *
 * Noise's own default sends messages under 1200 bytes (most gossip) through two WebAssembly
 * modules it instantiates when it is imported; they cost an idle agent about 11 MB of resident
 * memory, compiled code and V8's wasm compiler included. The build leaves them out
 * (scripts/build-agent.ts), so this is what every connection uses.
 */
const TAG_BYTES = 16
// DER framing of a raw 32-byte X25519 key: PKCS#8 for a private key, SPKI for a public one.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex')

const bytes = (data: Uint8Array | Uint8ArrayList): Uint8Array =>
  data instanceof Uint8Array ? data : data.subarray()

const privateKeyOf = (raw: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' })

const publicKeyOf = (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' })

const rawPublic = (key: KeyObject): Uint8Array =>
  key.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length)

/**
 * The cipher key of a Noise session as an OpenSSL key object, made once per key. Handed raw bytes,
 * node:crypto checks and imports the key on every message, which took about three times as long
 * as sealing a 300-byte message itself. Noise keeps one key array per direction of a session;
 * the bytes are kept alongside, so a key changed in place is never used stale.
 */
const cipherKeys = new WeakMap<Uint8Array, { raw: Buffer; key: KeyObject }>()
function cipherKey(k: Uint8Array): KeyObject {
  const hit = cipherKeys.get(k)
  if (hit?.raw.equals(k)) return hit.key
  const raw = Buffer.from(k)
  const key = createSecretKey(raw)
  cipherKeys.set(k, { raw, key })
  return key
}

export const noiseCrypto: ICryptoInterface = {
  hashSHA256(data) {
    const hash = createHash('sha256')
    if (data instanceof Uint8Array) return hash.update(data).digest()
    for (const chunk of data) hash.update(chunk)
    return hash.digest()
  },

  // Noise's HKDF is RFC 5869's with the chaining key as salt, no info and three 32-byte outputs.
  getHKDF(ck, ikm) {
    const okm = new Uint8Array(hkdfSync('sha256', ikm, ck, new Uint8Array(0), 96))
    return [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96)]
  },

  generateX25519KeyPair() {
    const { privateKey, publicKey } = generateKeyPairSync('x25519')
    return {
      publicKey: rawPublic(publicKey),
      privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length),
    }
  },

  generateX25519KeyPairFromSeed(seed) {
    return { publicKey: rawPublic(createPublicKey(privateKeyOf(seed))), privateKey: seed }
  },

  generateX25519SharedKey(privateKey, publicKey) {
    return diffieHellman({
      privateKey: privateKeyOf(bytes(privateKey)),
      publicKey: publicKeyOf(bytes(publicKey)),
    })
  },

  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    const cipher = createCipheriv('chacha20-poly1305', cipherKey(k), nonce, { authTagLength: TAG_BYTES })
    const data = bytes(plaintext)
    cipher.setAAD(ad, { plaintextLength: data.byteLength })
    const head = cipher.update(data)
    return Buffer.concat([head, cipher.final(), cipher.getAuthTag()])
  },

  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k) {
    const data = bytes(ciphertext)
    const sealed = data.byteLength - TAG_BYTES
    if (sealed < 0) throw new Error('noise: a sealed message shorter than its tag')
    const decipher = createDecipheriv('chacha20-poly1305', cipherKey(k), nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(ad, { plaintextLength: sealed })
    decipher.setAuthTag(data.subarray(sealed))
    const head = decipher.update(data.subarray(0, sealed))
    const tail = decipher.final()
    return tail.byteLength > 0 ? Buffer.concat([head, tail]) : head
  },
}
