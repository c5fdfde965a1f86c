import type { TaskRecord } from '@edgecoder/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { tcpAddr } from './mesh-helpers.ts'
import { allTasks, expectMeshed, sleepTask, startNode } from './routing-helpers.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

afterAll(cleanupAgents)

describe('the peer pool', () => {
  it('gives fresh identities flooding offers no more than the pool, and the local user’s task still runs', async () => {
    // Two slots: peers may run on one and keep four waiting, whatever number of keys they use.
    const executor = await startNode('all-in-one', ['--max-concurrent-tasks', '2'])
    const floods: AgentProcess[] = await Promise.all(
      Array.from({ length: 4 }, () => startNode('coordinator', ['--bootstrap', tcpAddr(executor)])),
    )
    await expectMeshed([executor, ...floods], 40_000)
    await Promise.all(
      floods.flatMap((f, i) =>
        Array.from({ length: 4 }, (_, j) =>
          submitOk(f, sleepTask(30, `flood-${i}-${j}`, { submitter: `f${i}` })),
        ),
      ),
    )
    const adopted = async (): Promise<TaskRecord[]> => (await allTasks(executor)).filter((t) => t.origin)
    // Every flood node offered; the executor took what its pool holds and declined the rest.
    await waitFor(async () => ((await adopted()).length >= 5 ? true : undefined), 60_000, 200)
    const held = await adopted()
    expect(held.filter((t) => t.status === 'running')).toHaveLength(1)
    expect(held.filter((t) => t.status === 'queued')).toHaveLength(4)
    expect(new Set(held.map((t) => t.origin!.peerId)).size).toBeGreaterThan(1)

    const mine = await submitOk(executor, { kind: 'run', language: 'python', code: 'print("mine")' })
    const done = await waitForStatus(executor, mine, undefined, 60_000)
    expect(done.status).toBe('succeeded')
    expect(done.executor?.local).toBe(true)
    // Still no more than the pool, now that offers have been retried for a while.
    const after = await adopted()
    expect(after.filter((t) => t.status === 'running' || t.status === 'queued').length).toBeLessThanOrEqual(5)
  }, 240_000)
})
