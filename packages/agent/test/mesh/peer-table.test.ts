import { beforeAll, describe, expect, it } from 'vitest'
import { PeerTable } from '../../src/mesh/index.ts'
import { advertBody, checked, testNode } from './helpers.ts'

type Node = Awaited<ReturnType<typeof testNode>>

describe('PeerTable', () => {
  let a: Node
  beforeAll(async () => {
    a = await testNode()
  })

  const table = () => new PeerTable({ evictAfterHeartbeats: 3 })

  it('lists a peer from its first advert, with what it advertised', async () => {
    const t = table()
    const joined: string[] = []
    t.on('joined', (p) => joined.push(p.peerId))
    const now = Date.now()
    expect(t.offer(await checked(a.key, advertBody(a.peerId, { seq: 1, timestamp: now })), now)).toBe(
      'accepted',
    )
    expect(joined).toEqual([a.peerId])
    const [row] = t.list()
    expect(row).toMatchObject({
      peerId: a.peerId,
      state: 'online',
      region: 'eu-west',
      slots: { free: 2, total: 2 },
    })
    expect(row!.connection).toBeNull()
  })

  it('takes only a newer sequence; the same one again through gossip is a replay', async () => {
    const t = table()
    const now = Date.now()
    const first = await checked(a.key, advertBody(a.peerId, { seq: 10, timestamp: now }))
    const older = await checked(a.key, advertBody(a.peerId, { seq: 9, timestamp: now, region: 'old' }))
    const newer = await checked(a.key, advertBody(a.peerId, { seq: 11, timestamp: now, region: 'us-east' }))
    expect(t.offer(first, now)).toBe('accepted')
    expect(t.offer(first, now)).toBe('replayed')
    expect(t.offer(older, now)).toBe('superseded')
    expect(t.offer(newer, now)).toBe('accepted')
    expect(t.get(a.peerId)!.region).toBe('us-east')
    expect(t.lastSeq(a.peerId)).toBe(11)
  })

  it('treats the gossip copy of an advert a snapshot brought first as news, not a replay', async () => {
    const t = table()
    const now = Date.now()
    const ad = await checked(a.key, advertBody(a.peerId, { seq: 5, timestamp: now }))
    expect(t.offer(ad, now, 'snapshot', now)).toBe('accepted')
    expect(t.offer(ad, now, 'snapshot', now)).toBe('duplicate')
    expect(t.offer(ad, now + 10, 'gossip')).toBe('duplicate')
    expect(t.offer(ad, now + 20, 'gossip')).toBe('replayed')
  })

  it('goes online → suspect → offline → evicted as silence grows, keeping the history', async () => {
    const t = table()
    const t0 = Date.now()
    t.offer(await checked(a.key, advertBody(a.peerId, { seq: 1, timestamp: t0, intervalMs: 1000 })), t0)
    const left: string[] = []
    t.on('left', (id) => left.push(id))
    t.tick(t0 + 1400)
    expect(t.get(a.peerId)!.state).toBe('online')
    t.tick(t0 + 1600)
    expect(t.get(a.peerId)!.state).toBe('suspect')
    t.tick(t0 + 2100)
    expect(t.get(a.peerId)!.state).toBe('offline')
    expect(t.get(a.peerId)!.history.map((h) => h.state)).toEqual(['online', 'suspect', 'offline'])
    expect(t.snapshot()).toHaveLength(0)
    t.tick(t0 + 3100)
    expect(t.has(a.peerId)).toBe(false)
    expect(left).toEqual([a.peerId])
  })

  it('comes back online on a new advert; an open connection alone does not keep it there', async () => {
    const t = table()
    const t0 = Date.now()
    t.offer(await checked(a.key, advertBody(a.peerId, { seq: 1, timestamp: t0, intervalMs: 1000 })), t0)
    t.tick(t0 + 2100)
    expect(t.get(a.peerId)!.state).toBe('offline')
    t.offer(await checked(a.key, advertBody(a.peerId, { seq: 2, timestamp: t0 + 2200 })), t0 + 2200)
    expect(t.get(a.peerId)!.state).toBe('online')
    t.link(a.peerId, 'direct', 0.4)
    t.touch(a.peerId, t0 + 4000)
    expect(t.get(a.peerId)).toMatchObject({
      connection: 'direct',
      rttMs: 0.4,
      lastSeen: new Date(t0 + 4000).toISOString(),
    })
    t.tick(t0 + 4300)
    expect(t.get(a.peerId)!.state).toBe('offline')
    t.tick(t0 + 5300)
    expect(t.has(a.peerId)).toBe(false)
  })

  it('times each peer against the heartbeat it advertised', async () => {
    const t = table()
    const b = await testNode()
    const t0 = Date.now()
    t.offer(await checked(a.key, advertBody(a.peerId, { seq: 1, timestamp: t0, intervalMs: 1000 })), t0)
    t.offer(await checked(b.key, advertBody(b.peerId, { seq: 1, timestamp: t0, intervalMs: 10_000 })), t0)
    t.tick(t0 + 5000)
    expect(t.has(a.peerId)).toBe(false)
    expect(t.get(b.peerId)!.state).toBe('online')
  })

  it('dates a snapshot advert by its own timestamp', async () => {
    const t = table()
    const t0 = Date.now()
    const ad = await checked(a.key, advertBody(a.peerId, { seq: 1, timestamp: t0 - 1800, intervalMs: 1000 }))
    t.offer(ad, t0, 'snapshot', t0 - 1800)
    expect(t.get(a.peerId)!.state).toBe('suspect')
  })

  it('forgets a removed peer but still refuses its old sequence', async () => {
    const t = table()
    const now = Date.now()
    const ad = await checked(a.key, advertBody(a.peerId, { seq: 3, timestamp: now }))
    t.offer(ad, now)
    t.remove(a.peerId, 'test')
    expect(t.has(a.peerId)).toBe(false)
    expect(t.offer(ad, now)).toBe('replayed')
  })
})
