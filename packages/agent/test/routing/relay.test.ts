import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { TaskSpec } from '@edgecoder/protocol'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MeshHost } from '../../src/mesh/host.ts'
import { ExecutorNode, submitterNode, testHost } from './helpers.ts'

let relay: Awaited<ReturnType<typeof testHost>>
let executor: ExecutorNode
let submitter: Awaited<ReturnType<typeof submitterNode>>
let relayed = ''

beforeAll(async () => {
  relay = await testHost()
  // A node with no listening address of its own (as behind a NAT): only a relay reservation.
  const hidden = await createLibp2p({
    addresses: { listen: ['/p2p-circuit'] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  })
  await hidden.dial(relay.host.getMultiaddrs())
  const deadline = Date.now() + 10_000
  while (!relayed && Date.now() < deadline) {
    relayed =
      hidden
        .getMultiaddrs()
        .find((a) => a.toString().includes('/p2p-circuit'))
        ?.toString() ?? ''
    await new Promise((r) => setTimeout(r, 50))
  }
  executor = await new ExecutorNode().start(hidden as unknown as MeshHost)
  submitter = await submitterNode()
})
afterAll(async () => {
  await executor.stop()
  await submitter.host.stop()
  await relay.host.stop()
})

describe('a node reachable only through a relay', () => {
  it('still receives tasks: the stream goes through the relay, which the result names', async () => {
    expect(relayed).toContain(`/p2p/${relay.peerId}/p2p-circuit/p2p/${executor.peerId}`)
    const r = await submitter.client.run({
      peerId: executor.peerId,
      addrs: [relayed],
      taskId: 'behind-nat',
      attempt: 1,
      spec: TaskSpec.parse({ kind: 'run', language: 'python', code: 'PASS' }),
      signal: AbortSignal.timeout(15_000),
    })
    expect(r).toMatchObject({ status: 'succeeded', via: relay.peerId })
    expect(executor.engine.get(r.executorTaskId).origin?.taskId).toBe('behind-nat')
    const conns = submitter.host.getConnections(executor.host.peerId)
    expect(conns.every((c) => c.limits !== undefined)).toBe(true)
  })
})
