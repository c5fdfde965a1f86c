import { describe, expect, it } from 'vitest'
import { groupByRegion, layoutByRegion, NO_REGION } from './layout.ts'
import type { MeshPeer } from './types.ts'

const peer = (peerId: string, region: string | null): MeshPeer => ({
  peerId,
  state: 'online',
  region,
  roles: ['worker'],
  models: [],
  slots: { total: 1, free: 1 },
  queueDepth: 0,
  load: 0,
  power: 'active',
  rttMs: 1,
  lastSeen: null,
  connection: 'direct',
  addrs: [],
})

describe('groupByRegion', () => {
  it('orders regions by name with the peers without one last, and peers by id', () => {
    const groups = groupByRegion([peer('c', 'us'), peer('a', null), peer('b', 'eu'), peer('a', 'us')])
    expect(groups.map(([r, ps]) => [r, ps.map((p) => p.peerId)])).toEqual([
      ['eu', ['b']],
      ['us', ['a', 'c']],
      [NO_REGION, ['a']],
    ])
  })
})

describe('layoutByRegion', () => {
  it('puts the peers of a region next to each other on the ring, inside the frame', () => {
    const peers = Array.from({ length: 50 }, (_, i) => peer(`p${String(i).padStart(2, '0')}`, `r${i % 7}`))
    const l = layoutByRegion(peers)
    expect(l.peers).toHaveLength(50)
    expect(l.regions.map((r) => r.count)).toEqual([8, 7, 7, 7, 7, 7, 7])
    for (const p of l.peers) {
      expect(p.x).toBeGreaterThan(0)
      expect(p.x).toBeLessThan(l.width)
      expect(p.y).toBeGreaterThan(0)
      expect(p.y).toBeLessThan(l.height)
    }
    // Drawing order follows the regions: all of r0, then all of r1...
    const order = l.peers.map((p) => p.peer.region)
    expect(order).toEqual([...order].sort())
    // No two peers on top of each other, even at 50.
    for (const [i, a] of l.peers.entries())
      for (const b of l.peers.slice(i + 1)) expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeGreaterThan(18)
  })

  it('places peers the same whatever order the peer table lists them in', () => {
    const peers = ['d', 'a', 'c', 'b', 'e'].map((id, i) => peer(id, i % 2 ? 'eu' : 'us'))
    const reversed = [...peers].reverse()
    const at = (l: ReturnType<typeof layoutByRegion>) =>
      Object.fromEntries(l.peers.map((p) => [p.peer.peerId, [p.x, p.y]]))
    expect(at(layoutByRegion(reversed))).toEqual(at(layoutByRegion(peers)))
  })
})
