import { type Block, makeProposal, signBlock } from '@edgecoder/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeBolt11 } from '../../packages/portal/src/lightning/index.ts'
import { LndDouble } from '../../packages/portal/test/helpers/lnd-double.ts'
import {
  BACKENDS,
  databaseUrl,
  PortalClient,
  startTestPortal,
  stopCluster,
  type TestPortal,
} from '../../packages/portal/test/helpers/portal.ts'
import { SmtpSink } from '../../packages/portal/test/helpers/smtp-sink.ts'
import { type AgentProcess, cleanupAgents, runCli, startAgent, tempDataDir, waitFor } from './harness.ts'
import { startPortalProcess, walletArgs } from './portal-helpers.ts'

const SATS_PER_CREDIT = 10

afterAll(async () => {
  await cleanupAgents()
  await stopCluster()
})

async function balanceOf(agent: AgentProcess): Promise<number> {
  const b = (await (await agent.api('/credits/balance')).json()) as { balance: number }
  return b.balance
}

describe.each(BACKENDS)('the wallet on %s', (backend) => {
  let lnd: LndDouble
  let t: TestPortal
  let owner: PortalClient
  let agent: AgentProcess

  const withdrawCli = (id: string, portal = t.origin) =>
    runCli(['wallet', 'withdraw', '--portal', portal, '--id', id, '--api-url', agent.apiUrl])

  beforeAll(async () => {
    lnd = new LndDouble()
    await lnd.start()
    t = await startTestPortal(backend, {
      args: walletArgs(lnd, tempDataDir(), SATS_PER_CREDIT),
      wallet: { pollMs: 100 },
    })
    owner = new PortalClient(t)
    await owner.signUpWithPasskey(t, 'wallet@example.org')
    agent = await startAgent({ args: ['--grant-key', t.ready.publicKey] })
    const code = await owner.json('POST', '/nodes/enrollment-codes', { json: {} })
    const out = await runCli([
      'enroll',
      '--portal',
      t.origin,
      '--code',
      code.body.code,
      '--data-dir',
      agent.dataDir,
    ])
    expect(out.code, out.stderr).toBe(0)
  })
  afterAll(async () => {
    await agent?.stop()
    await t?.stop()
    await lnd?.stop()
  })

  it('issues a grant only once the Lightning node reports the invoice paid, and the node applies it once', async () => {
    const dep = await owner.json('POST', '/wallet/deposits', {
      json: { peerId: agent.ready.peerId, credits: 50 },
    })
    expect(dep.status).toBe(201)
    expect(decodeBolt11(dep.body.paymentRequest).msat).toBe(500_000n)
    // Not paid yet: no grant anywhere, nothing to claim.
    expect((await owner.json('GET', `/wallet/deposits/${dep.body.id}`)).body).toMatchObject({
      state: 'open',
      grant: null,
    })
    expect((await owner.json('GET', `/wallet/grants?peerId=${agent.ready.peerId}`)).body.grants).toEqual([])
    const early = await runCli(['credits', 'claim', '--portal', t.origin, '--api-url', agent.apiUrl])
    expect(early.stdout).toContain('the portal holds no grants for this node')
    expect(await balanceOf(agent)).toBe(0)

    lnd.arrive(dep.body.paymentRequest)
    const paid = await owner.json('GET', `/wallet/deposits/${dep.body.id}`)
    expect(paid.body).toMatchObject({ state: 'paid', grant: { peerId: agent.ready.peerId, credits: 50 } })
    const claim = await runCli(['credits', 'claim', '--portal', t.origin, '--api-url', agent.apiUrl])
    expect(claim.code, claim.stderr).toBe(0)
    expect(await balanceOf(agent)).toBe(50)
    // Claimed again: the node applies each grant once.
    const again = await runCli(['credits', 'claim', '--portal', t.origin, '--api-url', agent.apiUrl])
    expect(again.code, again.stderr).toBe(0)
    expect(await balanceOf(agent)).toBe(50)
  })

  it('asks for a fresh passkey assertion before a withdrawal', async () => {
    await t.portal.db.query("UPDATE sessions SET reauth_at = now() - interval '1 hour'")
    const invoice = lnd.externalInvoice(100)
    const refused = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice },
    })
    expect(refused.status).toBe(403)
    expect(refused.body.error.code).toBe('reauth_required')
    expect(await owner.reauthenticate()).toBe(204)
    expect(
      (await owner.json('POST', '/wallet/withdrawals', { json: { peerId: agent.ready.peerId, invoice } }))
        .status,
    ).toBe(201)
  })

  it('pays a withdrawal against the node’s signed transfer, then agrees; a replay pays nothing more', async () => {
    const invoice = lnd.externalInvoice(200)
    const hash = decodeBolt11(invoice).paymentHash
    const ticket = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice },
    })
    expect(ticket.body).toMatchObject({ credits: 20, sats: 200, to: t.ready.peerId })
    const before = lnd.balanceSat
    const out = await withdrawCli(ticket.body.id)
    expect(out.code, out.stderr).toBe(0)
    expect(lnd.payments.get(hash)?.status).toBe('SUCCEEDED')
    expect(lnd.balanceSat).toBe(before - 200)
    expect(await balanceOf(agent)).toBe(30)
    const w = await owner.json('GET', `/wallet/withdrawals/${ticket.body.id}`)
    expect(w.body.state).toBe('paid')
    const proposal = JSON.parse(
      (
        await t.portal.db.query<{ proposal: string }>('SELECT proposal FROM withdrawals WHERE id = $1', [
          ticket.body.id,
        ])
      )[0]!.proposal,
    ) as Block
    // Replayed: the same answer, no second payment.
    const replay = await owner.json('POST', `/wallet/withdrawals/${ticket.body.id}/proposal`, {
      json: { proposal },
      origin: null,
    })
    expect(replay.body.agreement).toEqual(w.body.agreement)
    expect(lnd.balanceSat).toBe(before - 200)
    // The same proposal for another withdrawal, or the same invoice twice: refused.
    await owner.reauthenticate()
    const other = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice: lnd.externalInvoice(200) },
    })
    const reused = await owner.json('POST', `/wallet/withdrawals/${other.body.id}/proposal`, {
      json: { proposal },
      origin: null,
    })
    expect(reused.status).toBe(400)
    const twice = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice },
    })
    expect(twice.status).toBe(409)
    expect(twice.body.error.code).toBe('invoice_used')
    expect(lnd.balanceSat).toBe(before - 200)
  })

  it('refuses a withdrawal beyond the node’s balance: no proposal, no payment', async () => {
    await owner.reauthenticate()
    const invoice = lnd.externalInvoice(50_000)
    const ticket = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice },
    })
    expect(ticket.status).toBe(201)
    const out = await withdrawCli(ticket.body.id)
    expect(out.code).toBe(1)
    expect(lnd.payments.has(decodeBolt11(invoice).paymentHash)).toBe(false)
    expect((await owner.json('GET', `/wallet/withdrawals/${ticket.body.id}`)).body.state).toBe(
      'awaiting_proposal',
    )
    expect(await balanceOf(agent)).toBe(30)
  })

  it('refuses a proposal not signed by the node, and bad invoices', async () => {
    await owner.reauthenticate()
    const ticket = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: agent.ready.peerId, invoice: lnd.externalInvoice(100) },
    })
    const key = await generateKeyPair('Ed25519')
    const forged = await signBlock(
      makeProposal(
        agent.ready.peerId,
        null,
        {
          type: 'transfer',
          from: agent.ready.peerId,
          to: t.ready.peerId,
          credits: 10,
          memo: `withdrawal ${ticket.body.id}`,
          nonce: 'n'.repeat(24),
          ref: null,
        },
        Date.now(),
      ),
      key,
    )
    const res = await owner.json('POST', `/wallet/withdrawals/${ticket.body.id}/proposal`, {
      json: { proposal: forged },
      origin: null,
    })
    expect(res.status).toBe(403)
    expect(res.body.error.code).toBe('bad_signature')
    for (const invoice of [
      'lnbc1notaninvoice',
      lnd.externalInvoice(5).replace(/.$/, 'q'),
      lnd.externalInvoice(200_000),
    ]) {
      const r = await owner.json('POST', '/wallet/withdrawals', {
        json: { peerId: agent.ready.peerId, invoice },
      })
      expect(r.status).toBe(400)
    }
    expect(lnd.payments.size).toBe(1)
  })

  it('settles a withdrawal cut by a portal crash from the Lightning node’s own record at restart', {
    timeout: 240_000,
  }, async () => {
    const dir = tempDataDir()
    const mail = new SmtpSink()
    const smtp = await mail.start()
    const url = await databaseUrl(backend)
    const env: Record<string, string> = {
      EDGECODER_PORTAL_DATA_DIR: dir,
      EDGECODER_PORTAL_PORT: '0',
      EDGECODER_PORTAL_SMTP_URL: smtp,
      ...(url ? { DATABASE_URL: url } : {}),
    }
    const args = walletArgs(lnd, dir, SATS_PER_CREDIT)
    let p = startPortalProcess(args, env)
    let ready = await p.ready
    try {
      const c = new PortalClient({ ready, origin: ready.publicUrl })
      await c.signUpWithPasskey({ mail }, 'crash@example.org')
      const node = await startAgent({ args: ['--grant-key', ready.publicKey] })
      const code = await c.json('POST', '/nodes/enrollment-codes', { json: {} })
      expect(
        (
          await runCli([
            'enroll',
            '--portal',
            ready.publicUrl,
            '--code',
            code.body.code,
            '--data-dir',
            node.dataDir,
          ])
        ).code,
      ).toBe(0)
      const dep = await c.json('POST', '/wallet/deposits', {
        json: { peerId: node.ready.peerId, credits: 10 },
      })
      lnd.arrive(dep.body.paymentRequest)
      await waitFor(
        async () =>
          (await c.json('GET', `/wallet/grants?peerId=${node.ready.peerId}`)).body.grants.length === 1,
      )
      await runCli(['credits', 'claim', '--portal', ready.publicUrl, '--api-url', node.apiUrl])
      expect(await balanceOf(node)).toBe(10)

      const invoice = lnd.externalInvoice(100)
      const hash = decodeBolt11(invoice).paymentHash
      const ticket = await c.json('POST', '/wallet/withdrawals', {
        json: { peerId: node.ready.peerId, invoice },
      })
      lnd.hold = true
      const cut = runCli([
        'wallet',
        'withdraw',
        '--portal',
        ready.publicUrl,
        '--id',
        ticket.body.id,
        '--api-url',
        node.apiUrl,
      ])
      await waitFor(() => lnd.payments.get(hash)?.status === 'IN_FLIGHT', 30_000, 20)
      p.proc.kill('SIGKILL')
      await p.exited
      expect((await cut).code).toBe(1)
      lnd.hold = false
      lnd.release()
      // The payment completes on the Lightning side while no portal runs.
      await waitFor(() => lnd.payments.get(hash)?.status === 'SUCCEEDED', 10_000, 10)

      p = startPortalProcess(args, env)
      ready = await p.ready
      // Resolved before the portal said ready: paid, and the agreement signed.
      const w = await (await fetch(`${ready.publicUrl}/wallet/withdrawals/${ticket.body.id}`)).json()
      expect(w).toMatchObject({ state: 'paid', agreement: { counterparty: node.ready.peerId } })
      const done = await runCli([
        'wallet',
        'withdraw',
        '--portal',
        ready.publicUrl,
        '--id',
        ticket.body.id,
        '--api-url',
        node.apiUrl,
      ])
      expect(done.code, done.stderr).toBe(0)
      expect(await balanceOf(node)).toBe(0)
      await node.stop()
    } finally {
      p.proc.kill('SIGTERM')
      await p.exited
      await mail.stop()
    }
  })
})
