import { MeshStats } from '@edgecoder/protocol'
import { describe, expect, it } from 'vitest'
import { AdvertTiming } from '../../src/mesh/advert-timing.ts'
import { GossipCounters } from '../../src/mesh/gossip-counters.ts'
import { meshStats } from '../../src/mesh/stats.ts'

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

  it('reports what the traffic is made of under gossip.parts, from the counters gossipsub names', () => {
    const c = new GossipCounters()
    const count = (name: string, ...values: number[]) => {
      for (const v of values) gauge(c, name).inc(v)
    }
    count('gossipsub_rpc_sent_message_total', 2, 1)
    count('gossipsub_rpc_recv_message_total', 4)
    count('gossipsub_rpc_sent_ihave_total', 3)
    count('gossipsub_rpc_sent_iwant_total', 1)
    count('gossipsub_rpc_sent_idontwant_total', 5)
    count('gossipsub_rpc_sent_graft_total', 1)
    count('gossipsub_rpc_sent_prune_total', 2)
    gauge(c, 'gossipsub_msg_publish_bytes_total').inc({ topic: 'adverts' } as never, 4 * 900)
    gauge(c, 'gossipsub_msg_publish_peers_total').inc({ topic: 'adverts' } as never, 4)
    const stats = MeshStats.parse(meshStats(undefined, c, undefined, new Date(0), new AdvertTiming()))
    expect(stats.gossip.parts).toEqual({
      messagesSent: 3,
      messagesReceived: 4,
      ihaveSent: 3,
      iwantSent: 1,
      idontwantSent: 5,
      graftSent: 1,
      pruneSent: 2,
      publishedDataBytes: 3600,
      publishedToPeers: 4,
    })
  })
})
