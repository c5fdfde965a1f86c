import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AdvertSequence, PeerCache } from '../../src/mesh/index.ts'
import { Store } from '../../src/store/index.ts'

const dirs: string[] = []
const openStore = (dir = mkdtempSync(join(tmpdir(), 'edgecoder-mesh-'))) => {
  dirs.push(dir)
  return { dir, store: new Store(join(dir, 'edgecoder.db')) }
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('PeerCache', () => {
  it('remembers peers across a reopen of the store, most recently seen first', () => {
    const { dir, store } = openStore()
    const cache = new PeerCache(store)
    const now = Date.now()
    cache.remember({
      peerId: 'p1',
      addrs: ['/ip4/127.0.0.1/tcp/1/p2p/p1'],
      roles: ['worker'],
      lastSeen: now - 1000,
    })
    cache.remember({
      peerId: 'p2',
      addrs: ['/ip4/127.0.0.1/tcp/2/p2p/p2'],
      roles: ['coordinator'],
      lastSeen: now,
    })
    store.close()
    const again = new PeerCache(new Store(join(dir, 'edgecoder.db')))
    expect(again.recent(now).map((p) => p.peerId)).toEqual(['p2', 'p1'])
  })

  it('updates a peer whose addresses changed, and skips peers with none', () => {
    const { store } = openStore()
    const cache = new PeerCache(store)
    const now = Date.now()
    cache.remember({ peerId: 'p1', addrs: ['/a'], roles: [], lastSeen: now })
    cache.remember({ peerId: 'p1', addrs: ['/b'], roles: [], lastSeen: now + 1 })
    cache.remember({ peerId: 'p3', addrs: [], roles: [], lastSeen: now })
    expect(cache.recent(now)).toEqual([{ peerId: 'p1', addrs: ['/b'], roles: [], lastSeen: now + 1 }])
  })

  it('drops peers not seen for weeks', () => {
    const { store } = openStore()
    const cache = new PeerCache(store)
    const now = Date.now()
    cache.remember({ peerId: 'old', addrs: ['/a'], roles: [], lastSeen: now - 30 * 24 * 3600_000 })
    expect(cache.recent(now)).toEqual([])
  })
})

describe('AdvertSequence', () => {
  it('keeps rising across restarts even when the clock steps back', () => {
    const { dir, store } = openStore()
    const seq = new AdvertSequence(store)
    const now = Date.now()
    const a = seq.next(now)
    const b = seq.next(now)
    expect(b).toBeGreaterThan(a)
    store.close()
    const again = new AdvertSequence(new Store(join(dir, 'edgecoder.db')))
    expect(again.next(now - 3600_000)).toBeGreaterThan(b)
  })
})
