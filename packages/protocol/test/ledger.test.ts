import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import {
  agreementMismatch,
  type Block,
  blockHash,
  checkEquivocation,
  GENESIS_HASH,
  grantIssuerId,
  makeAgreement,
  makeGrantBlock,
  makeProposal,
  PROPOSAL_TTL_MS,
  priceOf,
  signBlock,
  signGrant,
  validateChain,
  verifyBlock,
  verifyGrant,
} from '../src/index.ts'
import { head, pair, party, transfer, view } from './ledger-helpers.ts'

describe('ledger block vectors', () => {
  it('signs and hashes a fixed block to fixed bytes', async () => {
    const a = await party(1)
    const b = await party(2)
    expect(a.peerId).toMatchInlineSnapshot(`"12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"`)
    const unsigned = makeProposal(
      a.peerId,
      null,
      {
        type: 'transfer',
        from: b.peerId,
        to: a.peerId,
        credits: 7,
        memo: 'vector',
        nonce: 'AAAAAAAAAAAAAAAA',
        ref: null,
      },
      1_700_000_000_000,
    )
    const block = await signBlock(unsigned, a.key)
    expect(block.prevHash).toBe(GENESIS_HASH)
    expect(block.signature).toMatchInlineSnapshot(
      `"HqROy5n5j_yZr-xz8WewwRzzWBVaS8Ykfk-VBDie2Q3tYXoSvQ9-ENJfTuSqT3rOwsbNMlzQqm_fcO_KGtGGBw"`,
    )
    expect(blockHash(block)).toMatchInlineSnapshot(
      `"3e0cf22940d6174c9ce3099e39db427c1b69395ea6c6c1dde194d3ab3d549dc5"`,
    )
    expect(await verifyBlock(block)).toBe(true)
  })
})

describe('block signatures', () => {
  it('refuses a block changed after signing', async () => {
    const [a, b] = [await party(3), await party(4)]
    const { proposal } = await pair(a, b, transfer(b, a, 5))
    expect(await verifyBlock({ ...proposal, tx: { ...proposal.tx, credits: 500 } as Block['tx'] })).toBe(
      false,
    )
  })

  it('refuses a block signed by a key other than the chain owner', async () => {
    const [a, b] = [await party(5), await party(6)]
    const forged = await signBlock(makeProposal(a.peerId, null, transfer(b, a, 5), 1), b.key)
    expect(await verifyBlock(forged)).toBe(false)
    const r = await validateChain([forged], view([a, b]))
    expect(r.problems.map((p) => p.code)).toEqual(['bad-signature'])
  })
})

describe('validateChain', () => {
  it('counts complete pairs on both sides and conserves credits', async () => {
    const [a, b] = [await party(7), await party(8)]
    await pair(a, b, transfer(b, a, 30))
    await pair(b, a, transfer(b, a, 12))
    const ctx = view([a, b])
    const ra = await validateChain(a.chain, ctx)
    const rb = await validateChain(b.chain, ctx)
    expect(ra).toMatchObject({ valid: true, validLength: 2, balance: 42, unresolved: 0 })
    expect(rb).toMatchObject({ valid: true, validLength: 2, balance: -42 })
  })

  it('counts nothing for a proposal without its agreement', async () => {
    const [a, b] = [await party(9), await party(10)]
    await pair(a, b, transfer(b, a, 30))
    b.chain.pop()
    expect(await validateChain(a.chain, view([a, b]))).toMatchObject({ valid: true, balance: 0 })
  })

  it('leaves an agreement to a proposal it cannot find unresolved and uncounted', async () => {
    const [a, b] = [await party(11), await party(12)]
    await pair(a, b, transfer(a, b, 30))
    const r = await validateChain(b.chain, view([b]))
    expect(r).toMatchObject({ valid: true, balance: 0, unresolved: 1 })
  })

  it('refuses an agreement whose transfer is inflated beyond the proposal', async () => {
    const [a, b] = [await party(13), await party(14)]
    const { proposal, agreement } = await pair(a, b, transfer(a, b, 3))
    if (agreement.tx.type !== 'agreement') throw new Error('expected an agreement')
    const inflated = await signBlock(
      {
        ...agreement,
        signature: undefined,
        tx: { ...agreement.tx, transfer: { ...agreement.tx.transfer, credits: 300 } },
      } as never,
      b.key,
    )
    expect(agreementMismatch(proposal, inflated)).toBe('transfer differs from the proposal')
    const r = await validateChain([inflated], view([a]))
    expect(r.problems.map((p) => p.code)).toEqual(['agreement-mismatch'])
  })

  it('refuses an agreement signed after the proposal expired', async () => {
    const [a, b] = [await party(15), await party(16)]
    const tx = transfer(a, b, 3)
    const proposal = await signBlock(makeProposal(a.peerId, null, tx, 1_000), a.key)
    const late = await signBlock(makeAgreement(b.peerId, null, proposal, 1_000 + PROPOSAL_TTL_MS + 1), b.key)
    expect(agreementMismatch(proposal, late)).toBe('agreement signed after the proposal expired')
  })

  it('refuses a replayed transfer: the same nonce twice in one chain', async () => {
    const [a, b] = [await party(17), await party(18)]
    const tx = transfer(b, a, 4)
    await pair(a, b, tx)
    await pair(a, b, tx)
    const r = await validateChain(a.chain, view([a, b]))
    expect(r.problems).toMatchObject([{ seq: 2, code: 'replayed' }])
    expect(r.validLength).toBe(1)
    expect(r.balance).toBe(4)
  })

  it('refuses a seq gap and a broken hash link', async () => {
    const [a, b] = [await party(19), await party(20)]
    await pair(a, b, transfer(b, a, 1))
    await pair(a, b, transfer(b, a, 1))
    await pair(a, b, transfer(b, a, 1))
    expect((await validateChain([a.chain[0], a.chain[2]], view([a, b]))).problems[0]?.code).toBe('seq-gap')
    const relinked = await signBlock(
      { ...a.chain[1]!, signature: undefined, prevHash: 'f'.repeat(64) } as never,
      a.key,
    )
    expect((await validateChain([a.chain[0], relinked], view([a, b]))).problems[0]?.code).toBe('bad-link')
  })

  it('refuses a debit that takes the payer below its credit line', async () => {
    const [a, b] = [await party(21), await party(22)]
    await pair(a, b, transfer(b, a, 60))
    await pair(a, b, transfer(b, a, 60))
    const r = await validateChain(b.chain, view([a, b], { creditLine: 100 }))
    expect(r.problems).toMatchObject([{ seq: 2, code: 'credit-line' }])
    expect((await validateChain(b.chain, view([a, b], { creditLine: 120 }))).valid).toBe(true)
  })

  it('refuses a malformed block with a clear problem', async () => {
    const r = await validateChain([{ v: 1, peerId: 'x' }], view([]))
    expect(r.problems[0]?.code).toBe('malformed')
  })
})

describe('grants', () => {
  it('honours a certificate from a trusted issuer, once', async () => {
    const issuerKey = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(99))
    const issuer = grantIssuerId(Buffer.from(issuerKey.publicKey.raw).toString('base64url'))
    const a = await party(23)
    const cert = await signGrant(
      {
        type: 'edgecoder.grant/1',
        grantId: '4b1f3c2e-1d2a-4c3b-8e9f-0a1b2c3d4e5f',
        peerId: a.peerId,
        credits: 50,
        issuedAt: 1,
      },
      issuerKey,
    )
    expect(await verifyGrant(cert, issuer)).toBe(true)
    a.chain.push(await signBlock(makeGrantBlock(a.peerId, head(a), cert, issuer, 2), a.key))
    expect(await validateChain(a.chain, view([a], { issuers: [issuer] }))).toMatchObject({
      valid: true,
      balance: 50,
    })
    expect((await validateChain(a.chain, view([a]))).problems[0]?.code).toBe('grant-untrusted')
    a.chain.push(await signBlock(makeGrantBlock(a.peerId, head(a), cert, issuer, 3), a.key))
    expect((await validateChain(a.chain, view([a], { issuers: [issuer] }))).problems[0]?.code).toBe(
      'replayed',
    )
  })

  it('refuses a certificate minted by the node itself', async () => {
    const a = await party(24)
    const cert = await signGrant(
      {
        type: 'edgecoder.grant/1',
        grantId: '4b1f3c2e-1d2a-4c3b-8e9f-0a1b2c3d4e50',
        peerId: a.peerId,
        credits: 50,
        issuedAt: 1,
      },
      a.key,
    )
    const issuer = (await party(98)).peerId
    a.chain.push(await signBlock(makeGrantBlock(a.peerId, head(a), cert, issuer, 2), a.key))
    expect((await validateChain(a.chain, view([a], { issuers: [issuer] }))).problems[0]?.code).toBe(
      'grant-bad-signature',
    )
  })
})

describe('equivocation', () => {
  it('proves a fork: two signed blocks at one seq', async () => {
    const [a, b, c] = [await party(25), await party(26), await party(27)]
    const one = await signBlock(makeProposal(a.peerId, null, transfer(b, a, 1), 1), a.key)
    const two = await signBlock(makeProposal(a.peerId, null, transfer(c, a, 1), 1), a.key)
    expect(await checkEquivocation({ a: one, b: two })).toBe(a.peerId)
    expect(await checkEquivocation({ a: one, b: one })).toBeNull()
    const forged = await signBlock(makeProposal(a.peerId, null, transfer(c, a, 1), 1), c.key)
    expect(await checkEquivocation({ a: one, b: forged })).toBeNull()
  })
})

describe('priceOf', () => {
  it('charges tokens and sandbox time, rounded up, capped by the quote', () => {
    const q = { perKTokens: 10, perCpuSecond: 2, max: 50 }
    expect(priceOf(q, { tokens: 0, cpuMs: 0 })).toBe(0)
    expect(priceOf(q, { tokens: 150, cpuMs: 0 })).toBe(2)
    expect(priceOf(q, { tokens: 1000, cpuMs: 1500 })).toBe(13)
    expect(priceOf(q, { tokens: 100_000, cpuMs: 0 })).toBe(50)
  })
})

describe('validateChain with a verified prefix', () => {
  it('skips signatures already checked but still checks the blocks after', async () => {
    const [a, b] = [await party(40), await party(41)]
    await pair(a, b, transfer(b, a, 1))
    await pair(a, b, transfer(b, a, 1))
    const tampered = { ...a.chain[1]!, signature: a.chain[0]!.signature }
    const chain = [a.chain[0], tampered]
    expect((await validateChain(chain, view([a, b]))).problems[0]?.code).toBe('bad-signature')
    expect((await validateChain(chain, view([a, b]), { verifiedThrough: 1 })).problems[0]?.code).toBe(
      'bad-signature',
    )
    expect((await validateChain(a.chain, view([a, b]), { verifiedThrough: 2 })).valid).toBe(true)
  })
})
