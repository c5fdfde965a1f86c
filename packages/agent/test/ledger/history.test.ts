import { afterEach, describe, expect, it } from 'vitest'
import { historyView } from '../../src/ledger/index.ts'
import { cleanup, net, offer, type TestLedger, testLedger } from './helpers.ts'

afterEach(cleanup)

/** `exe` runs a chat of `tokens` tokens for `sub` and the two settle it. */
async function settle(sub: TestLedger, exe: TestLedger, tokens: number): Promise<void> {
  const o = offer(sub, exe)
  const q = await exe.settlement.quote(o)
  if (!q.ok) throw new Error(q.message)
  const ref = { executor: exe.peerId, taskId: o.taskId, attempt: 1, kind: 'chat' }
  sub.settlement.quoted(ref, q.quote)
  sub.settlement.observed(ref, tokens, 1000)
  await exe.settlement.executed(o, q.quote, { tokens, cpuMs: 0 })
  await exe.settlement.retryPending()
}

describe('credit history', () => {
  it('lists only the transfers with one peer when given a counterparty, paged the same way', async () => {
    const n = net()
    const [sub, a, b] = [await testLedger(n), await testLedger(n), await testLedger(n)]
    await settle(sub, a, 50)
    await settle(sub, b, 30)
    await settle(sub, a, 20)

    const all = historyView(sub.ledger, 50)
    expect(all.entries.map((e) => e.counterparty)).toEqual([a.peerId, b.peerId, a.peerId])

    const withA = historyView(sub.ledger, 50, undefined, a.peerId)
    expect(withA.entries.map((e) => [e.counterparty, e.direction, e.credits])).toEqual([
      [a.peerId, 'out', 2],
      [a.peerId, 'out', 5],
    ])
    const firstPage = historyView(sub.ledger, 1, undefined, a.peerId)
    expect(firstPage.entries).toHaveLength(1)
    expect(historyView(sub.ledger, 1, firstPage.next!, a.peerId).entries[0]!.credits).toBe(5)
    expect(historyView(sub.ledger, 50, undefined, 'someone-else').entries).toEqual([])
  })
})
