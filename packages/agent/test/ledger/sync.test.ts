import { type Block, blockHash, makeProposal, signBlock } from '@edgecoder/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchChain, serveBlocks, storeContext } from '../../src/ledger/index.ts'
import { cleanup, net, type TestLedger, testLedger } from './helpers.ts'

afterEach(cleanup)

/** `count` paid transfers from `payer` to `payee`, each agreed: both chains grow. */
async function trade(payer: TestLedger, payee: TestLedger, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const p = await payee.ledger.propose({
      from: payer.peerId,
      to: payee.peerId,
      credits: 2,
      memo: '',
      ref: null,
    })
    const a = await payer.ledger.agree(p, () => {})
    await payee.ledger.ingestAgreement(a)
  }
}

/** A source that serves what `from` holds, passed through `tamper`. */
function source(from: TestLedger, tamper: (blocks: Block[]) => Block[] = (b) => b) {
  return async (_peer: string, req: { type: string; peerId?: string; fromSeq?: number; limit?: number }) => {
    if (req.type !== 'blocks') throw new Error('blocks only')
    const page = serveBlocks(from.ledger, req.peerId!, req.fromSeq!, req.limit!)
    return { ...page, blocks: tamper(page.blocks) }
  }
}

describe('fetching a chain', () => {
  it('stores a valid chain with its counterparts, so its balance resolves', async () => {
    const n = net()
    const [a, b, c] = [await testLedger(n), await testLedger(n), await testLedger(n)]
    await trade(a, b, 3)
    const r = await fetchChain(c.ledger, storeContext(c.ledger, new Set()), source(b), b.peerId, b.peerId)
    expect(r.report).toMatchObject({ valid: true, validLength: 3, balance: 6, unresolved: 0 })
    expect(r.stored).toBe(3)
    // Fetching again brings nothing new.
    expect(
      (await fetchChain(c.ledger, storeContext(c.ledger, new Set()), source(b), b.peerId, b.peerId)).stored,
    ).toBe(0)
  })

  it('stores only the valid prefix of a chain with a forged block', async () => {
    const n = net()
    const [a, b, c] = [await testLedger(n), await testLedger(n), await testLedger(n)]
    await trade(a, b, 4)
    const forge = async (blocks: Block[]) => {
      const third = blocks.find((x) => x.seq === 3)
      if (!third) return blocks
      const fake = await signBlock({ ...third, signature: undefined, ts: third.ts + 1 } as never, a.key)
      return blocks.map((x) => (x.seq === 3 ? fake : x))
    }
    const forged = await forge(serveBlocks(b.ledger, b.peerId, 1, 10).blocks)
    const r = await fetchChain(
      c.ledger,
      storeContext(c.ledger, new Set()),
      source(b, () => forged),
      b.peerId,
      b.peerId,
    )
    expect(r.report.problems[0]).toMatchObject({ seq: 3, code: 'bad-signature' })
    expect(r.stored).toBe(2)
    expect(c.ledger.chains.get(b.peerId, 3)).toBeUndefined()
  })

  it('turns a different block at a seq it holds into a proof, and refuses the offender', async () => {
    const n = net()
    const [a, b, c] = [await testLedger(n), await testLedger(n), await testLedger(n)]
    await trade(a, b, 2)
    await fetchChain(c.ledger, storeContext(c.ledger, new Set()), source(b), b.peerId, b.peerId)
    const held = b.ledger.chains.get(b.peerId, 2)!
    const tx = { ...(held.tx as Extract<Block['tx'], { type: 'transfer' }>), nonce: 'another-nonce-0000000' }
    const prev = b.ledger.chains.get(b.peerId, 1)!
    const fork = await signBlock(
      makeProposal(b.peerId, { seq: 1, hash: blockHash(prev) }, tx, held.ts + 5),
      b.key,
    )
    const r = await fetchChain(
      c.ledger,
      storeContext(c.ledger, new Set()),
      source(b, (blocks) => blocks.map((x) => (x.seq === 2 ? fork : x))),
      b.peerId,
      b.peerId,
    )
    expect(r.stored).toBe(0)
    expect(c.ledger.isOffender(b.peerId)).toBe(true)
    expect(c.ledger.chains.offenders()[0]?.peerId).toBe(b.peerId)
    await expect(
      c.ledger.propose({ from: c.peerId, to: b.peerId, credits: 1, memo: '', ref: null }),
    ).rejects.toMatchObject({ reason: 'offender' })
  })

  it('completes a pair settled after the fetch when asked to read the held part again, and nothing else does', async () => {
    const n = net()
    const [a, b, c] = [await testLedger(n), await testLedger(n), await testLedger(n)]
    await trade(a, b, 2)
    // b claims a payment, trades once more, and c fetches b's chain while the claim is open.
    const p = await b.ledger.propose({ from: a.peerId, to: b.peerId, credits: 5, memo: '', ref: null })
    await trade(a, b, 1)
    const ctx = storeContext(c.ledger, new Set())
    const first = await fetchChain(c.ledger, ctx, source(b), b.peerId, b.peerId)
    expect(first.report).toMatchObject({ validLength: 4, balance: 6, pending: 1 })
    expect(c.ledger.chains.openProposals(b.peerId)).toEqual([3])
    // a agrees, b ingests it: b's head stays where it was.
    await b.ledger.ingestAgreement(await a.ledger.agree(p, () => {}))
    expect(b.ledger.chains.openProposals(b.peerId)).toEqual([])
    const plain = await fetchChain(c.ledger, ctx, source(b), b.peerId, b.peerId)
    expect(plain.report).toMatchObject({ balance: 6, pending: 1 })
    const again = await fetchChain(c.ledger, ctx, source(b), b.peerId, b.peerId, 3)
    expect(again.report).toMatchObject({ valid: true, validLength: 4, balance: 11, pending: 0 })
    expect(again.fetched).toBe(0)
    expect(c.ledger.chains.openProposals(b.peerId)).toEqual([])
  })

  it('keeps no forged agreement sent with a page read again', async () => {
    const n = net()
    const [a, b, c] = [await testLedger(n), await testLedger(n), await testLedger(n)]
    const p = await b.ledger.propose({ from: a.peerId, to: b.peerId, credits: 5, memo: '', ref: null })
    const ctx = storeContext(c.ledger, new Set())
    await fetchChain(c.ledger, ctx, source(b), b.peerId, b.peerId)
    const agreement = await a.ledger.agree(p, () => {})
    // Signed by c's key, not a's: the source sends it as the agreement.
    const forged = await signBlock({ ...agreement, signature: undefined } as never, c.key)
    const liar = async (
      _peer: string,
      req: { type: string; peerId?: string; fromSeq?: number; limit?: number },
    ) => {
      const page = serveBlocks(b.ledger, req.peerId!, req.fromSeq!, req.limit!)
      return { ...page, counterparts: [forged] }
    }
    const r = await fetchChain(c.ledger, ctx, liar, b.peerId, b.peerId, 1)
    expect(r.report).toMatchObject({ balance: 0, pending: 1 })
    expect(c.ledger.chains.openProposals(b.peerId)).toEqual([1])
  })
})
