import type { MeshPeerDetail, TaskRecord } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { balanceOf, historyOf, settled, syncOn, verifyOn } from './ledger-helpers.ts'
import { peersOf } from './mesh-helpers.ts'
import { NetLab } from './netns.ts'

/**
 * Multi-hop settlement: a private mesh whose submitter and worker sit behind NAT routers that drop
 * whatever arrives unasked, so every task stream goes through the seed's circuit relay. The
 * submitter pays the worker for the work and the relay for carrying it; credits are conserved.
 *
 *   seed 198.51.100.2 (relay) ── inet ─┬─ router (NAT) ── 10.87.0.2 worker
 *                                      └─ router (NAT) ── 10.88.0.2 submitter
 */
const lab = new NetLab()
const TOKEN = 'relay-fees-mesh-token-0123456789'
let seed: AgentProcess
let worker: AgentProcess
let submitter: AgentProcess
const all = () => [seed, worker, submitter]

beforeAll(async () => {
  const {
    seed: seedNs,
    homes: [workerNs, subNs],
  } = lab.natInternet(['work', 'sub'], [87, 88])

  const common = ['--p2p-host', '0.0.0.0', '--advert-interval-ms', '1000', '--mesh-token', TOKEN]
  seed = await lab.agent(seedNs, {
    args: [...common, '--mode', 'coordinator', '--relay-price-per-cpu-second', '2'],
  })
  const seedAddr = NetLab.seedAddr(seed)
  worker = await lab.agent(workerNs, {
    args: [...common, '--bootstrap', seedAddr, '--max-concurrent-tasks', '4'],
  })
  submitter = await lab.agent(subNs, { args: [...common, '--bootstrap', seedAddr, '--mode', 'coordinator'] })
  // The submitter knows the worker by its relayed address, and the seed's relay fee from its advert.
  await waitFor(
    async () =>
      (await peersOf(submitter)).find(
        (p) => p.peerId === worker.ready.peerId && p.addrs.some((a) => a.includes('/p2p-circuit')),
      ),
    60_000,
    200,
  )
}, 150_000)

afterAll(async () => {
  await cleanupAgents()
  lab.close()
})

describe('fees of a relay that carried the work', () => {
  it('pays the worker and the relay, each its own fee, and every chain agrees', async () => {
    const detail = async (id: string) => {
      const res = await submitter.api(`/agent-mesh/peers/${id}`)
      return res.status === 200 ? ((await res.json()) as MeshPeerDetail) : null
    }
    const seedPeer = await waitFor(() => detail(seed.ready.peerId), 30_000, 200)
    expect(seedPeer!.advert.body.relayPrice).toEqual({ perKTokens: 1, perCpuSecond: 2 })
    // A node behind NAT relays nothing, and says no fee.
    const workerPeer = await waitFor(() => detail(worker.ready.peerId), 30_000, 200)
    expect(workerPeer!.advert.body.relayPrice ?? null).toBeNull()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await submitter.api('/tasks', {
        method: 'POST',
        // Enough CPU for a sandbox time well above a millisecond.
        json: { kind: 'run', language: 'python', code: `print(sum(range(${300_000 + i})))` },
      })
      expect(res.status, await res.clone().text()).toBe(202)
      ids.push(((await res.json()) as { id: string }).id)
    }
    const records = (await Promise.all(
      ids.map((id) =>
        waitFor(
          async () => {
            const t = (await (await submitter.api(`/tasks/${id}`)).json()) as TaskRecord
            return t.status === 'succeeded' || t.status === 'failed' ? t : null
          },
          90_000,
          200,
        ),
      ),
    )) as TaskRecord[]
    for (const t of records) {
      expect(t.status, JSON.stringify(t.route)).toBe('succeeded')
      expect(t.executor?.peerId).toBe(worker.ready.peerId)
    }
    const relayed = records.filter((t) =>
      t.route.some((h) => h.event === 'accepted' && h.via === seed.ready.peerId),
    )
    expect(relayed.length).toBeGreaterThan(0)

    await waitFor(async () => (await Promise.all(all().map(settled))).every(Boolean), 60_000, 200)
    // Every relayed task paid the relay once, and its fee is the relay's rate on the work's usage.
    await waitFor(
      async () => (await historyOf(seed)).entries.filter((e) => e.kind === 'hop').length >= relayed.length,
      60_000,
      200,
    )
    const subHistory = await historyOf(submitter)
    const seedHistory = await historyOf(seed)
    for (const t of relayed) {
      const work = subHistory.entries.find((e) => e.kind === 'task' && e.taskId === t.id)
      const hop = subHistory.entries.find((e) => e.kind === 'hop' && e.taskId === t.id)
      expect(work, JSON.stringify(subHistory.entries)).toMatchObject({
        direction: 'out',
        state: 'settled',
        counterparty: worker.ready.peerId,
      })
      expect(hop).toMatchObject({ direction: 'out', state: 'settled', counterparty: seed.ready.peerId })
      expect(hop!.usage).toEqual(work!.usage)
      expect(hop!.credits).toBe(Math.ceil((work!.usage!.cpuMs * 2 + work!.usage!.tokens) / 1000))
      expect(seedHistory.entries.filter((e) => e.kind === 'hop' && e.taskId === t.id)).toHaveLength(1)
    }
    const [rb, wb, sb] = await Promise.all(all().map(balanceOf))
    expect(rb!.balance).toBeGreaterThan(0)
    expect(wb!.balance).toBeGreaterThan(0)
    expect(sb!.balance + wb!.balance + rb!.balance).toBe(0)
    console.log(
      `relay fees: ${relayed.length} relayed tasks; submitter ${sb!.balance}, worker ${wb!.balance}, relay ${rb!.balance}`,
    )

    // Every node holds and validates every chain, and all views agree.
    for (const a of all())
      for (const b of all()) if (a !== b) expect((await syncOn(a, b.ready.peerId)).valid).toBe(true)
    const reports = await Promise.all(all().map(verifyOn))
    for (const r of reports) {
      expect(r.ok, JSON.stringify(r.problems)).toBe(true)
      expect(r.totals.balances).toBe(0)
      const of = (id: string) => r.chains.find((c) => c.peerId === id)?.balance
      expect(of(seed.ready.peerId)).toBe(rb!.balance)
      expect(of(worker.ready.peerId)).toBe(wb!.balance)
      expect(of(submitter.ready.peerId)).toBe(sb!.balance)
    }
  })
})
