import { describe, expect, it } from 'vitest'
import { balanceSeries, chartGeometry } from './balance-series.ts'
import type { CreditHistoryEntry } from './types.ts'

const entry = (
  seq: number,
  direction: 'in' | 'out',
  credits: number,
  state: CreditHistoryEntry['state'] = 'settled',
) =>
  ({
    seq,
    hash: `h${seq}`,
    kind: 'task',
    direction,
    counterparty: 'peer',
    credits,
    state,
    taskId: null,
    usage: null,
    memo: '',
    at: new Date(1_000 * seq).toISOString(),
  }) as CreditHistoryEntry

describe('balanceSeries', () => {
  it('walks back from the current balance through settled transfers only', () => {
    const entries = [entry(3, 'out', 5), entry(2, 'in', 20, 'pending'), entry(1, 'in', 30)]
    const s = balanceSeries(entries, 25, 10_000)
    expect(s.map((p) => p.balance)).toEqual([0, 0, 30, 30, 25, 25])
    expect(s.at(-1)).toEqual({ t: 10_000, balance: 25 })
    expect(s[1]!.t).toBe(1_000)
    expect(s[0]!.t).toBeLessThan(1_000)
  })

  it('is one point when nothing settled yet', () => {
    expect(balanceSeries([entry(1, 'in', 3, 'expired')], 0, 5)).toEqual([{ t: 5, balance: 0 }])
  })
})

describe('chartGeometry', () => {
  it('keeps zero in view and spans the box', () => {
    const g = chartGeometry(balanceSeries([entry(1, 'in', 10)], 10, 2_000), 100, 50)!
    expect(g.min).toBe(0)
    expect(g.max).toBe(10)
    expect(g.path.startsWith('M0.0,')).toBe(true)
    expect(g.path).toContain('L100.0,')
  })

  it('draws a flat line for a single point', () => {
    const g = chartGeometry([{ t: 1, balance: 0 }], 100, 50)!
    expect(g.path).toMatch(/^M0,[\d.]+ L100,[\d.]+$/)
  })
})
