import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeBolt11 } from '../../packages/portal/src/lightning/index.ts'
import { LndDouble } from '../../packages/portal/test/helpers/lnd-double.ts'
import { PortalClient, startTestPortal, type TestPortal } from '../../packages/portal/test/helpers/portal.ts'
import { type AgentProcess, cleanupAgents, startAgent, tempDataDir } from './harness.ts'
import { walletArgs } from './portal-helpers.ts'

const SATS_PER_CREDIT = 10
// biome-ignore lint/suspicious/noExplicitAny: response bodies read in assertions
type Json = any

/** The agent's own wallet routes (what the desktop app uses) against a real portal on the LND double. */
let lnd: LndDouble
let t: TestPortal
let owner: PortalClient
let agent: AgentProcess

const post = async (path: string, json: unknown = {}) => {
  const res = await agent.api(path, { method: 'POST', json })
  return { status: res.status, body: (await res.json()) as Json }
}
const balance = async () =>
  ((await (await agent.api('/credits/balance')).json()) as { balance: number }).balance

beforeAll(async () => {
  lnd = new LndDouble()
  await lnd.start()
  t = await startTestPortal('pglite', {
    args: walletArgs(lnd, tempDataDir(), SATS_PER_CREDIT),
    wallet: { pollMs: 100 },
  })
  owner = new PortalClient(t)
  await owner.signUpWithPasskey(t, 'node-wallet@example.org')
  agent = await startAgent({ args: ['--grant-key', t.ready.publicKey] })
}, 120_000)

afterAll(async () => {
  await cleanupAgents()
  await t?.stop()
  await lnd?.stop()
})

describe('the agent’s wallet routes', () => {
  it('knows no portal before enrollment, and says what to do', async () => {
    const res = await agent.api('/activation')
    expect(await res.json()).toEqual({ portal: null, activation: null })
    const claim = await post('/wallet/claim')
    expect(claim.status).toBe(409)
    expect(claim.body.error.message).toContain('enroll it in Settings')
  })

  it('enrolls with a code from the portal, live, and refuses a bad code', async () => {
    const bad = await post('/activation/enroll', { portal: t.origin, code: 'not-a-code' })
    expect(bad.status).toBe(409)
    expect(bad.body.error.code).toBe('portal_refused')
    const badUrl = await post('/activation/enroll', { portal: 'ftp://x', code: 'c' })
    expect(badUrl.status).toBe(400)
    const code = await owner.json('POST', '/nodes/enrollment-codes', { json: {} })
    const ok = await post('/activation/enroll', { portal: t.origin, code: code.body.code })
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect(ok.body.portal).toBe(t.origin)
    expect(ok.body.activation.roles.length).toBeGreaterThan(0)
    expect((await owner.json('GET', '/nodes')).body.nodes.map((n: Json) => n.peerId)).toContain(
      agent.ready.peerId,
    )
  })

  it('claims a deposit once the invoice is paid, once', async () => {
    const dep = await owner.json('POST', '/wallet/deposits', {
      json: { peerId: agent.ready.peerId, credits: 40 },
    })
    expect(dep.status).toBe(201)
    expect((await post('/wallet/claim')).body.grants).toEqual([])
    lnd.arrive(dep.body.paymentRequest)
    await owner.json('GET', `/wallet/deposits/${dep.body.id}`)
    const claim = await post('/wallet/claim')
    expect(claim.status).toBe(200)
    expect(claim.body.grants).toMatchObject([{ credits: 40, applied: true }])
    expect(await balance()).toBe(40)
    const again = await post('/wallet/claim')
    expect(again.body.grants).toMatchObject([{ credits: 40, applied: false, reason: 'already applied' }])
    expect(await balance()).toBe(40)
  })

  it('carries out a withdrawal started on the portal; one beyond the balance pays nothing', async () => {
    expect(await owner.reauthenticate()).toBe(204)
    const invoice = lnd.externalInvoice(150)
    const ticket = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice },
    })
    expect(ticket.status).toBe(201)
    const start = await balance()
    const out = await post(`/wallet/withdrawals/${ticket.body.id}`)
    expect(out.status, JSON.stringify(out.body)).toBe(200)
    expect(out.body).toMatchObject({ state: 'paid', credits: 15 })
    expect(lnd.payments.get(decodeBolt11(invoice).paymentHash)?.status).toBe('SUCCEEDED')
    expect(await balance()).toBe(start - 15)

    const big = lnd.externalInvoice(90_000)
    const t2 = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice: big },
    })
    const refused = await post(`/wallet/withdrawals/${t2.body.id}`)
    expect(refused.status).toBe(409)
    expect(refused.body.error.message).toContain('nothing was paid')
    expect(lnd.payments.has(decodeBolt11(big).paymentHash)).toBe(false)
    expect(await balance()).toBe(start - 15)
    const unknown = await post('/wallet/withdrawals/no-such-id')
    expect(unknown.status).toBe(409)
  })
})
