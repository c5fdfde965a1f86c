import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { balanceOf, historyOf, syncOn, verifyOn } from './ledger-helpers.ts'
import { tcpAddr } from './mesh-helpers.ts'
import { expectMeshed, sleepTask, startNode } from './routing-helpers.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

/**
 * kill -9 in the middle of a settlement: a coordinator (sub) sends sandbox tasks to the one
 * worker (exe); one side is killed the moment the submitter has the result, then restarted.
 */
const TOKEN = 'ledger-crash-mesh-token-0123456789'
const ARGS = ['--mesh-token', TOKEN, '--credit-line', '100']

let sub: AgentProcess
let exe: AgentProcess

beforeAll(async () => {
  sub = await startNode('coordinator', ARGS)
  exe = await startNode('worker', [...ARGS, '--bootstrap', tcpAddr(sub)])
  await expectMeshed([sub, exe])
}, 120_000)

afterAll(cleanupAgents)

async function restart(a: AgentProcess, mode: 'coordinator' | 'worker'): Promise<AgentProcess> {
  const boot = mode === 'worker' ? ['--bootstrap', tcpAddr(sub)] : []
  return startNode(mode, [...ARGS, ...boot], { dataDir: a.dataDir })
}

/** The task's pair exists once on each side and both sides count it; then the two chains agree. */
async function expectSettledOnce(taskId: string): Promise<void> {
  const entries = async (a: AgentProcess) =>
    (await historyOf(a, '?limit=500')).entries.filter((e) => e.taskId === taskId)
  const both = async () =>
    (await entries(sub)).some((e) => e.state === 'settled') &&
    (await entries(exe)).some((e) => e.state === 'settled')
  await waitFor(both, 60_000, 100).catch(async (err) => {
    throw new Error(
      `${(err as Error).message}\nsub: ${JSON.stringify(await entries(sub))}\nexe: ${JSON.stringify(await entries(exe))}\n${exe.stderr().slice(-4000)}`,
    )
  })
  const [onSub, onExe] = [await entries(sub), await entries(exe)]
  expect(onSub).toHaveLength(1)
  expect(onExe).toHaveLength(1)
  expect(onSub[0]).toMatchObject({ direction: 'out', credits: onExe[0]!.credits })
  expect(onExe[0]!.direction).toBe('in')
  const [bs, be] = [await balanceOf(sub), await balanceOf(exe)]
  expect(bs.balance + be.balance).toBe(0)
  expect(bs.pendingOut + be.pendingIn).toBe(0)
  expect((await syncOn(sub, exe.ready.peerId)).valid).toBe(true)
  expect((await syncOn(exe, sub.ready.peerId)).valid).toBe(true)
  expect((await verifyOn(sub)).problems).toEqual([])
  expect((await verifyOn(exe)).problems).toEqual([])
}

describe('settlement survives kill -9', () => {
  it('of the executor, restarted on its data dir', async () => {
    const id = await submitOk(sub, sleepTask(0.2, 'k1'))
    expect((await waitForStatus(sub, id, undefined, 60_000)).status).toBe('succeeded')
    await exe.stop('SIGKILL')
    exe = await restart(exe, 'worker')
    await expectMeshed([sub, exe], 60_000)
    await expectSettledOnce(id)
  })

  it('of the submitter, restarted on its data dir', async () => {
    const id = await submitOk(sub, sleepTask(0.2, 'k2'))
    expect((await waitForStatus(sub, id, undefined, 60_000)).status).toBe('succeeded')
    await sub.stop('SIGKILL')
    sub = await restart(sub, 'coordinator')
    // The worker finds the submitter again through its own dial-back; the mesh re-forms.
    await expectMeshed([sub, exe], 60_000)
    await expectSettledOnce(id)
  })
})
