import type { Startable } from '@libp2p/interface'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../src/logger.ts'
import { IdentifyRepair } from '../../src/mesh/identify-repair.ts'
import { testHost } from '../routing/helpers.ts'

type Host = Awaited<ReturnType<typeof testHost>>['host']
const hosts: Host[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()))
})

/** Two real hosts; `b` does not answer identify until told to. */
async function pair(): Promise<{ a: Host; b: Host; failedFirst: Promise<void> }> {
  const a = (await testHost()).host
  const b = (await testHost()).host
  hosts.push(a, b)
  await identifyOf(b).stop()
  // a's own identify of b, run by libp2p when the connection opens, fails: b has no handler.
  const failedFirst = new Promise<void>((resolve) => {
    const conn = a.dial(b.getMultiaddrs()[0]!)
    void conn.then(async (c) => {
      await a.services.identify.identify(c).catch(() => resolve())
    })
  })
  return { a, b, failedFirst }
}

/** The identify service is startable: stopping it unhandles its protocol. */
const identifyOf = (h: Host) => h.services.identify as unknown as Startable
const later = () => Date.now() + 60_000

describe('IdentifyRepair', () => {
  it('leaves a connection alone once identify succeeded on it', async () => {
    const a = (await testHost()).host
    const b = (await testHost()).host
    hosts.push(a, b)
    const identified = new Promise<void>((resolve) =>
      a.addEventListener('peer:identify', () => resolve(), { once: true }),
    )
    const repair = new IdentifyRepair(a, createLogger('silent'))
    await a.dial(b.getMultiaddrs()[0]!)
    await identified
    // A check starts its retries before it returns: no call of identify from it is none at all.
    const retries = vi.spyOn(a.services.identify, 'identify')
    for (let i = 0; i < 5; i++) repair.check(later(), AbortSignal.timeout(30_000))
    expect(retries).not.toHaveBeenCalled()
    expect(a.getConnections(b.peerId).filter((c) => c.status === 'open')).toHaveLength(1)
  })

  it('retries identify on a connection whose first identify failed, and the peer becomes known', async () => {
    const { a, b, failedFirst } = await pair()
    const repair = new IdentifyRepair(a, createLogger('silent'))
    await failedFirst
    await identifyOf(b).start()
    const identified = new Promise<string>((resolve) =>
      a.addEventListener('peer:identify', (e) => resolve(e.detail.peerId.toString()), { once: true }),
    )
    repair.check(later(), AbortSignal.timeout(30_000))
    expect(await identified).toBe(b.peerId.toString())
    expect((await a.peerStore.get(b.peerId)).protocols).toContain('/meshsub/1.1.0')
  })

  it('closes a connection that keeps failing, so the peer is dialled afresh', async () => {
    const { a, b, failedFirst } = await pair()
    const repair = new IdentifyRepair(a, createLogger('silent'))
    await failedFirst
    // The connection the repair must close. Any later one (a relay reservation or a redial may
    // open one) is not what this test is about, so the loop watches this connection only.
    const [conn] = a.getConnections(b.peerId)
    expect(conn?.status).toBe('open')
    const closed = new Promise<void>((resolve) =>
      a.addEventListener('connection:close', (e) => e.detail.id === conn!.id && resolve()),
    )
    // Each check starts one retry once the one before it has failed; the third closes.
    const signal = AbortSignal.timeout(30_000)
    while (conn!.status === 'open') {
      repair.check(later(), signal)
      await new Promise((r) => setTimeout(r, 20))
    }
    if (conn!.status !== 'closed') await closed
    expect(conn!.status).toBe('closed')
  })
})
