import { type Block, blockHash, priceOf } from '@edgecoder/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, type Net, net, offer, type TestLedger, testLedger } from './helpers.ts'

afterEach(cleanup)

const RELAY_PRICE = { perKTokens: 20, perCpuSecond: 2 }

/** Submitter, executor and the relay between them, which carried a circuit between the two. */
async function triangle(n: Net, subOpts = {}) {
  const sub = await testLedger(n, subOpts)
  const exe = await testLedger(n)
  const relay = await testLedger(n, { relayPrice: RELAY_PRICE })
  relay.hopFees.carriedCircuit(sub.peerId, exe.peerId)
  return { sub, exe, relay }
}

/** Work through `via`: quoted, observed, billed by the executor; the claim is settled. */
async function relayedWork(sub: TestLedger, exe: TestLedger, via: string | null, tokens = 50) {
  const o = offer(sub, exe)
  const q = await exe.settlement.quote(o)
  if (!q.ok) throw new Error(q.message)
  const ref = { executor: exe.peerId, taskId: o.taskId, attempt: 1, kind: 'chat', via }
  expect(sub.settlement.quoted(ref, q.quote)).toBeNull()
  sub.settlement.observed(ref, tokens, 1000)
  await exe.settlement.executed(o, q.quote, { tokens, cpuMs: 0 })
  await exe.settlement.retryPending()
  // The submitter pays the relay once it agreed to the claim; this waits for that settlement.
  await sub.settlement.retryPending()
  return o
}

const hopBlocks = (t: TestLedger) =>
  t.ledger.chains
    .range(t.peerId, 1, 100)
    .filter(
      (b) =>
        (b.tx.type === 'transfer' ? b.tx : b.tx.type === 'agreement' ? b.tx.transfer : null)?.ref?.kind ===
        'hop',
    )

describe('relay fees', () => {
  it('pays the relay that carried the work its fee on the executor’s usage; credits are conserved', async () => {
    const n = net()
    const { sub, exe, relay } = await triangle(n)
    const o = await relayedWork(sub, exe, relay.peerId)
    // Executor: 50 tokens at 100 per 1k = 5. Relay: 50 tokens at 20 per 1k = 1.
    expect(exe.ledger.totals.balance).toBe(5)
    expect(relay.ledger.totals.balance).toBe(1)
    expect(sub.ledger.totals.balance).toBe(-6)
    expect(sub.ledger.totals.balance + exe.ledger.totals.balance + relay.ledger.totals.balance).toBe(0)
    const [proposal] = hopBlocks(sub)
    expect(proposal?.tx.type === 'transfer' && proposal.tx.ref).toMatchObject({
      kind: 'hop',
      id: o.taskId,
      peer: exe.peerId,
      usage: { tokens: 50, cpuMs: 0 },
    })
    expect(hopBlocks(relay)).toHaveLength(1)
    expect(sub.ledger.pending()).toEqual([])
  })

  it('pays no relay for work that went direct', async () => {
    const n = net()
    const { sub, exe, relay } = await triangle(n)
    await relayedWork(sub, exe, null)
    expect(relay.ledger.head()).toBeNull()
    expect(sub.ledger.totals.balance).toBe(-5)
  })

  it('pays nothing to a peer that advertises no relay fee', async () => {
    const n = net()
    const sub = await testLedger(n)
    const exe = await testLedger(n)
    const plain = await testLedger(n)
    await relayedWork(sub, exe, plain.peerId)
    expect(plain.ledger.head()).toBeNull()
    expect(sub.ledger.totals.balance).toBe(-5)
  })

  it('is refused by a relay that carried no circuit between the two', async () => {
    const n = net()
    const sub = await testLedger(n)
    const exe = await testLedger(n)
    const relay = await testLedger(n, { relayPrice: RELAY_PRICE })
    await relayedWork(sub, exe, relay.peerId)
    expect(relay.ledger.head()).toBeNull()
    // The submitter's proposal stays unanswered: it counts for nothing and expires.
    expect(sub.ledger.totals.balance).toBe(-5)
    expect(sub.ledger.pending()).toHaveLength(1)
    const p = sub.ledger.pending()[0]!
    await expect(relay.settlement.answer(p, sub.peerId)).rejects.toMatchObject({ reason: 'unknown-work' })
  })

  it('refuses a fee at other rates, above the fee for the usage, or paid a second time', async () => {
    const n = net()
    const { sub, exe, relay } = await triangle(n)
    const o = await relayedWork(sub, exe, relay.peerId)
    const pay = (credits: number, rates = RELAY_PRICE, attempt = 1) =>
      sub.ledger.propose({
        from: sub.peerId,
        to: relay.peerId,
        credits,
        memo: '',
        ref: {
          kind: 'hop',
          id: o.taskId,
          attempt,
          usage: { tokens: 50, cpuMs: 0 },
          quote: { ...rates, max: 1000 },
          peer: exe.peerId,
        },
      })
    await expect(
      relay.settlement.answer(await pay(1, { perKTokens: 999, perCpuSecond: 2 }), sub.peerId),
    ).rejects.toMatchObject({
      reason: 'over-quote',
    })
    await expect(relay.settlement.answer(await pay(2), sub.peerId)).rejects.toMatchObject({
      reason: 'over-quote',
    })
    await expect(relay.settlement.answer(await pay(1), sub.peerId)).rejects.toMatchObject({
      reason: 'replayed',
    })
    // The first payment, asked again, gets the same agreement: nothing counts twice.
    const first = hopBlocks(sub).find(
      (b) => b.tx.type === 'transfer' && relay.ledger.chains.agreementTo(blockHash(b)),
    )!
    const again = await relay.settlement.answer(first, sub.peerId)
    expect(again.tx.type === 'agreement' && again.tx.proposalHash).toBe(blockHash(first))
    expect(relay.ledger.totals.balance).toBe(1)
  })

  it('refuses a hop fee signed by someone other than its payer', async () => {
    const n = net()
    const { sub, exe, relay } = await triangle(n)
    const o = await relayedWork(sub, exe, relay.peerId)
    const [paid] = hopBlocks(sub) as [Block]
    expect(paid).toBeDefined()
    await expect(relay.settlement.answer(paid, exe.peerId)).rejects.toMatchObject({ reason: 'forged' })
    expect(o.taskId).toBeTruthy()
  })

  it('pays the fee after a crash between agreeing to the claim and proposing the fee', async () => {
    const n = net()
    const t = await triangle(n)
    const { exe, relay } = t
    let sub = t.sub
    n.down.add(relay.peerId)
    await relayedWork(sub, exe, relay.peerId)
    // The relay was away: the proposal is made (and stored), its agreement missing.
    expect(sub.ledger.pending()).toHaveLength(1)
    sub = sub.reopen()
    n.down.delete(relay.peerId)
    await sub.settlement.retryPending()
    expect(relay.ledger.totals.balance).toBe(1)
    expect(sub.ledger.totals.balance).toBe(-6)
    // Restarted again: the fee was paid once, and nothing is owed.
    sub = sub.reopen()
    await sub.settlement.retryPending()
    expect(hopBlocks(sub).filter((b) => b.tx.type === 'transfer')).toHaveLength(1)
    expect(sub.ledger.totals).toEqual({ balance: -6, earned: 0, spent: 6 })
  })

  it('owes the fee from inside the claim’s agreement, so a crash before the proposal loses nothing', async () => {
    const n = net()
    const { sub, exe, relay } = await triangle(n)
    const o = offer(sub, exe)
    const q = await exe.settlement.quote(o)
    if (!q.ok) throw new Error(q.message)
    const ref = { executor: exe.peerId, taskId: o.taskId, attempt: 1, kind: 'chat', via: relay.peerId }
    sub.settlement.quoted(ref, q.quote)
    sub.settlement.observed(ref, 50, 1000)
    await exe.settlement.executed(o, q.quote, { tokens: 50, cpuMs: 0 })
    // Agreed directly (as a submitter killed right after its agreement committed would leave it).
    await sub.settlement.agreeToClaim(exe.ledger.pending()[0], exe.peerId)
    expect(hopBlocks(sub)).toHaveLength(0)
    const restarted = sub.reopen()
    await restarted.settlement.retryPending()
    expect(relay.ledger.totals.balance).toBe(priceOf({ ...RELAY_PRICE, max: 1000 }, { tokens: 50, cpuMs: 0 }))
    expect(restarted.ledger.totals.balance).toBe(-6)
  })
})
