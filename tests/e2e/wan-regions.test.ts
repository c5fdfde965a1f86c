import type {
  ChainView,
  CreditBalance,
  LedgerVerifyReport,
  MeshPeer,
  RuntimeHealth,
  TaskRecord,
} from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { NetLab, type NsAgent } from './netns.ts'

/**
 * Three regions on a simulated WAN (tier 2): each a network namespace with a public address,
 * joined by links with 50 ms one way and 20 Mbit/s per direction (scripts/e2e/wan-link.py).
 *
 *   eu 203.0.113.1: the seed (its API serves the discovery URL)
 *   us 203.0.113.2: the only node with a model
 *   ap 203.0.113.3: a newcomer that knows nothing but the discovery URL
 */
const ONE_WAY_MS = 50
const MODEL_PATH = testModelPath()
const MODEL = 'gemma-3-270m-Q4_K_M'
const MESH_TOKEN = 'wan-regions-test-token-0123456789'
const lab = new NetLab()
let seed: NsAgent
let us: NsAgent
let ap: NsAgent
let apNs: string
const all = () => [seed, us, ap]

const peersOf = async (a: AgentProcess) =>
  ((await (await a.api('/mesh/peers')).json()) as { peers: MeshPeer[] }).peers
const p2pAddr = (a: AgentProcess, ip: string) =>
  a.ready.p2pAddrs.find((x) => x.startsWith(`/ip4/${ip}/tcp/`) && !x.includes('/ws'))

beforeAll(async () => {
  const eu = lab.ns('eu')
  const usNs = lab.ns('us')
  apNs = lab.ns('ap')
  await lab.wan({ [eu]: '203.0.113.1', [usNs]: '203.0.113.2', [apNs]: '203.0.113.3' }, ONE_WAY_MS)
  // A private mesh: its members have credit lines, so the task below settles across regions.
  const common = ['--p2p-host', '0.0.0.0', '--advert-interval-ms', '1000', '--mesh-token', MESH_TOKEN]
  seed = await lab.agent(eu, { args: [...common, '--api-host', '0.0.0.0', '--region', 'eu-west'] })
  const seedAddr = p2pAddr(seed, '203.0.113.1')
  expect(seedAddr, seed.ready.p2pAddrs.join(' ')).toBeDefined()
  us = await lab.agent(usNs, {
    args: [...common, '--bootstrap', seedAddr!, '--region', 'us-east'].concat([
      '--model',
      MODEL_PATH,
      '--provider',
      'embedded',
      '--llama-threads',
      '1',
    ]),
  })
  ap = await lab.agent(apNs, {
    args: [...common, '--discovery-url', `http://203.0.113.1:${seed.nsApiPort}`, '--region', 'ap-south'],
  })
}, 180_000)

afterAll(async () => {
  await cleanupAgents()
  lab.close()
})

describe('three regions over a 50 ms WAN', () => {
  it('has the latency it claims', () => {
    const rtt = lab.pingMs(apNs, '203.0.113.1')
    expect(rtt).toBeGreaterThanOrEqual(2 * ONE_WAY_MS)
    console.log(`wan: ap -> eu round trip ${rtt.toFixed(1)} ms`)
  })

  it('lets a newcomer find the mesh through the discovery URL alone', async () => {
    await waitFor(
      async () => {
        const ids = (await peersOf(ap)).filter((p) => p.state === 'online').map((p) => p.peerId)
        return ids.includes(seed.ready.peerId) && ids.includes(us.ready.peerId)
      },
      60_000,
      250,
    )
  })

  it('runs a task that needs a model in the only region that has one', async () => {
    await waitFor(
      async () => (await peersOf(ap)).some((p) => p.models.some((m) => m.name === MODEL)),
      60_000,
      250,
    )
    const res = await ap.api('/tasks', {
      method: 'POST',
      json: {
        kind: 'chat',
        messages: [{ role: 'user', content: 'Say hello.' }],
        maxTokens: 8,
        temperature: 0,
      },
    })
    expect(res.status, await res.clone().text()).toBe(202)
    const { id } = (await res.json()) as { id: string }
    const t = (await waitFor(
      async () => {
        const r = (await (await ap.api(`/tasks/${id}`)).json()) as TaskRecord
        return r.status === 'succeeded' || r.status === 'failed' ? r : null
      },
      120_000,
      250,
    )) as TaskRecord
    expect(t.status, JSON.stringify(t.route)).toBe('succeeded')
    expect(t.executor).toMatchObject({ peerId: us.ready.peerId, local: false })
    expect(t.result?.text?.length ?? 0).toBeGreaterThan(0)
  })

  it('spreads an advert change to every region well within its lifetime', async () => {
    const started = Date.now()
    const res = await us.api('/orchestration/settings', { method: 'PUT', json: { region: 'us-west' } })
    expect(res.status, await res.clone().text()).toBe(200)
    const seen = await Promise.all(
      [seed, ap].map((a) =>
        waitFor(
          async () =>
            (await peersOf(a)).find((p) => p.peerId === us.ready.peerId)?.region === 'us-west'
              ? Date.now()
              : 0,
          30_000,
          20,
        ),
      ),
    )
    const worst = Math.max(...seen) - started
    console.log(`wan: an advert change reached both other regions in ${worst} ms (one way ${ONE_WAY_MS} ms)`)
    // Adverts live 60 s (maxAdvertAgeMs); one that takes a large part of it is as good as lost.
    expect(worst).toBeLessThan(10_000)
  })

  it('serves the private DHT in every region, each node knowing the other regions as DHT servers', async () => {
    // Public addresses on an open mesh: every node serves; libp2p's own rule would have left
    // these (documentation-range) addresses in client mode, with no DHT server anywhere.
    for (const a of all()) {
      const rt = await waitFor(
        async () => {
          const r = (await (await a.api('/health/runtime')).json()) as RuntimeHealth
          return r.dht !== null && r.dht.routingTable >= 2 ? r : null
        },
        30_000,
        250,
      )
      expect(rt!.dht).toMatchObject({ mode: 'server' })
    }
  })

  it('settles the task across regions: every chain validates and agrees everywhere, credits are conserved', async () => {
    // The submitter's agreement completes the pair; then every region follows both chains.
    await waitFor(
      async () => ((await (await ap.api('/credits/balance')).json()) as CreditBalance).spent > 0,
      60_000,
      250,
    )
    const apBalance = (await (await ap.api('/credits/balance')).json()) as CreditBalance
    const heads = async (a: NsAgent) => {
      const report = (await (await a.api('/credits/verify')).json()) as LedgerVerifyReport
      if (!report.ok) throw new Error(`chains invalid on ${a.ready.peerId}: ${JSON.stringify(report)}`)
      const of = (id: string) => report.chains.find((c) => c.peerId === id)
      return { report, ap: of(ap.ready.peerId), us: of(us.ready.peerId) }
    }
    // Views agree once quiet: each region holds both parties' chains at the same length.
    await waitFor(
      async () => {
        const views = await Promise.all(all().map(heads))
        const lengths = views.map((v) => `${v.ap?.validLength}/${v.us?.validLength}`)
        return new Set(lengths).size === 1 && views[0]!.ap !== undefined && views[0]!.us !== undefined
      },
      60_000,
      500,
    )
    const views = await Promise.all(all().map(heads))
    for (const v of views) {
      expect(v.report.offenders).toEqual([])
      // No grants here: the balances of all chains sum to zero (mutual credit, nothing minted).
      expect(v.report.totals.balances).toBe(v.report.totals.grants)
      expect(v.ap!.balance).toBe(-apBalance.spent)
      expect(v.us!.balance).toBe(apBalance.spent)
    }
    console.log(`wan: the task settled ${apBalance.spent} credits from ap to us; all three regions agree`)
  })

  it('refuses a ledger block captured in one region and replayed in another', async () => {
    const chain = (await (await ap.api(`/credits/chain/${ap.ready.peerId}`)).json()) as ChainView
    const agreement = chain.blocks.find((b) => b.tx.type === 'agreement')
    expect(agreement).toBeDefined()
    const balances = async () =>
      Promise.all(
        all().map(async (a) => ((await (await a.api('/credits/balance')).json()) as CreditBalance).balance),
      )
    const before = await balances()
    // To a node of another region that is no party to it: refused.
    const res = await seed.api('/credits/agreements', { method: 'POST', json: agreement })
    expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(400)
    // To the proposer in another region, and to its own node again: it already counts, and
    // answering with the block it holds is all a replay gets (the pair is counted once).
    for (const target of [us, ap])
      await target.api('/credits/agreements', { method: 'POST', json: agreement })
    expect(await balances()).toEqual(before)
  })

  it('keeps every region in every table', async () => {
    for (const a of all()) {
      const others = all()
        .filter((o) => o !== a)
        .map((o) => o.ready.peerId)
      const online = (await peersOf(a)).filter((p) => p.state === 'online').map((p) => p.peerId)
      expect(online.sort()).toEqual(others.sort())
    }
  })
})
