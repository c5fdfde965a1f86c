import { afterAll, describe, expect, it } from 'vitest'
import { PortalClient, startTestPortal, type TestPortal } from '../../packages/portal/test/helpers/portal.ts'
import { type AgentProcess, cleanupAgents, runCli, tempDataDir, waitFor } from './harness.ts'
import { describeTables, HEARTBEAT_MS, peersOf, startMeshAgent, statsOf, tcpAddr } from './mesh-helpers.ts'

const portals: TestPortal[] = []
afterAll(async () => {
  await cleanupAgents()
  for (const p of portals) await p.stop()
})

async function portalWithOwner(email: string): Promise<{ t: TestPortal; owner: PortalClient }> {
  const t = await startTestPortal('pglite')
  portals.push(t)
  const owner = new PortalClient(t)
  await owner.signUpWithPasskey(t, email)
  return { t, owner }
}

/** A data dir enrolled on `t` before its agent starts, so the first advert carries the certificate. */
async function enrolledDataDir(t: TestPortal, owner: PortalClient): Promise<string> {
  const dir = tempDataDir()
  const code = await owner.json('POST', '/nodes/enrollment-codes', { json: {} })
  const out = await runCli(['enroll', '--portal', t.origin, '--code', code.body.code, '--data-dir', dir])
  if (out.code !== 0) throw new Error(out.stderr)
  return dir
}

describe('activation in the mesh (--portal-key, --require-activation)', () => {
  it('admits only peers certified by its portal, and drops a revoked one within the poll interval and a heartbeat', {
    timeout: 180_000,
  }, async () => {
    const { t, owner } = await portalWithOwner('mesh-owner@example.org')
    const other = await portalWithOwner('elsewhere@example.org')
    const activated = await startMeshAgent([], { dataDir: await enrolledDataDir(t, owner) })
    const foreign = await startMeshAgent([], { dataDir: await enrolledDataDir(other.t, other.owner) })
    const plain = await startMeshAgent()
    const strict: AgentProcess = await startMeshAgent([
      '--portal-key',
      t.ready.publicKey,
      '--require-activation',
      '--portal-url',
      t.origin,
      '--revocation-poll-ms',
      '300',
      ...[activated, foreign, plain].flatMap((a) => ['--bootstrap', tcpAddr(a)]),
    ])

    const ids = async () => (await peersOf(strict)).map((p) => p.peerId)
    try {
      await waitFor(async () => (await ids()).includes(activated.ready.peerId), 20_000)
      // The uncertified and the foreign-certified nodes speak too; their adverts are refused.
      await waitFor(async () => ((await statsOf(strict)).adverts.rejected['not-activated'] ?? 0) >= 2, 20_000)
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n${await describeTables([strict, activated, foreign, plain])}`,
      )
    }
    expect(await ids()).toEqual([activated.ready.peerId])
    // The others still see each other: only the strict node refuses.
    await waitFor(async () => (await peersOf(plain)).some((p) => p.peerId === foreign.ready.peerId), 20_000)

    const t0 = Date.now()
    expect((await owner.call('DELETE', `/nodes/${activated.ready.peerId}`)).status).toBe(204)
    await waitFor(async () => !(await ids()).includes(activated.ready.peerId), 20_000, 50)
    const took = Date.now() - t0
    expect(took).toBeLessThan(300 + 3 * HEARTBEAT_MS + 2_000)
    // And it stays out while it keeps advertising: the plain node hears newer adverts, the strict one admits none.
    const dropped = Date.now()
    await waitFor(async () => {
      const seen = (await peersOf(plain)).find((p) => p.peerId === activated.ready.peerId)?.lastSeen
      return seen !== null && seen !== undefined && Date.parse(seen) > dropped + 2 * HEARTBEAT_MS
    }, 20_000)
    expect(await ids()).toEqual([])
  })

  it('refuses --require-activation without a portal key', async () => {
    const out = await runCli(['start', '--require-activation', '--data-dir', tempDataDir()])
    expect(out.code).toBe(1)
    expect(out.stderr).toContain('--portal-key')
  })
})
