import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.ts'
import { Connectivity } from '../../src/mesh/connectivity.ts'
import { meshOptions } from '../../src/mesh/options.ts'
import { PeerCache } from '../../src/mesh/peer-cache.ts'
import { PeerTable } from '../../src/mesh/peer-table.ts'
import { Store } from '../../src/store/database.ts'
import { testHost } from '../routing/helpers.ts'
import { advertBody, checked } from './helpers.ts'

type Host = Awaited<ReturnType<typeof testHost>>['host']
const hosts: Host[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A node with no connection: its bootstrap is a node that has gone, its table holds `peer`. */
async function aloneNode(peerState: 'online' | 'offline') {
  const gone = (await testHost()).host
  const deadEntry = gone.getMultiaddrs()[0]!.toString()
  await gone.stop()
  const self = (await testHost()).host
  const peer = await testHost()
  hosts.push(self, peer.host)
  const table = new PeerTable({ evictAfterHeartbeats: 100 })
  // Offline: its last advert is older than two of its heartbeats.
  const at = peerState === 'online' ? Date.now() : Date.now() - 5_000
  const addrs = peer.host.getMultiaddrs().map((a) => a.toString())
  table.offer(
    await checked(peer.key, advertBody(peer.peerId, { addrs, intervalMs: 1000, seq: at, timestamp: at })),
    at,
  )
  table.tick(Date.now())
  expect(table.list()[0]?.state).toBe(peerState)
  const dir = mkdtempSync(join(tmpdir(), 'edgecoder-conn-'))
  dirs.push(dir)
  const connectivity = new Connectivity(
    self,
    meshOptions({ bootstrap: [deadEntry] }),
    new PeerCache(new Store(join(dir, 'edgecoder.db'))),
    table,
    createLogger('silent'),
  )
  return { self, peer, connectivity }
}

describe('Connectivity', () => {
  it('rejoins through a peer its table holds when its only entry point has gone', async () => {
    const { self, peer, connectivity } = await aloneNode('online')
    expect(self.getPeers()).toHaveLength(0)
    await connectivity.maintain(AbortSignal.timeout(30_000))
    expect(self.getPeers().map(String)).toEqual([peer.peerId])
  })

  it('dials a peer that reads offline too: after a long stall every peer does', async () => {
    const { self, peer, connectivity } = await aloneNode('offline')
    await connectivity.maintain(AbortSignal.timeout(30_000))
    expect(self.getPeers().map(String)).toEqual([peer.peerId])
  })
})
