import { afterEach, describe, expect, it, vi } from 'vitest'
import { HolePunchTracker } from '../../src/mesh/hole-punch.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('hole punching outcomes', () => {
  it('counts an attempt that a direct connection followed as a success, once', () => {
    const t = new HolePunchTracker()
    t.relayedOpened('peer-a')
    t.relayedOpened('peer-a')
    expect(t.report()).toMatchObject({ attempted: 1, pending: 1, succeeded: 0, failed: 0 })
    t.directOpened('peer-a')
    t.directOpened('peer-a')
    const r = t.report()
    expect(r).toMatchObject({ attempted: 1, pending: 0, succeeded: 1, failed: 0 })
    expect(r.recent[0]).toMatchObject({ peerId: 'peer-a', outcome: 'succeeded' })
  })

  it('fails an attempt whose window passes without a direct connection', () => {
    vi.useFakeTimers()
    const t = new HolePunchTracker({ windowMs: 20_000 })
    t.relayedOpened('peer-b')
    vi.advanceTimersByTime(19_999)
    expect(t.report().pending).toBe(1)
    vi.advanceTimersByTime(1)
    expect(t.report()).toMatchObject({ attempted: 1, pending: 0, failed: 1, succeeded: 0 })
    expect(t.report().recent[0]).toMatchObject({ peerId: 'peer-b', outcome: 'failed', ms: 20_000 })
    // A direct connection that comes later is no longer this attempt's doing.
    t.directOpened('peer-b')
    expect(t.report().succeeded).toBe(0)
  })

  it('ends an attempt when the relayed connection closes: failed unless a direct one is open', () => {
    const t = new HolePunchTracker()
    t.relayedOpened('peer-c')
    t.relayedOpened('peer-d')
    t.relayedClosed('peer-c', false)
    t.relayedClosed('peer-d', true)
    expect(t.report()).toMatchObject({ attempted: 2, failed: 1, succeeded: 1, pending: 0 })
  })

  it('ignores direct connections to peers it was not punching through to', () => {
    const t = new HolePunchTracker()
    t.directOpened('peer-e')
    expect(t.report()).toEqual({ attempted: 0, succeeded: 0, failed: 0, pending: 0, recent: [] })
  })
})
