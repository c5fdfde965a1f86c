import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LndDouble } from '../../packages/portal/test/helpers/lnd-double.ts'
import {
  BACKENDS,
  startTestPortal,
  stopCluster,
  type TestPortal,
} from '../../packages/portal/test/helpers/portal.ts'
import { linkToken } from '../../packages/portal/test/helpers/smtp-sink.ts'
import { type AgentProcess, cleanupAgents, REPO_ROOT, runCli, startAgent, tempDataDir } from './harness.ts'
import { walletArgs } from './portal-helpers.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

beforeAll(async () => {
  await build({ configFile: join(REPO_ROOT, 'packages/portal/ui/vite.config.ts'), logLevel: 'warn' })
}, 120_000)
afterAll(async () => {
  await cleanupAgents()
  await stopCluster()
})

/** Chromium's own virtual authenticator (DevTools WebAuthn domain): a platform passkey that always says yes. */
async function addAuthenticator(cdp: CDPSession): Promise<string> {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })
  return authenticatorId
}

async function nodeBalance(agent: AgentProcess): Promise<number> {
  return ((await (await agent.api('/credits/balance')).json()) as { balance: number }).balance
}

describe.each(BACKENDS)('the portal in Chromium on %s', (backend) => {
  let t: TestPortal
  let browser: BrowserContext
  let page: Page
  let cdp: CDPSession
  let profile: string
  let agent: AgentProcess
  let lnd: LndDouble

  beforeAll(async () => {
    lnd = new LndDouble()
    await lnd.start()
    t = await startTestPortal(backend, { args: walletArgs(lnd, tempDataDir(), 10), wallet: { pollMs: 100 } })
    agent = await startAgent({ args: ['--grant-key', t.ready.publicKey] })
    profile = mkdtempSync(join(tmpdir(), 'edgecoder-chromium-'))
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    page = browser.pages()[0] ?? (await browser.newPage())
    cdp = await browser.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
  })
  afterAll(async () => {
    await browser?.close()
    await agent?.stop()
    await t?.stop()
    await lnd?.stop()
    if (profile) rmSync(profile, { recursive: true, force: true })
  })

  it('signs up, verifies the email, registers passkeys, removes one and signs in with the other', async () => {
    const first = await addAuthenticator(cdp)
    await page.goto(`${t.origin}/#/signup`)
    await page.getByTestId('signup-email').fill('browser@example.org')
    await page.getByRole('button', { name: 'Sign up' }).click()
    await page.getByTestId('signup-sent').waitFor()

    const token = linkToken(await t.mail.waitFor('browser@example.org'))
    await page.goto(`${t.origin}/#/link/${token}`)
    await page.getByTestId('link-ok').waitFor()
    await page.getByTestId('passkey-name').fill('first key')
    await page.getByTestId('add-passkey').click()
    await expect.poll(() => page.getByTestId('account-email').textContent()).toBe('browser@example.org')

    // A second device: another authenticator holds the second passkey.
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first })
    await addAuthenticator(cdp)
    await page.getByTestId('new-passkey-name').fill('second key')
    await page.getByTestId('add-another-passkey').click()
    await expect.poll(() => page.getByTestId('passkey-row').count()).toBe(2)

    // The first device is lost: remove its passkey.
    await page
      .getByTestId('passkey-row')
      .filter({ hasText: 'first key' })
      .getByTestId('remove-passkey')
      .click()
    await expect
      .poll(() => page.getByTestId('passkey-row').allTextContents())
      .toEqual([expect.stringContaining('second key')])

    await page.getByRole('link', { name: 'Sign out' }).click()
    await page.getByTestId('signin-passkey').waitFor()
    await page.getByTestId('signin-passkey').click()
    await expect.poll(() => page.getByTestId('account-email').textContent()).toBe('browser@example.org')
    const cookies = await browser.cookies(t.origin)
    expect(cookies.find((c) => c.name === 'edgecoder_session')).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
    })
  })

  it('enrolls a real agent from a code made in the page and shows it active', async () => {
    await page.getByRole('link', { name: 'Nodes' }).click()
    await page.getByTestId('create-code').click()
    const code = (await page.getByTestId('enroll-code').textContent())!
    expect(await page.getByTestId('enroll-command').textContent()).toContain(`--portal ${t.origin}`)
    const out = await runCli(['enroll', '--portal', t.origin, '--code', code, '--data-dir', agent.dataDir])
    expect(out.code, out.stderr).toBe(0)
    const row = page.locator(`[data-testid="node-row"][data-peer="${agent.ready.peerId}"]`)
    await expect.poll(() => row.getByTestId('node-status').textContent(), { timeout: 20_000 }).toBe('active')
  })

  it('buys credits by Lightning for the node and withdraws them to an invoice, confirming with the passkey', async () => {
    await page.getByRole('link', { name: 'Wallet' }).click()
    const row = page.locator(`[data-testid="wallet-node"][data-peer="${agent.ready.peerId}"]`)
    await expect.poll(() => row.getByTestId('wallet-credits').textContent()).toBe('0')
    await page.getByTestId('deposit-credits').fill('30')
    await page.getByTestId('deposit').click()
    const invoice = (await page.getByTestId('deposit-invoice').textContent())!
    expect(await page.getByTestId('deposit-state').textContent()).toBe('open')
    lnd.arrive(invoice)
    await expect.poll(() => page.getByTestId('deposit-state').textContent()).toBe('paid')
    const claim = await runCli(['credits', 'claim', '--portal', t.origin, '--api-url', agent.apiUrl])
    expect(claim.code, claim.stderr).toBe(0)
    expect(await nodeBalance(agent)).toBe(30)
    await expect.poll(() => row.getByTestId('wallet-credits').textContent()).toBe('30')

    await page.getByTestId('withdraw-invoice').fill(lnd.externalInvoice(100))
    await page.getByTestId('withdraw').click()
    const command = (await page.getByTestId('withdraw-command').textContent())!
    const id = /--id ([0-9a-f-]{36})/.exec(command)![1]!
    const out = await runCli([
      'wallet',
      'withdraw',
      '--portal',
      t.origin,
      '--id',
      id,
      '--api-url',
      agent.apiUrl,
    ])
    expect(out.code, out.stderr).toBe(0)
    const wrow = page.locator(`[data-testid="withdrawal-row"][data-id="${id}"]`)
    await expect.poll(() => wrow.getByTestId('withdrawal-state').textContent()).toBe('paid')
    expect(await nodeBalance(agent)).toBe(20)
    await expect.poll(() => row.getByTestId('wallet-credits').textContent()).toBe('20')
  })

  it('a page on another origin cannot change anything with the signed-in cookie', async () => {
    const other = await startTestPortal('pglite', { databaseUrl: null })
    try {
      // A different port is a different origin (SameSite sees the same site; the origin check still refuses).
      await page.goto(`${other.origin}/healthz`)
      const result = await page.evaluate(async (target) => {
        const r = await fetch(`${target}/nodes/enrollment-codes`, {
          method: 'POST',
          credentials: 'include',
          mode: 'no-cors',
          headers: { 'content-type': 'text/plain' },
          body: '{}',
        })
        return r.type
      }, t.origin)
      expect(result).toBe('opaque')
      await page.goto(`${t.origin}/#/nodes`)
      // Only the code made by the page itself exists.
      const codes = await t.portal.db.query('SELECT count(*)::int AS n FROM enrollment_codes')
      expect(codes).toEqual([{ n: 1 }])
    } finally {
      await other.stop()
    }
  })
})
