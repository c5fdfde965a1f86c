import { describe, expect, it } from 'vitest'
import { GossipCounters } from '../../src/mesh/gossip-counters.ts'

const gauge = (c: GossipCounters, name: string) =>
  c.register.gauge({ name, help: '', labelNames: ['penalty'] } as never) as unknown as {
    inc(labels?: Record<string, string> | number, value?: number): void
  }

describe('GossipCounters', () => {
  it('keeps the behaviour penalties by kind, and every counter in total', () => {
    const c = new GossipCounters()
    const penalties = gauge(c, 'gossipsub_scoring_penalties_total')
    penalties.inc({ penalty: 'broken_promise' }, 1)
    penalties.inc({ penalty: 'broken_promise' }, 1)
    penalties.inc({ penalty: 'graft_backoff' }, 1)
    const rpcs = gauge(c, 'gossipsub_rpc_sent_count_total')
    rpcs.inc({ topic: 'adverts' }, 3)
    rpcs.inc(2)
    expect(c.byLabel('gossipsub_scoring_penalties_total')).toEqual({ broken_promise: 2, graft_backoff: 1 })
    expect(c.total('gossipsub_scoring_penalties_total')).toBe(3)
    expect(c.total('gossipsub_rpc_sent_count_total')).toBe(5)
    // Counters counted per message are kept in total only.
    expect(c.byLabel('gossipsub_rpc_sent_count_total')).toEqual({})
  })
})
