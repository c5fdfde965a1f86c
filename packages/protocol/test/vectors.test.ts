import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import {
  ADVERT_SIGNING_DOMAIN,
  type Block,
  blockHash,
  canonicalJson,
  GRANT_SIGNING_DOMAIN,
  type GrantCertificateBody,
  grantIssuerId,
  LEDGER_BLOCK_SIGNING_DOMAIN,
  signBlock,
  signGrant,
  signingBytes,
  TASK_OFFER_SIGNING_DOMAIN,
  verifyBlock,
  verifyGrant,
} from '../src/index.ts'

/**
 * The protocol's test vectors (docs/protocol-vectors.json, specified by docs/protocol.md §2),
 * checked against this package alone, and signatures checked with a second Ed25519
 * implementation (node:crypto) besides the libp2p keys the nodes sign with: a vector this code
 * reproduces but another implementation would not is caught here.
 */
const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../docs/protocol-vectors.json'), 'utf8'),
)

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const text = (hexBytes: string) => Buffer.from(hexBytes, 'hex').toString('utf8')

/** Ed25519 keys from a 32-byte seed through node:crypto: PKCS#8 and SPKI DER around the raw bytes. */
function nodeKeys(seedHex: string): { priv: KeyObject; pub: KeyObject } {
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  })
  return { priv, pub: createPublicKey(priv) }
}
const rawPublicKey = (pub: KeyObject) => pub.export({ format: 'der', type: 'spki' }).subarray(-32)

const submitter = nodeKeys(vectors.keys.submitter.seedHex)
const executor = nodeKeys(vectors.keys.executor.seedHex)

describe('canonical JSON as docs/protocol.md §2 specifies it', () => {
  it('reproduces every canonicalJson vector of the vectors file', () => {
    expect(vectors.canonicalJson.length).toBeGreaterThanOrEqual(4)
    for (const c of vectors.canonicalJson) expect(canonicalJson(c.input)).toBe(c.output)
  })

  // Each case is JSON text as another implementation would receive it, and the canonical text
  // the rules of §2 give for it, worked out from the document, not from this code.
  it.each([
    [
      'whitespace and key order',
      ' { "x" : [ 1 , { "z" : true , "y" : null } ] , "a" : "" } ',
      '{"a":"","x":[1,{"y":null,"z":true}]}',
    ],
    ['a key given twice keeps its last value', '{"a":1,"b":0,"a":2}', '{"a":2,"b":0}'],
    [
      'keys in UTF-16 code unit order: astral before U+FFFF, upper case before lower',
      '{"b":0,"\\uffff":0,"a":0,"\\ud83d\\ude00":0,"A":0,"\\u00e4":0,"":0}',
      '{"":0,"A":0,"a":0,"b":0,"ä":0,"😀":0,"\uffff":0}',
    ],
    [
      'numbers as ECMAScript writes doubles',
      '[1.0, -0, 100, 12345678901234567890, 0.000001, 0.0000001, 1e21, 999999999999999999999, 123e-2, -1.5E-9, 5e-324]',
      '[1,0,100,12345678901234567000,0.000001,1e-7,1e+21,1e+21,1.23,-1.5e-9,5e-324]',
    ],
    [
      'string escapes: the two-character ones, \\u00XX in lower case below U+0020, the rest as itself',
      '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001F\\u007f\\u2028\\u2029<>&é"',
      '"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\u007f\u2028\u2029<>&é"',
    ],
    ['empty containers and literals', '[{},[],true,false,null]', '[{},[],true,false,null]'],
  ])('%s', (_name, input, output) => {
    expect(canonicalJson(JSON.parse(input))).toBe(output)
  })

  it('leaves out members whose value is undefined', () => {
    expect(canonicalJson({ b: undefined, a: { c: undefined } })).toBe('{"a":{}}')
  })
})

describe('signed messages of the vectors file', () => {
  it('derive from their seeds the public keys the file gives', () => {
    expect(hex(rawPublicKey(submitter.pub))).toBe(vectors.keys.submitter.publicKeyHex)
    expect(hex(rawPublicKey(executor.pub))).toBe(vectors.keys.executor.publicKeyHex)
    expect(grantIssuerId(rawPublicKey(submitter.pub).toString('base64url'))).toBe(
      vectors.keys.submitter.peerId,
    )
  })

  it.each([
    ['advert', ADVERT_SIGNING_DOMAIN],
    ['taskOffer', TASK_OFFER_SIGNING_DOMAIN],
    ['embedOffer', TASK_OFFER_SIGNING_DOMAIN],
  ])('%s: the domain-tagged canonical bytes, signed by the submitter', (name, domain) => {
    const v = vectors[name] as {
      domain: string
      body: Record<string, unknown>
      signingBytesHex: string
      sig: string
    }
    expect(v.domain).toBe(domain)
    const bytes = signingBytes(domain, v.body)
    expect(hex(bytes)).toBe(v.signingBytesHex)
    // The bytes are the tag, a newline and the body's canonical JSON: nothing else, nothing lost.
    const [tag, json, ...rest] = text(v.signingBytesHex).split('\n')
    expect([tag, rest]).toEqual([`edgecoder:${domain}`, []])
    expect(JSON.parse(json!)).toEqual(v.body)
    const sig = Buffer.from(v.sig, 'base64url')
    // Ed25519 is deterministic: a second implementation gives the very same signature.
    expect(sign(null, bytes, submitter.priv).toString('base64url')).toBe(v.sig)
    expect(verify(null, bytes, submitter.pub, sig)).toBe(true)
    expect(verify(null, bytes, executor.pub, sig)).toBe(false)
    const flipped = Buffer.from(sig)
    flipped[17]! ^= 0x20
    expect(verify(null, bytes, submitter.pub, flipped)).toBe(false)
    // Under another domain the same body is another message: the signature does not carry over.
    expect(verify(null, signingBytes(`${domain}-other`, v.body), submitter.pub, sig)).toBe(false)
  })

  describe('ledger', () => {
    const v = vectors.ledger as {
      domain: string
      proposal: { block: Block; signingBytesHex: string; hash: string }
      agreement: { block: Block; hash: string }
    }

    it('signs the proposal over its canonical bytes in the ledger-block domain', async () => {
      expect(v.domain).toBe(LEDGER_BLOCK_SIGNING_DOMAIN)
      const { signature, ...unsigned } = v.proposal.block
      const bytes = signingBytes(LEDGER_BLOCK_SIGNING_DOMAIN, unsigned)
      expect(hex(bytes)).toBe(v.proposal.signingBytesHex)
      expect(sign(null, bytes, executor.priv).toString('base64url')).toBe(signature)
      const key = await generateKeyPairFromSeed('Ed25519', Buffer.from(vectors.keys.executor.seedHex, 'hex'))
      expect(await signBlock(unsigned, key)).toEqual(v.proposal.block)
      expect(await verifyBlock(v.proposal.block)).toBe(true)
    })

    it('hashes each block as sha256 of its canonical JSON, signature included, and links the agreement by it', async () => {
      for (const b of [v.proposal, v.agreement]) {
        expect(createHash('sha256').update(canonicalJson(b.block)).digest('hex')).toBe(b.hash)
        expect(blockHash(b.block)).toBe(b.hash)
      }
      const agreement = v.agreement.block
      expect(agreement.tx).toMatchObject({ type: 'agreement', proposalHash: v.proposal.hash })
      expect(await verifyBlock(agreement)).toBe(true)
      const { signature, ...unsigned } = agreement
      expect(
        sign(null, signingBytes(LEDGER_BLOCK_SIGNING_DOMAIN, unsigned), submitter.priv).toString('base64url'),
      ).toBe(signature)
    })

    it('refuses a block changed after signing, or claimed by another chain', async () => {
      const p = v.proposal.block
      expect(await verifyBlock({ ...p, ts: p.ts + 1 })).toBe(false)
      expect(await verifyBlock({ ...p, tx: { ...p.tx, credits: 2 } as Block['tx'] })).toBe(false)
      expect(await verifyBlock({ ...p, peerId: vectors.keys.submitter.peerId })).toBe(false)
    })
  })

  describe('grant certificates', () => {
    // Signed by a third key (seed bytes 0x03), as a portal's grant key would.
    const issuer = nodeKeys('03'.repeat(32))
    const issuerKeyB64 = rawPublicKey(issuer.pub).toString('base64url')
    const body: GrantCertificateBody = {
      type: 'edgecoder.grant/1',
      grantId: '00000000-0000-4000-8000-000000000001',
      peerId: vectors.keys.submitter.peerId,
      credits: 500,
      issuedAt: 1_767_225_600_000,
    }
    const expectedText =
      'edgecoder:grant\n{"credits":500,"grantId":"00000000-0000-4000-8000-000000000001","issuedAt":1767225600000,' +
      `"peerId":"${vectors.keys.submitter.peerId}","type":"edgecoder.grant/1"}`

    it('signs the certificate body in the grant domain, as a second implementation does', async () => {
      expect(GRANT_SIGNING_DOMAIN).toBe('grant')
      const bytes = signingBytes(GRANT_SIGNING_DOMAIN, body)
      expect(Buffer.from(bytes).toString('utf8')).toBe(expectedText)
      const key = await generateKeyPairFromSeed('Ed25519', Buffer.from('03'.repeat(32), 'hex'))
      const cert = await signGrant(body, key)
      expect(cert.signature).toBe(sign(null, Buffer.from(expectedText), issuer.priv).toString('base64url'))
      expect(await verifyGrant(cert, grantIssuerId(issuerKeyB64))).toBe(true)
    })

    it('refuses a certificate from another issuer or with a changed amount', async () => {
      const signature = sign(null, Buffer.from(expectedText), issuer.priv).toString('base64url')
      const cert = { ...body, signature }
      expect(await verifyGrant(cert, grantIssuerId(issuerKeyB64))).toBe(true)
      expect(await verifyGrant(cert, vectors.keys.submitter.peerId)).toBe(false)
      expect(await verifyGrant({ ...cert, credits: 5000 }, grantIssuerId(issuerKeyB64))).toBe(false)
    })
  })
})
