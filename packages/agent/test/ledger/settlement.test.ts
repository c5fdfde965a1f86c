import { type Block, canonicalJson, makeProposal, signBlock, signGrant } from '@edgecoder/protocol'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { LedgerRefusedError } from '../../src/ledger/index.ts'
import { cleanup, net, offer, type TestLedger, testLedger } from './helpers.ts'

afterEach(cleanup)

/** The executor quotes, the submitter accepts and observes `seen`; the executor bills `billed`. */
async function work(
  sub: TestLedger,
  exe: TestLedger,
  seen: { tokens: number; wallMs: number },
  billed: { tokens: number; cpuMs: number },
) {
  const o = offer(sub, exe)
  const q = await exe.settlement.quote(o)
  if (!q.ok) throw new Error(q.message)
  const ref = { executor: exe.peerId, taskId: o.taskId, attempt: 1, kind: 'chat' }
  expect(sub.settlement.quoted(ref, q.quote)).toBeNull()
  sub.settlement.observed(ref, seen.tokens, seen.wallMs)
  await exe.settlement.executed(o, q.quote, billed)
  await exe.settlement.retryPending()
  return { o, quote: q.quote, proposal: exe.ledger.pending()[0] ?? null }
}

describe('settlement of work between two ledgers', () => {
  it('moves the price of what was observed from submitter to executor, once', async () => {
    const n = net()
    const [sub, exe] = [await testLedger(n), await testLedger(n)]
    await work(sub, exe, { tokens: 50, wallMs: 1000 }, { tokens: 50, cpuMs: 0 })
    expect(exe.ledger.totals).toEqual({ balance: 5, earned: 5, spent: 0 })
    expect(sub.ledger.totals).toEqual({ balance: -5, earned: 0, spent: 5 })
    expect(exe.ledger.pending()).toEqual([])
  })

  it('moves nothing for work that cost nothing', async () => {
    const n = net()
    const [sub, exe] = [await testLedger(n), await testLedger(n)]
    await work(sub, exe, { tokens: 0, wallMs: 10 }, { tokens: 0, cpuMs: 0 })
    expect(exe.ledger.head()).toBeNull()
    expect(sub.ledger.head()).toBeNull()
  })

  it('claims nothing from a submitter with no credit line and an empty chain', async () => {
    const n = net()
    const [sub, exe] = [await testLedger(n, { creditLine: 0 }), await testLedger(n, { creditLine: 0 })]
    await work(sub, exe, { tokens: 50, wallMs: 1000 }, { tokens: 50, cpuMs: 0 })
    expect(exe.ledger.head()).toBeNull()
  })

  it('refuses a claim for more tokens than the submitter received', async () => {
    const n = net()
    const [sub, exe] = [await testLedger(n), await testLedger(n)]
    const { proposal } = await work(sub, exe, { tokens: 10, wallMs: 1000 }, { tokens: 100, cpuMs: 0 })
    expect(proposal).not.toBeNull()
    await expect(sub.settlement.agreeToClaim(proposal, exe.peerId)).rejects.toMatchObject({
      reason: 'over-observed',
    })
    expect(sub.ledger.totals.balance).toBe(0)
    expect(exe.ledger.totals.balance).toBe(0)
  })

  it('refuses sandbox time beyond the wall time the submitter waited', async () => {
    const n = net()
    const [sub, exe] = [await testLedger(n), await testLedger(n)]
    const { proposal } = await work(sub, exe, { tokens: 0, wallMs: 500 }, { tokens: 0, cpuMs: 5000 })
    await expect(sub.settlement.agreeToClaim(proposal, exe.peerId)).rejects.toMatchObject({
      reason: 'over-observed',
    })
  })

  it('refuses a quote above its own limit', async () => {
    const n = net()
    const sub = await testLedger(n, { maxPerTask: 5 })
    const exe = await testLedger(n)
    const o = offer(sub, exe, 4000)
    const q = await exe.settlement.quote(o)
    if (!q.ok) throw new Error('quote failed')
    expect(
      sub.settlement.quoted({ executor: exe.peerId, taskId: o.taskId, attempt: 1, kind: 'chat' }, q.quote),
    ).toMatch(/above this node's limit/)
  })

  it('refuses credits beyond what the quote gives for the claimed usage', async () => {
    const n = net()
    const [sub, exe] = [await testLedger(n), await testLedger(n)]
    const o = offer(sub, exe)
    const q = await exe.settlement.quote(o)
    if (!q.ok) throw new Error('quote failed')
    const ref = { executor: exe.peerId, taskId: o.taskId, attempt: 1, kind: 'chat' }
    sub.settlement.quoted(ref, q.quote)
    sub.settlement.observed(ref, 50, 1000)
    const inflated = await exe.ledger.propose({
      from: sub.peerId,
      to: exe.peerId,
      credits: 500,
      memo: '',
      ref: { kind: 'chat', id: o.taskId, attempt: 1, usage: { tokens: 50, cpuMs: 0 }, quote: q.quote },
    })
    await expect(sub.settlement.agreeToClaim(inflated, exe.peerId)).rejects.toMatchObject({
      reason: 'over-quote',
    })
  })

  it('refuses a claim for work it never accepted, and one signed by someone else', async () => {
    const n = net()
    const [sub, exe, thief] = [await testLedger(n), await testLedger(n), await testLedger(n)]
    const claim = await exe.ledger.propose({
      from: sub.peerId,
      to: exe.peerId,
      credits: 3,
      memo: '',
      ref: {
        kind: 'task',
        id: 'never',
        attempt: 1,
        usage: { tokens: 1, cpuMs: 0 },
        quote: { perKTokens: 1, perCpuSecond: 1, max: 3 },
      },
    })
    await expect(sub.settlement.agreeToClaim(claim, exe.peerId)).rejects.toMatchObject({
      reason: 'unknown-work',
    })
    await expect(sub.settlement.agreeToClaim(claim, thief.peerId)).rejects.toMatchObject({ reason: 'forged' })
    const forged = await signBlock(
      makeProposal(
        exe.peerId,
        null,
        { ...(claim.tx as Extract<Block['tx'], { type: 'transfer' }>), nonce: 'zzzzzzzzzzzzzzzzzz' },
        Date.now(),
      ),
      thief.key,
    )
    await expect(sub.ledger.agree(forged, () => {})).rejects.toMatchObject({ reason: 'forged' })
  })

  it('answers a replayed claim with the agreement it signed, and refuses a second claim for the same work', async () => {
    const n = net()
    const [sub, exe] = [await testLedger(n), await testLedger(n)]
    const o = offer(sub, exe)
    const q = await exe.settlement.quote(o)
    if (!q.ok) throw new Error('quote failed')
    const ref = { executor: exe.peerId, taskId: o.taskId, attempt: 1, kind: 'chat' }
    sub.settlement.quoted(ref, q.quote)
    sub.settlement.observed(ref, 50, 1000)
    const claim = () =>
      exe.ledger.propose({
        from: sub.peerId,
        to: exe.peerId,
        credits: 5,
        memo: '',
        ref: { kind: 'chat', id: o.taskId, attempt: 1, usage: { tokens: 50, cpuMs: 0 }, quote: q.quote },
      })
    const first = await claim()
    const a1 = await sub.settlement.agreeToClaim(first, exe.peerId)
    const a2 = await sub.settlement.agreeToClaim(first, exe.peerId)
    expect(canonicalJson(a2)).toBe(canonicalJson(a1))
    await expect(sub.settlement.agreeToClaim(await claim(), exe.peerId)).rejects.toMatchObject({
      reason: 'replayed',
    })
    expect(sub.ledger.totals.balance).toBe(-5)
    expect(sub.ledger.head()?.seq).toBe(1)
  })

  it('refuses to agree past its own credit line', async () => {
    const n = net()
    const sub = await testLedger(n, { creditLine: 3 })
    const exe = await testLedger(n)
    const { proposal } = await work(sub, exe, { tokens: 50, wallMs: 1000 }, { tokens: 50, cpuMs: 0 })
    expect(proposal).not.toBeNull()
    expect(sub.ledger.totals.balance).toBe(0)
    await expect(sub.settlement.agreeToClaim(proposal, exe.peerId)).rejects.toMatchObject({
      reason: 'credit-line',
    })
  })
})

describe('crash safety', () => {
  it('completes a claim after the executor restarts, and counts it once', async () => {
    const n = net()
    const sub = await testLedger(n)
    let exe = await testLedger(n)
    n.down.add(sub.peerId)
    await work(sub, exe, { tokens: 50, wallMs: 1000 }, { tokens: 50, cpuMs: 0 })
    expect(exe.ledger.pending()).toHaveLength(1)
    expect(exe.ledger.totals.balance).toBe(0)
    exe = exe.reopen()
    expect(exe.ledger.pending()).toHaveLength(1)
    n.down.delete(sub.peerId)
    await exe.settlement.retryPending()
    await exe.settlement.retryPending()
    expect(exe.ledger.totals.balance).toBe(5)
    expect(exe.reopen().ledger.totals).toEqual({ balance: 5, earned: 5, spent: 0 })
  })

  it('after the submitter restarts, answers the claim it agreed to before with the same agreement', async () => {
    const n = net()
    let sub = await testLedger(n)
    const exe = await testLedger(n)
    const { o, quote } = await work(sub, exe, { tokens: 50, wallMs: 1000 }, { tokens: 50, cpuMs: 0 })
    sub = sub.reopen()
    expect(sub.ledger.totals.balance).toBe(-5)
    const proposal = exe.ledger.chains.range(exe.peerId, 1, 10)[0]!
    await sub.settlement.agreeToClaim(proposal, exe.peerId)
    expect(sub.ledger.totals.balance).toBe(-5)
    expect(sub.ledger.head()?.seq).toBe(1)
    expect(quote.max).toBeGreaterThan(0)
    expect(o.taskId).toBeTruthy()
  })
})

describe('grants', () => {
  it('applies a certificate from the grant key once; refuses forged or misaddressed ones', async () => {
    const issuerKey = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(7))
    const { grantIssuerId } = await import('@edgecoder/protocol')
    const issuer = grantIssuerId(Buffer.from(issuerKey.publicKey.raw).toString('base64url'))
    const n = net()
    const a = await testLedger(n, { grantIssuers: [issuer] })
    const body = {
      type: 'edgecoder.grant/1' as const,
      grantId: crypto.randomUUID(),
      peerId: a.peerId,
      credits: 40,
      issuedAt: 1,
    }
    const cert = await signGrant(body, issuerKey)
    const first = await a.ledger.applyGrant(cert)
    const again = await a.ledger.applyGrant(cert)
    expect(first.created).toBe(true)
    expect(again).toEqual({ block: first.block, created: false })
    expect(a.ledger.totals.balance).toBe(40)
    const selfMinted = await signGrant({ ...body, grantId: crypto.randomUUID() }, a.key)
    await expect(a.ledger.applyGrant(selfMinted)).rejects.toBeInstanceOf(LedgerRefusedError)
    const other = await signGrant({ ...body, grantId: crypto.randomUUID(), peerId: issuer }, issuerKey)
    await expect(a.ledger.applyGrant(other)).rejects.toMatchObject({ reason: 'misaddressed' })
    expect(a.reopen().ledger.totals.balance).toBe(40)
  })

  it('refuses a transfer beyond balance plus credit line', async () => {
    const n = net()
    const [a, b] = [await testLedger(n, { creditLine: 10 }), await testLedger(n)]
    await expect(
      a.ledger.propose({ from: a.peerId, to: b.peerId, credits: 11, memo: '', ref: null }),
    ).rejects.toMatchObject({
      reason: 'credit-line',
    })
    await a.ledger.propose({ from: a.peerId, to: b.peerId, credits: 6, memo: '', ref: null })
    // The pending 6 are held back until the proposal is agreed or expires.
    await expect(
      a.ledger.propose({ from: a.peerId, to: b.peerId, credits: 6, memo: '', ref: null }),
    ).rejects.toMatchObject({
      reason: 'credit-line',
    })
  })
})
