import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BACKENDS,
  startTestPortal,
  stopCluster,
  type TestPortal,
} from '../../packages/portal/test/helpers/portal.ts'
import { linkToken } from '../../packages/portal/test/helpers/smtp-sink.ts'
import { type AgentProcess, cleanupAgents, REPO_ROOT, runCli, startAgent } from './harness.ts'

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

describe.each(BACKENDS)('the portal in Chromium on %s', (backend) => {
  let t: TestPortal
  let browser: BrowserContext
  let page: Page
  let cdp: CDPSession
  let profile: string
  let agent: AgentProcess

  beforeAll(async () => {
    t = await startTestPortal(backend)
    agent = await startAgent()
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
