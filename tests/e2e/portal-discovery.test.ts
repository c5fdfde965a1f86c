import type { Coordinators } from '@edgecoder/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { startTestPortal, type TestPortal } from '../../packages/portal/test/helpers/portal.ts'
import { cleanupAgents, waitFor } from './harness.ts'
import { fullyMeshed, startMeshAgent } from './mesh-helpers.ts'

let portal: TestPortal | undefined
afterAll(async () => {
  await cleanupAgents()
  await portal?.stop()
})

const listOf = async (origin: string) =>
  ((await (await fetch(`${origin}/network/coordinators`)).json()) as Coordinators).coordinators

describe("the portal's discovery URL (COORDINATOR_DISCOVERY_URL pointing at the seed)", () => {
  it("lists the seed it learns from the seed's own API, and a newcomer joins through the portal alone", async () => {
    const seed = await startMeshAgent()
    portal = await startTestPortal('pglite', { args: ['--coordinator-discovery-url', seed.apiUrl] })
    const first = (await listOf(portal.origin))[0]
    expect(first?.peerId).toBe(seed.ready.peerId)
    expect(first?.addrs.length).toBeGreaterThan(0)

    const newcomer = await startMeshAgent(['--discovery-url', portal.origin])
    await waitFor(() => fullyMeshed([seed, newcomer]), 30_000, 200)

    // The seed going down doesn't empty the portal's answer: the last list it gave is kept.
    await seed.stop('SIGKILL')
    expect((await listOf(portal.origin)).map((c) => c.peerId)).toContain(seed.ready.peerId)
  })

  it('refuses a discovery URL that is not one, naming the flag', async () => {
    await expect(
      startTestPortal('pglite', { args: ['--coordinator-discovery-url', 'not a url'] }),
    ).rejects.toThrow(/--coordinator-discovery-url/)
  })
})
