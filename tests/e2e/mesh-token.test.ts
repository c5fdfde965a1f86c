import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import {
  describeTables,
  fullyMeshed,
  heartbeatsPass,
  peersOf,
  startMeshAgent,
  statsOf,
  tcpAddr,
} from './mesh-helpers.ts'

const TOKEN_A = 'mesh-a-0123456789abcdef'
const TOKEN_B = 'mesh-b-0123456789abcdef'

afterAll(cleanupAgents)

async function expectMeshed(agents: AgentProcess[], withinMs = 10_000): Promise<void> {
  try {
    await waitFor(() => fullyMeshed(agents), withinMs, 100)
  } catch {
    throw new Error(`not meshed within ${withinMs} ms:\n${await describeTables(agents)}`)
  }
}

/** Peer ids `a` holds a libp2p connection to (its gossip scores are kept per connected peer). */
async function connectedTo(a: AgentProcess): Promise<string[]> {
  return Object.keys((await statsOf(a)).scores).sort()
}

describe('private meshes (mesh token)', () => {
  let a1: AgentProcess
  let a2: AgentProcess
  let b1: AgentProcess
  let b2: AgentProcess
  let open: AgentProcess

  // Started once for both tests; each test checks the state it needs before it acts, so the
  // second still says something when the first fails.
  beforeAll(async () => {
    a1 = await startMeshAgent(['--mesh-token', TOKEN_A])
    ;[a2, b1] = await Promise.all([
      startMeshAgent(['--mesh-token', TOKEN_A, '--bootstrap', tcpAddr(a1)]),
      // B's seed is told to join through A's: the handshake must fail.
      startMeshAgent(['--mesh-token', TOKEN_B, '--bootstrap', tcpAddr(a1)]),
    ])
    ;[b2, open] = await Promise.all([
      startMeshAgent(['--mesh-token', TOKEN_B, '--bootstrap', tcpAddr(b1), '--bootstrap', tcpAddr(a1)]),
      startMeshAgent(['--bootstrap', tcpAddr(a1), '--bootstrap', tcpAddr(b1)]),
    ])
  }, 120_000)

  it('keeps two meshes with different tokens, and a tokenless node, apart even when they dial each other', async () => {
    await expectMeshed([a1, a2])
    await expectMeshed([b1, b2])
    // Four heartbeats of gossip delivered within each mesh: time for anything that could leak
    // across (or reach the tokenless node) to have done so.
    await Promise.all([heartbeatsPass([a1, a2], 4), heartbeatsPass([b1, b2], 4)])
    const ids = (xs: AgentProcess[]) => xs.map((x) => x.ready.peerId).sort()
    expect((await peersOf(a1)).map((p) => p.peerId)).toEqual(ids([a2]))
    expect((await peersOf(a2)).map((p) => p.peerId)).toEqual(ids([a1]))
    expect((await peersOf(b1)).map((p) => p.peerId)).toEqual(ids([b2]))
    expect((await peersOf(b2)).map((p) => p.peerId)).toEqual(ids([b1]))
    expect(await peersOf(open)).toEqual([])
    expect(await connectedTo(a1)).toEqual(ids([a2]))
    expect(await connectedTo(b1)).toEqual(ids([b2]))
    expect(await connectedTo(open)).toEqual([])
  })

  it('moves a node to the other mesh when its token changes at run time', async () => {
    await expectMeshed([b1, b2])
    const res = await b2.api('/orchestration/settings', { method: 'PUT', json: { meshToken: TOKEN_A } })
    expect(res.status).toBe(200)
    // b2 restarts its host behind A's key and joins A through its bootstrap address.
    await expectMeshed([a1, a2, b2], 15_000)
    await waitFor(async () => (await peersOf(b1)).length === 0, 10_000, 100)
    expect(await connectedTo(b1)).toEqual([])
  })
})
