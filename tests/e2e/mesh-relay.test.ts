import type { MeshPeer, RuntimeHealth } from '@edgecoder/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { describeTables, fullyMeshed, peersOf, startMeshAgent, tcpAddr } from './mesh-helpers.ts'

afterAll(cleanupAgents)

const runtime = async (a: AgentProcess) => (await (await a.api('/health/runtime')).json()) as RuntimeHealth

describe('circuit relay', () => {
  it('holds a reservation on a relay and admits a node that knows it only by its relayed address', async () => {
    // On loopback no address is public, so the relay service is switched on by hand.
    const seed = await startMeshAgent(['--relay-service', 'on'])
    const hidden = await startMeshAgent(['--bootstrap', tcpAddr(seed)])
    // The node takes a reservation on the peer it joined through and advertises the relayed address.
    const relayed = await waitFor(
      async () => {
        const rt = await runtime(hidden)
        const viaSeed = rt.addresses.find(
          (a) =>
            a.includes(`/p2p/${seed.ready.peerId}/p2p-circuit/`) &&
            a.startsWith('/ip4/') &&
            !a.includes('/ws'),
        )
        return rt.relayReservations >= 1 ? viaSeed : undefined
      },
      15_000,
      200,
    )

    // A newcomer told only the relayed address reaches the node through the seed, then finds the rest.
    // (On loopback nothing stops a direct dial afterwards: this shows the relay works, not a real NAT.)
    const newcomer = await startMeshAgent(['--bootstrap', relayed!])
    const mesh = [seed, hidden, newcomer]
    await waitFor(() => fullyMeshed(mesh), 15_000, 200).catch(async () => {
      throw new Error(`not meshed through the relay:\n${await describeTables(mesh)}`)
    })
    // On loopback DCUtR can upgrade the relayed connection to a direct one (the relayed one closes
    // as the direct one takes over, so for a moment the table may show neither): a link settles.
    const link = (await waitFor(
      async () => {
        const p = (await peersOf(newcomer)).find((x) => x.peerId === hidden.ready.peerId)
        return p?.connection ? p : undefined
      },
      15_000,
      100,
    )) as MeshPeer
    expect(['direct', 'relayed']).toContain(link.connection)
    // Hole punching was attempted on the relayed connection, and its outcome is reported.
    const punched = await waitFor(
      async () => {
        const reports = await Promise.all([hidden, newcomer].map(async (a) => (await runtime(a)).holePunch!))
        return reports.some((r) => r.attempted > 0 && r.pending === 0) ? reports : undefined
      },
      30_000,
      200,
    )
    console.log(`mesh: hole punching ${JSON.stringify(punched!.map(({ recent: _, ...r }) => r))}`)
    console.log(`mesh: newcomer reached the hidden node through the relay; connection now ${link.connection}`)
  })
})
