import { dirname } from 'node:path'
import type { RuntimeHealth } from '@edgecoder/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents } from './harness.ts'
import { tcpAddr } from './mesh-helpers.ts'
import { awaitHop, expectMeshed, startNode } from './routing-helpers.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

/** A machine without bubblewrap: the agent finds no OS confinement for its sandbox. */
const WITHOUT_BWRAP = { PATH: dirname(process.execPath) }

const runtime = async (a: AgentProcess) => (await (await a.api('/health/runtime')).json()) as RuntimeHealth

afterAll(cleanupAgents)

describe('a sandbox without OS confinement', () => {
  it('is said at start and in /health/runtime; peers’ run tasks are declined, the user’s still run', async () => {
    const executor = await startNode('all-in-one', [], { env: WITHOUT_BWRAP })
    expect(executor.stderr()).toMatch(/sandbox NOT confined by the OS: peers’ run and code tasks are refused/)
    expect((await runtime(executor)).sandbox).toMatchObject({
      mechanism: 'none',
      confined: false,
      peerCodeAllowed: false,
    })
    expect((await runtime(executor)).sandbox?.detail).toMatch(/bubblewrap/)
    const own = await waitForStatus(
      executor,
      await submitOk(executor, { kind: 'run', language: 'javascript', code: 'print(1)' }),
      undefined,
      60_000,
    )
    expect(own.status).toBe('succeeded')

    const peer = await startNode('coordinator', ['--bootstrap', tcpAddr(executor)])
    await expectMeshed([executor, peer])
    const id = await submitOk(peer, { kind: 'run', language: 'javascript', code: 'print(1)' })
    const declined = await awaitHop(peer, id, 'declined', 1, 60_000)
    expect(JSON.stringify(declined.route)).toMatch(/no OS confinement/)
  }, 180_000)

  it('runs peers’ code anyway when the operator opts in with --allow-unconfined-sandbox', async () => {
    const executor = await startNode('all-in-one', ['--allow-unconfined-sandbox'], { env: WITHOUT_BWRAP })
    expect(executor.stderr()).toMatch(/sandbox NOT confined by the OS; peers’ code runs anyway/)
    expect((await runtime(executor)).sandbox).toMatchObject({ confined: false, peerCodeAllowed: true })
    const peer = await startNode('coordinator', ['--bootstrap', tcpAddr(executor)])
    await expectMeshed([executor, peer])
    const task = await waitForStatus(
      peer,
      await submitOk(peer, { kind: 'run', language: 'javascript', code: 'print(1)' }),
      undefined,
      60_000,
    )
    expect(task.status).toBe('succeeded')
    expect(task.executor?.peerId).toBe(executor.ready.peerId)
  }, 180_000)
})
