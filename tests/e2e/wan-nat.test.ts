import type { HolePunchReport, MeshPeer, RuntimeHealth, TaskRecord } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { NetLab } from './netns.ts'

/**
 * Nodes behind home routers, as on the internet: each router masquerades its network's traffic
 * with random source ports (so hole punching has nothing to predict) and silently drops whatever
 * arrives unasked; the carrier drops packets for private addresses without a word. The home node
 * and the submitter can reach each other only through the seed's relay.
 *
 *   seed 198.51.100.2 ── inet (router; 10/8 blackholed) ─┬─ .10 router A (NAT) ── 10.77.0.2 home node
 *                                                        └─ .6  router B (NAT) ── 10.78.0.2 submitter
 */
const lab = new NetLab()
let seed: AgentProcess
let home: AgentProcess
let submitter: AgentProcess

const runtime = async (a: AgentProcess) => (await (await a.api('/health/runtime')).json()) as RuntimeHealth
const peersOf = async (a: AgentProcess) =>
  ((await (await a.api('/mesh/peers')).json()) as { peers: MeshPeer[] }).peers

beforeAll(async () => {
  // The lab really is one: homes reach the internet, nothing reaches a home unasked (checked).
  const {
    seed: seedNs,
    homes: [homeNs, subNs],
  } = lab.natInternet(['home', 'sub'], [77, 78])

  const common = ['--p2p-host', '0.0.0.0', '--advert-interval-ms', '1000']
  seed = await lab.agent(seedNs, { args: [...common, '--mode', 'coordinator'] })
  const seedAddr = NetLab.seedAddr(seed)
  // Room for all five at once: the peer pool would otherwise decline some (busy), which is not
  // what this test is about.
  home = await lab.agent(homeNs, {
    args: [...common, '--bootstrap', seedAddr, '--max-concurrent-tasks', '8'],
  })
  submitter = await lab.agent(subNs, { args: [...common, '--bootstrap', seedAddr, '--mode', 'coordinator'] })
}, 120_000)

afterAll(async () => {
  await cleanupAgents()
  lab.close()
})

describe('a node behind NAT', () => {
  it('reports itself private, holds a reservation on the seed, and offers no relay', async () => {
    await waitFor(async () => (await runtime(home)).relayReservations >= 1, 30_000, 200)
    const rt = await runtime(home)
    expect(rt.reachability).toBe('private')
    expect(rt.addresses.some((a) => a.includes(`/p2p/${seed.ready.peerId}/p2p-circuit`))).toBe(true)
    // The submitter learns of the home node with its relayed address.
    await waitFor(
      async () =>
        (await peersOf(submitter)).find(
          (p) => p.peerId === home.ready.peerId && p.addrs.some((a) => a.includes('/p2p-circuit')),
        ),
      30_000,
      200,
    )
  })

  it('runs every task placed on it through the relay, on the first attempt', async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const res = await submitter.api('/tasks', {
        method: 'POST',
        json: { kind: 'run', language: 'python', code: `print(${i} * 7)` },
      })
      expect(res.status, await res.clone().text()).toBe(202)
      ids.push(((await res.json()) as { id: string }).id)
    }
    const started = Date.now()
    const records: TaskRecord[] = await Promise.all(
      ids.map(
        (id) =>
          waitFor(
            async () => {
              const t = (await (await submitter.api(`/tasks/${id}`)).json()) as TaskRecord
              return t.status === 'succeeded' || t.status === 'failed' ? t : null
            },
            90_000,
            200,
          ) as Promise<TaskRecord>,
      ),
    )
    for (const [i, t] of records.entries()) {
      expect(t.status, JSON.stringify(t.route)).toBe('succeeded')
      expect(t.result?.report?.output).toContain(String(i * 7))
      expect(t.executor?.peerId).toBe(home.ready.peerId)
      // One choice, accepted by the home node, and nothing lost on the way.
      expect(t.route.filter((h) => h.event === 'chosen')).toHaveLength(1)
      expect(t.route.some((h) => h.event === 'lost' || h.event === 'stalled' || h.event === 'declined')).toBe(
        false,
      )
      expect(t.executor?.attempt).toBe(1)
    }
    const accepted = records.flatMap((t) => t.route.filter((h) => h.event === 'accepted'))
    expect(accepted.some((h) => h.via === seed.ready.peerId)).toBe(true)
    console.log(`nat: 5 of 5 tasks ran on the home node through the relay in ${Date.now() - started} ms`)

    // Hole punching was tried across the two NATs and, with random source ports, failed: reported so.
    const report = await waitFor(
      async () => {
        const r = (await runtime(home)).holePunch!
        const s = (await runtime(submitter)).holePunch!
        return r.attempted + s.attempted > 0 && r.pending + s.pending === 0 ? [r, s] : undefined
      },
      60_000,
      500,
    )
    const [r, s] = report as [HolePunchReport, HolePunchReport]
    expect(r.failed + s.failed).toBeGreaterThan(0)
    expect(r.succeeded + s.succeeded).toBe(0)
    console.log(
      `nat: hole punching home ${JSON.stringify({ ...r, recent: undefined })}, submitter ${JSON.stringify({ ...s, recent: undefined })}`,
    )

    // Nobody holds a reservation on the home node: it offers no relay service.
    for (const a of [seed, submitter]) {
      expect(
        (await runtime(a)).addresses.some((x) => x.includes(`/p2p/${home.ready.peerId}/p2p-circuit`)),
      ).toBe(false)
    }
  })
})
