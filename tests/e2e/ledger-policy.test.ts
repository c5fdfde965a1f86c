import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, runCli, startAgent } from './harness.ts'
import { balanceOf, type TestPortal, testPortal } from './ledger-helpers.ts'
import { tcpAddr } from './mesh-helpers.ts'
import { expectMeshed, hops, sleepTask, startNode } from './routing-helpers.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

afterEach(cleanupAgents)

// biome-ignore lint/suspicious/noExplicitAny: response bodies read in assertions
type Json = any

describe('credit lines', () => {
  it('gives a throwaway identity in an open mesh nothing to spend and nothing to mint with', async () => {
    const portal = await testPortal()
    const fresh = await startAgent({ args: ['--grant-key', portal.grantKey] })
    const pay = await fresh.api('/credits/transfers', {
      method: 'POST',
      json: { to: portal.peerId, credits: 1 },
    })
    expect(pay.status).toBe(409)
    expect(((await pay.json()) as Json).error.code).toBe('credit_line')
    // A grant it signs itself is no grant.
    const selfMade = await (await testPortal()).grant(fresh, 1000)
    const r = await fresh.api('/credits/grants', { method: 'POST', json: selfMade })
    expect(r.status).toBe(403)
    expect(await balanceOf(fresh)).toMatchObject({ balance: 0, creditLine: 0, available: 0 })
  })

  it('lets an executor decline a submitter its chain shows cannot pay, and serve it once it can', async () => {
    const portal = await testPortal()
    const token = 'ledger-policy-mesh-token-0123456789'
    const common = ['--mesh-token', token, '--grant-key', portal.grantKey, '--credit-line', '0']
    const sub = await startNode('coordinator', common)
    const exe = await startNode('worker', [...common, '--credit-check', '--bootstrap', tcpAddr(sub)])
    await expectMeshed([sub, exe])
    const refused = await waitForStatus(sub, await submitOk(sub, sleepTask(0.05, 'x')), undefined, 60_000)
    expect(refused.status).toBe('failed')
    const declined = hops(refused, 'declined')
    expect(declined.length).toBeGreaterThan(0)
    expect(declined[0]!.reasons.join(' ')).toMatch(/credit: the quote's cap is \d+ credits; your balance 0/)
    const grant = await sub.api('/credits/grants', { method: 'POST', json: await portal.grant(sub, 100) })
    expect(grant.status).toBe(201)
    const served = await waitForStatus(sub, await submitOk(sub, sleepTask(0.05, 'y')), undefined, 60_000)
    expect(served.status).toBe('succeeded')
    expect(served.executor?.peerId).toBe(exe.ready.peerId)
  })
})

describe('edgecoder credits', () => {
  let server: Server | undefined
  afterAll(() => server?.close())

  it('claims grants from the portal, then shows balance, history and a clean verify', async () => {
    const portal: TestPortal = await testPortal()
    const a: AgentProcess = await startAgent({ args: ['--grant-key', portal.grantKey] })
    const grants = [await portal.grant(a, 25), await portal.grant(a, 5)]
    // A stand-in for the portal's GET /wallet/grants: the grants it issued to the asking node.
    server = createServer((req, res) => {
      const peerId = new URL(req.url!, 'http://x').searchParams.get('peerId')
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ grants: grants.filter((g) => g.peerId === peerId) }))
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const portalUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const client = ['--api-url', a.apiUrl, '--data-dir', a.dataDir]
    const claim = await runCli(['credits', 'claim', '--portal', portalUrl, ...client])
    expect(claim.code).toBe(0)
    expect(claim.stdout).toMatch(/applied/)
    // Claiming again applies nothing twice.
    expect((await runCli(['credits', 'claim', '--portal', portalUrl, ...client])).code).toBe(0)
    const bal = await runCli(['credits', 'balance', '--json', ...client])
    expect(JSON.parse(bal.stdout)).toMatchObject({ balance: 30, earned: 30, chainLength: 2 })
    const hist = await runCli(['credits', 'history', ...client])
    expect(hist.stdout).toMatch(/grant\s+in\s+25\s+settled/)
    const verify = await runCli(['credits', 'verify', ...client])
    expect(verify.code).toBe(0)
    expect(verify.stdout).toMatch(/every chain held validates/)
    const status = await runCli(['status', ...client])
    expect(status.stdout).toMatch(/earnings\s+30 credits \(earned 30, spent 0\)/)
  })
})
