import type { Coordinator, MeshPeer } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, runCli, waitFor } from './harness.ts'
import {
  collectEvents,
  describeTables,
  EVICT_AFTER_HEARTBEATS,
  fullyMeshed,
  HEARTBEAT_MS,
  heartbeatsPass,
  peerDetail,
  peersOf,
  seesOnline,
  startMeshAgent,
  tcpAddr,
} from './mesh-helpers.ts'

// Eviction comes EVICT_AFTER_HEARTBEATS heartbeats after a peer falls silent; on two shared cores the
// heartbeat of a busy agent slips a little, so the checks allow that much again on top.
const EVICT_WINDOW_MS = EVICT_AFTER_HEARTBEATS * HEARTBEAT_MS * 1.25
const SLACK_MS = 2_000

afterAll(cleanupAgents)

/** Waits until every agent lists all the others online; fails with everyone's table. */
async function expectMeshed(agents: AgentProcess[], withinMs: number): Promise<number> {
  const t0 = Date.now()
  try {
    await waitFor(() => fullyMeshed(agents), withinMs, 100)
  } catch {
    throw new Error(`not meshed within ${withinMs} ms:\n${await describeTables(agents)}`)
  }
  return Date.now() - t0
}

describe('a five-agent mesh on loopback', () => {
  let seed: AgentProcess
  let others: AgentProcess[] = []
  let victim: AgentProcess
  const all = () => [seed, ...others]
  let launched = 0

  // The tests below are the phases of one mesh's life (a kill, a restart, the seed's death), in
  // order; its agents start here, so a slow start-up on a loaded machine fails only this setup.
  beforeAll(async () => {
    seed = await startMeshAgent([], { timeoutMs: 60_000 })
    launched = Date.now()
    others = await Promise.all(
      Array.from({ length: 4 }, () => startMeshAgent(['--bootstrap', tcpAddr(seed)], { timeoutMs: 60_000 })),
    )
  }, 180_000)

  it('fills every peer table with the other four within 10 s of start', async () => {
    // Measured from the moment all four are up: process start-up on two busy cores is not the mesh's.
    const t0 = Date.now()
    const elapsed = await expectMeshed(all(), 10_000)
    console.log(
      `mesh: 5 agents meshed ${elapsed} ms after all were ready (start-up took ${t0 - launched} ms)`,
    )
    expect(elapsed).toBeLessThan(10_000)

    const peer = (await peersOf(seed)).find((p) => p.peerId === others[0]!.ready.peerId)!
    expect(peer).toMatchObject({ state: 'online', roles: ['coordinator'], power: 'active' })
    expect(peer.slots).toEqual({ total: 2, free: 2 })
    expect(peer.addrs.some((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
    await waitFor(
      async () => (await peersOf(seed)).every((p) => p.connection === 'direct' && p.rttMs !== null),
      // The first ping waits for the peer's snapshot; on two loaded cores that can take a while.
      15_000,
    )
  })

  it('answers the peer routes, the coordinators route and `edgecoder peers`', async () => {
    const target = others[1]!.ready.peerId
    const detail = await peerDetail(seed, target)
    expect(detail?.advert.body.peerId).toBe(target)
    expect(detail?.advert.sig).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(detail?.history[0]?.state).toBe('online')
    const missing = await seed.api('/agent-mesh/peers/12D3KooWNotAPeer')
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found')

    const { coordinators } = (await (await seed.api('/network/coordinators')).json()) as {
      coordinators: Coordinator[]
    }
    expect(coordinators.map((c) => c.peerId).sort()).toEqual(
      all()
        .map((a) => a.ready.peerId)
        .sort(),
    )
    expect(coordinators.every((c) => c.addrs.length > 0)).toBe(true)

    const runtime = (await (await seed.api('/health/runtime')).json()) as Record<string, unknown>
    expect(runtime.peers).toEqual({ total: 4, online: 4 })
    expect(runtime.reachability).toBe('private')
    expect((runtime.addresses as string[]).length).toBeGreaterThan(0)

    const cli = await runCli(['peers', '--api-url', seed.apiUrl])
    expect(cli.code).toBe(0)
    for (const o of others) expect(cli.stdout).toContain(o.ready.peerId)
    expect(cli.stdout).toMatch(/online/)
  })

  it('carries an advert change to every peer within 2 s', async () => {
    const changer = others[2]!
    const t0 = Date.now()
    const res = await changer.api('/orchestration/settings', {
      method: 'PUT',
      json: { region: 'ap-south', maxConcurrentTasks: 5 },
    })
    expect(res.status).toBe(200)
    const seen = (a: AgentProcess) => async () => {
      const p = (await peersOf(a)).find((x) => x.peerId === changer.ready.peerId)
      return p?.region === 'ap-south' && p.slots?.total === 5
    }
    await Promise.all(
      all()
        .filter((a) => a !== changer)
        .map((a) => waitFor(seen(a), 2_000, 20)),
    )
    const elapsed = Date.now() - t0
    const lags = await Promise.all(
      all()
        .filter((a) => a !== changer)
        .map(async (a) => {
          const d = await peerDetail(a, changer.ready.peerId)
          return Date.parse(d!.advertReceivedAt) - d!.advert.body.timestamp
        }),
    )
    console.log(`mesh: advert change seen by all in ${elapsed} ms (per-node lag ${lags.join(', ')} ms)`)
    expect(elapsed).toBeLessThan(2_000)
  })

  it('marks an agent killed with -9 offline and evicts it within the window, with events', async () => {
    victim = others[3]!
    const watch = collectEvents(seed)
    await watch.ready
    const t0 = Date.now()
    await victim.stop('SIGKILL')
    const survivors = all().filter((a) => a !== victim)
    const gone = (a: AgentProcess) => async () =>
      !(await peersOf(a)).some((p) => p.peerId === victim.ready.peerId)
    await Promise.all(survivors.map((a) => waitFor(gone(a), EVICT_WINDOW_MS + SLACK_MS, 100)))
    const elapsed = Date.now() - t0
    watch.close()
    console.log(`mesh: killed agent evicted everywhere ${elapsed} ms after kill -9`)

    const about = watch.events.filter(
      (e) => (e.data as { peerId?: string }).peerId === victim.ready.peerId && e.type.startsWith('peer-'),
    )
    const states = about.filter((e) => e.type === 'peer-updated').map((e) => (e.data as MeshPeer).state)
    expect(states).toContain('offline')
    expect(about.at(-1)?.type).toBe('peer-left')
    // Gone from the table, not merely offline: the others still see each other.
    for (const a of survivors)
      expect(
        await seesOnline(
          a,
          survivors.filter((o) => o !== a),
        ),
      ).toBe(true)
    others = others.filter((o) => o !== victim)
  })

  it('takes the killed agent back when it restarts, finding the mesh from its peer cache alone', async () => {
    const back = await startMeshAgent([], { dataDir: victim.dataDir })
    const t0 = Date.now()
    expect(back.ready.peerId).toBe(victim.ready.peerId)
    others.push(back)
    await expectMeshed(all(), 10_000)
    console.log(`mesh: restarted agent (no bootstrap) meshed again in ${Date.now() - t0} ms`)
  })

  it('keeps the other four meshed when the seed dies', async () => {
    // Four of them, or the checks below hold of nothing.
    expect(others).toHaveLength(4)
    await seed.stop('SIGKILL')
    const t0 = Date.now()
    await expectMeshed(others, EVICT_WINDOW_MS + SLACK_MS)
    console.log(`mesh: seed evicted, four agents still meshed ${Date.now() - t0} ms after kill -9`)
    // And they stay so for several more heartbeats, with no one to relay through.
    await heartbeatsPass(others, 3)
    expect(await fullyMeshed(others)).toBe(true)
  })

  it('admits a new agent that only knows a non-seed peer (through its discovery URL)', async () => {
    const newcomer = await startMeshAgent(['--discovery-url', others[0]!.apiUrl])
    const t0 = Date.now()
    others.push(newcomer)
    await expectMeshed(others, 10_000)
    console.log(`mesh: newcomer meshed with four in ${Date.now() - t0} ms via discovery URL`)
  })

  it('takes the seed back when it restarts, from its peer cache, and fills its table again', async () => {
    expect(others).toHaveLength(5)
    seed = await startMeshAgent([], { dataDir: seed.dataDir })
    const t0 = Date.now()
    await expectMeshed(all(), 10_000)
    console.log(`mesh: restarted seed meshed with ${others.length} in ${Date.now() - t0} ms`)
    expect((await peersOf(seed)).map((p) => p.peerId).sort()).toEqual(
      others.map((o) => o.ready.peerId).sort(),
    )
  })
})
