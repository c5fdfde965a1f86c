import { cpSync, rmSync } from 'node:fs'
import { type Block, makeProposal, signBlock, type TransferTx } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, tempDataDir, waitFor } from './harness.ts'
import {
  balanceOf,
  chainOn,
  historyOf,
  settled,
  syncOn,
  type TestPortal,
  testPortal,
  verifyOn,
} from './ledger-helpers.ts'
import { collectEvents, peersOf, tcpAddr } from './mesh-helpers.ts'
import { expectMeshed, sleepTask, startNode } from './routing-helpers.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

/**
 * Credits across five real agents in a private mesh: two coordinators that submit (c1, c2), two
 * workers that run sandbox tasks, and a worker (m) that alone has the test model. The test plays
 * the portal: it issues grants and agrees to a withdrawal.
 */
const MODEL_PATH = testModelPath()
const MODEL = 'gemma-3-270m-Q4_K_M'
const TOKEN = 'ledger-e2e-mesh-token-0123456789'

let portal: TestPortal
let c1: AgentProcess
let c2: AgentProcess
let m: AgentProcess
let workers: AgentProcess[] = []
/** The flags each agent was started with, to restart it on its data dir. */
const argsOf = new Map<AgentProcess, string[]>()
const all = () => [c1, c2, m, ...workers]
let boot: string[] = []
const granted = { total: 0 }
// biome-ignore lint/suspicious/noExplicitAny: response bodies read in assertions
type Json = any

beforeAll(async () => {
  portal = await testPortal()
  // The default task heartbeat: the routing tests' 500 ms calls a loaded core's pause (a model
  // loading on a busy machine) a stall, which is not what these tests are about.
  const common = [
    '--mesh-token',
    TOKEN,
    '--grant-key',
    portal.grantKey,
    '--credit-line',
    '50',
    '--task-heartbeat-ms',
    '2000',
  ]
  c1 = await startNode('coordinator', common)
  boot = [...common, '--bootstrap', tcpAddr(c1)]
  const modelArgs = [...boot, '--model', MODEL_PATH, '--provider', 'embedded', '--llama-threads', '1']
  ;[c2, m, ...workers] = await Promise.all([
    startNode('coordinator', boot),
    startNode('worker', modelArgs),
    startNode('worker', boot),
    startNode('worker', boot),
  ])
  argsOf.set(c2, ['coordinator', ...boot])
  argsOf.set(m, ['worker', ...modelArgs])
  for (const w of workers) argsOf.set(w, ['worker', ...boot])
  await expectMeshed(all(), 60_000).catch((err: Error) => {
    const noisy = (l: string) => l.includes('"level":40') || l.includes('"level":50')
    throw new Error(`${err.message}\n${c1.stderr().split('\n').filter(noisy).slice(-20).join('\n')}`)
  })
  await waitFor(async () => (await peersOf(c1)).some((p) => p.models.some((x) => x.name === MODEL)), 20_000)
}, 120_000)

afterAll(cleanupAgents)

describe('credits across five agents', () => {
  it('starts every node at zero with no placeholder in /status and /health/runtime', async () => {
    for (const a of all()) {
      const status = (await (await a.api('/status')).json()) as Record<string, unknown>
      expect(status.earnings).toEqual({ credits: 0, earned: 0, spent: 0 })
      const runtime = (await (await a.api('/health/runtime')).json()) as Record<string, unknown>
      expect(runtime.earnings).toEqual({ credits: 0, earned: 0, spent: 0 })
    }
  })

  it('applies a grant signed by the grant key once, and refuses forged ones', async () => {
    const cert = await portal.grant(c1, 200)
    const first = await c1.api('/credits/grants', { method: 'POST', json: cert })
    expect(first.status).toBe(201)
    const replay = await c1.api('/credits/grants', { method: 'POST', json: cert })
    expect(replay.status).toBe(200)
    expect(((await replay.json()) as Json).block).toEqual(((await first.json()) as Json).block)
    granted.total += 200
    const forged = { ...cert, credits: 2000 }
    const r = await c1.api('/credits/grants', { method: 'POST', json: forged })
    expect(r.status).toBe(403)
    expect(((await r.json()) as Json).error.code).toBe('forged')
    const bad = await c1.api('/credits/grants', {
      method: 'POST',
      body: '{"type":',
      headers: { 'content-type': 'application/json' },
    })
    expect(bad.status).toBe(400)
    expect((await balanceOf(c1)).balance).toBe(200)
  })

  it('settles sandbox tasks and a peer-served chat; the submitter pays what it saw', async () => {
    const events = collectEvents(c2)
    await events.ready
    const ids = await Promise.all([submitOk(c1, sleepTask(0.3, 'a')), submitOk(c2, sleepTask(0.3, 'b'))])
    for (const [i, id] of ids.entries()) {
      const t = await waitForStatus([c1, c2][i]!, id, undefined, 60_000)
      expect(t.status).toBe('succeeded')
      expect(t.executor?.local).toBe(false)
    }
    const chat = await c2.api('/v1/chat/completions', {
      method: 'POST',
      json: {
        model: MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        max_tokens: 24,
        temperature: 0,
      },
    })
    expect(chat.status, await chat.clone().text()).toBe(200)
    await waitFor(async () => (await Promise.all(all().map(settled))).every(Boolean), 30_000, 100)
    const h2 = await historyOf(c2)
    const chatEntry = h2.entries.find((e) => e.kind === 'chat')
    expect(chatEntry).toMatchObject({ direction: 'out', state: 'settled', counterparty: m.ready.peerId })
    expect(chatEntry!.usage!.tokens).toBeGreaterThan(0)
    expect(chatEntry!.usage!.tokens).toBeLessThanOrEqual(24)
    const taskEntry = h2.entries.find((e) => e.kind === 'task')
    expect(taskEntry).toMatchObject({ direction: 'out', state: 'settled' })
    expect(taskEntry!.usage!.cpuMs).toBeGreaterThan(0)
    await waitFor(() => events.events.some((e) => e.type === 'settlement'), 10_000)
    events.close()
    // The executor's side of the chat: the same task, the same credits, in.
    const hm = await historyOf(m)
    expect(hm.entries.find((e) => e.taskId === chatEntry!.taskId)).toMatchObject({
      direction: 'in',
      state: 'settled',
      credits: chatEntry!.credits,
      counterparty: c2.ready.peerId,
    })
    const mb = await balanceOf(m)
    expect(mb.earned).toBe(hm.entries.filter((e) => e.direction === 'in').reduce((n, e) => n + e.credits, 0))
    const metrics = await (await m.api('/metrics')).text()
    expect(metrics).toMatch(
      new RegExp(`edgecoder_credits_earned_total\\{kind="chat"\\} ${chatEntry!.credits}`),
    )
  })

  it('withdraws to the portal: the proposal counts once the portal agrees', async () => {
    const res = await c1.api('/credits/transfers', {
      method: 'POST',
      json: { to: portal.peerId, credits: 30, memo: 'withdrawal w-1' },
    })
    expect(res.status).toBe(201)
    const { proposal } = (await res.json()) as { proposal: Block }
    const before = await balanceOf(c1)
    expect(before.pendingOut).toBe(30)
    // c2 follows c1's head and holds the proposal open; the agreement will not move that head,
    // so c2 must learn of it from the open count in c1's adverts (checked in the next test).
    await waitFor(async () => {
      const view = await chainOn(c2, c1.ready.peerId)
      return view.contiguous === proposal.seq && view.pending === 1
    }, 30_000)
    const agreement = await portal.agree(proposal)
    const ingest = await c1.api('/credits/agreements', { method: 'POST', json: agreement })
    expect(ingest.status).toBe(200)
    granted.total -= 30
    const after = await balanceOf(c1)
    expect(after.balance).toBe(before.balance - 30)
    expect(after.pendingOut).toBe(0)
    // An agreement to a proposal that doesn't exist, and a replayed one, change nothing.
    const ghost = await portal.agree({ ...proposal, seq: proposal.seq + 50 })
    const r = await c1.api('/credits/agreements', { method: 'POST', json: ghost })
    expect(r.status).toBe(404)
    const again = await c1.api('/credits/agreements', { method: 'POST', json: agreement })
    expect(again.status).toBe(200)
    expect((await balanceOf(c1)).balance).toBe(after.balance)
  })

  it('refuses a transfer beyond balance and credit line', async () => {
    const r = await c2.api('/credits/transfers', {
      method: 'POST',
      json: { to: portal.peerId, credits: 100_000 },
    })
    expect(r.status).toBe(409)
    expect(((await r.json()) as Json).error.code).toBe('credit_line')
  })

  it('agrees on every chain from every node once adverts carried the heads, and conserves credits', async () => {
    // No explicit fetch: each node follows the chain heads in its peers' adverts, and the
    // other halves of the pairs in them (the portal's agreement to the withdrawal included).
    const converged = async () => {
      for (const b of all()) {
        const length = (await balanceOf(b)).chainLength
        for (const a of all()) {
          const view = await chainOn(a, b.ready.peerId)
          if (view.contiguous !== length || view.pending !== 0 || view.unresolved !== 0) return false
        }
      }
      return true
    }
    await waitFor(converged, 60_000, 250)
    const balances = new Map<string, number>()
    for (const a of all()) {
      const report = await verifyOn(a)
      expect(report.problems).toEqual([])
      expect(report.ok).toBe(true)
      for (const b of all()) {
        const view = await chainOn(a, b.ready.peerId)
        const own = await balanceOf(b)
        expect(view.valid).toBe(true)
        expect(view.contiguous).toBe(own.chainLength)
        expect(view.balance).toBe(own.balance)
        balances.set(b.ready.peerId, own.balance)
      }
    }
    const sum = [...balances.values()].reduce((x, y) => x + y, 0)
    expect(sum).toBe(granted.total)
  })

  it('refuses a forged block pushed as an agreement', async () => {
    const { proposal } = (await (
      await c1.api('/credits/transfers', { method: 'POST', json: { to: portal.peerId, credits: 1 } })
    ).json()) as { proposal: Block }
    const forged = await signBlock(
      {
        ...(await portal.agree(proposal)),
        signature: undefined,
      } as never,
      (await testPortal()).key,
    )
    const r = await c1.api('/credits/agreements', { method: 'POST', json: forged })
    expect(r.status).toBe(403)
    // A block in c1's own chain, signed by another key, is no agreement either.
    const fake = await signBlock(
      makeProposal(c1.ready.peerId, null, proposal.tx as TransferTx, Date.now()),
      portal.key,
    )
    expect((await c1.api('/credits/agreements', { method: 'POST', json: fake })).status).toBe(400)
  })

  it('spreads proof of a forked chain and every node refuses the offender', async () => {
    const offender = workers[1]!
    await offender.stop()
    const snapshot = tempDataDir('edgecoder-fork-')
    cpSync(offender.dataDir, snapshot, { recursive: true })
    let forked = await restart(offender)
    const pay = (a: AgentProcess, memo: string) =>
      a.api('/credits/transfers', { method: 'POST', json: { to: portal.peerId, credits: 1, memo } })
    expect((await pay(forked, 'first')).status).toBe(201)
    await syncOn(c1, forked.ready.peerId)
    // Restored from an old copy, the node signs another block at the same seq.
    await forked.stop()
    rmSync(forked.dataDir, { recursive: true, force: true })
    cpSync(snapshot, forked.dataDir, { recursive: true })
    forked = await restart(forked)
    expect((await pay(forked, 'second')).status).toBe(201)
    await syncOn(c1, forked.ready.peerId)
    const honest = all().filter((x) => x !== forked)
    for (const a of honest)
      await waitFor(async () => (await verifyOn(a)).offenders.includes(forked.ready.peerId), 20_000)
    // Its gossip is scored down below the graylist (-80) by every node that still hears it.
    const scoreOn = async (a: AgentProcess) =>
      ((await (await a.api('/mesh/stats')).json()) as { scores: Record<string, number> }).scores[
        forked.ready.peerId
      ]
    await waitFor(async () => {
      const scores = await Promise.all(honest.map(scoreOn))
      const heard = scores.filter((x) => x !== undefined)
      return heard.length > 0 && heard.every((x) => x < -80)
    }, 20_000)
    // The offender's tasks are declined: it offers to nobody, so ask its quote from the other side.
    for (let i = 0; i < 3; i++) {
      const id = await submitOk(c2, sleepTask(0.05, `after-${i}`))
      const t = await waitForStatus(c2, id, undefined, 60_000)
      expect(t.executor?.peerId).not.toBe(forked.ready.peerId)
    }
  })
})

/** Restarts an agent on its data dir with the flags it had. */
async function restart(a: AgentProcess): Promise<AgentProcess> {
  const [mode, ...args] = argsOf.get(a)!
  const next = await startNode(mode as 'worker', args, { dataDir: a.dataDir })
  argsOf.set(next, [mode!, ...args])
  for (const list of [workers]) {
    const i = list.indexOf(a)
    if (i >= 0) list[i] = next
  }
  if (a === m) m = next
  if (a === c2) c2 = next
  await expectMeshed(all(), 60_000)
  return next
}
