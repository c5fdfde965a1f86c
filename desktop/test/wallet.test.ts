import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeBolt11 } from '../../packages/portal/src/lightning/index.ts'
import { LndDouble } from '../../packages/portal/test/helpers/lnd-double.ts'
import { PortalClient, startTestPortal, type TestPortal } from '../../packages/portal/test/helpers/portal.ts'
import { type AgentProcess, cleanupAgents, startAgent, tempDataDir } from '../../tests/e2e/harness.ts'
import { balanceOf } from '../../tests/e2e/ledger-helpers.ts'
import { walletArgs } from '../../tests/e2e/portal-helpers.ts'
import { buildPortalUi, buildUi, panelReadyMs, SLOW_START, screenshot, UiBrowser } from './ui-browser.ts'

/**
 * The wallet in the Credits panel, and enrollment in Settings, against a real portal whose
 * Lightning node is the portal tests' LND double. The owner's browser session on the portal is
 * played by `PortalClient` (a passkey authenticator in software), as in the portal's own tests.
 */
const SATS_PER_CREDIT = 10
let lnd: LndDouble
let portal: TestPortal
let owner: PortalClient
let enrolled: AgentProcess
let browser: UiBrowser

beforeAll(async () => {
  lnd = new LndDouble()
  await Promise.all([buildUi(), buildPortalUi(), lnd.start()])
  portal = await startTestPortal('pglite', {
    args: walletArgs(lnd, tempDataDir(), SATS_PER_CREDIT),
    wallet: { pollMs: 100 },
  })
  owner = new PortalClient(portal)
  await owner.signUpWithPasskey(portal, 'desktop-wallet@example.org')
  enrolled = await startAgent({ args: ['--grant-key', portal.ready.publicKey], ...SLOW_START })
  const code = await owner.json('POST', '/nodes/enrollment-codes', { json: {} })
  const res = await enrolled.api('/activation/enroll', {
    method: 'POST',
    json: { portal: portal.origin, code: code.body.code },
  })
  if (res.status !== 200) throw new Error(`enroll: ${await res.text()}`)
  browser = await UiBrowser.launch()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await cleanupAgents()
  await portal?.stop()
  await lnd?.stop()
})

async function openCredits(agent: AgentProcess): Promise<Page> {
  const page = await browser.open(`${agent.apiUrl}/ui/#/credits`)
  await panelReadyMs(page, 'credits')
  await page.getByTestId('wallet-portal').waitFor()
  return page
}

/** A deposit of `credits` paid on the portal, as the owner would in their browser. */
async function paidDeposit(credits: number): Promise<void> {
  const dep = await owner.json('POST', '/wallet/deposits', {
    json: { peerId: enrolled.ready.peerId, credits },
  })
  expect(dep.status).toBe(201)
  lnd.arrive(dep.body.paymentRequest)
  await expect
    .poll(async () => (await owner.json('GET', `/wallet/deposits/${dep.body.id}`)).body.state)
    .toBe('paid')
}

// Heavy on a busy two-core machine: agents start, meshes form, tasks settle.
describe('Wallet', { timeout: 180_000 }, () => {
  it('sends a node with no portal to Settings, where enrolling with a portal code applies at once', async () => {
    const fresh = await startAgent(SLOW_START)
    const page = await browser.open(`${fresh.apiUrl}/ui/#/credits`)
    await page.getByTestId('wallet-no-portal').waitFor()
    expect(await page.getByTestId('wallet-no-portal').textContent()).toContain('Enroll it in Settings')
    await page.getByTestId('wallet-no-portal').getByRole('link').click()
    expect(page.url()).toMatch(/#\/settings$/)
    await expect.poll(() => page.getByTestId('enrollment').textContent()).toContain('Not enrolled')
    await page.getByTestId('enroll-portal').fill(portal.origin)
    await page.getByTestId('enroll-code').fill('not-a-real-code')
    await page.getByTestId('enroll-submit').click()
    await expect.poll(() => page.getByTestId('note-enroll').textContent()).toContain('Not changed')
    const code = await owner.json('POST', '/nodes/enrollment-codes', { json: {} })
    await page.getByTestId('enroll-code').fill(code.body.code)
    await page.getByTestId('enroll-submit').click()
    await expect.poll(() => page.getByTestId('note-enroll').textContent()).toContain('applied now')
    expect(await page.getByTestId('enrollment').textContent()).toContain(`Enrolled on ${portal.origin}`)
    const nodes = (await owner.json('GET', '/nodes')).body.nodes as { peerId: string }[]
    expect(nodes.map((n) => n.peerId)).toContain(fresh.ready.peerId)
    await page.close()
    await fresh.stop()
  })

  it('opens the portal’s sign-in page in a browser window of its own', async () => {
    const page = await openCredits(enrolled)
    const link = page.getByTestId('wallet-signin')
    expect(await link.getAttribute('href')).toBe(`${portal.origin}/#/signin`)
    expect(await link.getAttribute('target')).toBe('_blank')
    const [popup] = await Promise.all([browser.context.waitForEvent('page'), link.click()])
    await popup.waitForURL(`${portal.origin}/#/signin`)
    await popup.getByTestId('signin-passkey').waitFor()
    expect(await page.getByTestId('wallet-deposit').getAttribute('href')).toBe(`${portal.origin}/#/wallet`)
    await popup.close()
    await page.close()
  })

  it('collects a deposit paid on the portal into the balance, once', async () => {
    const page = await openCredits(enrolled)
    const before = (await balanceOf(enrolled)).balance
    await page.getByTestId('wallet-claim').click()
    await expect
      .poll(() => page.getByTestId('wallet-claim-note').textContent())
      .toMatch(/no paid deposits|already in the balance/)
    await paidDeposit(40)
    await page.getByTestId('wallet-claim').click()
    await expect
      .poll(() => page.getByTestId('wallet-claim-note').textContent())
      .toContain('Added 40 credits from 1 deposit')
    expect((await balanceOf(enrolled)).balance).toBe(before + 40)
    await expect.poll(() => page.getByTestId('credit-balance').textContent()).toBe(`${before + 40} credits`)
    await page.getByTestId('wallet-claim').click()
    await expect
      .poll(() => page.getByTestId('wallet-claim-note').textContent())
      .toContain('already in the balance')
    expect((await balanceOf(enrolled)).balance).toBe(before + 40)
    await screenshot(page, 'credits-wallet')
    await page.close()
  })

  it('carries out a withdrawal started on the portal; one beyond the balance pays nothing', async () => {
    await paidDeposit(30)
    await enrolled.api('/wallet/claim', { method: 'POST', json: {} })
    const page = await openCredits(enrolled)
    const before = (await balanceOf(enrolled)).balance
    expect(await owner.reauthenticate()).toBe(204)
    const invoice = lnd.externalInvoice(200)
    const ticket = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: enrolled.ready.peerId, invoice },
    })
    expect(ticket.status).toBe(201)
    await page.getByTestId('wallet-withdrawal-id').fill(ticket.body.id)
    await page.getByTestId('wallet-withdrawal-id').press('Enter')
    await expect
      .poll(() => page.getByTestId('wallet-withdraw-note').textContent())
      .toContain('Paid: 20 credits')
    expect(lnd.payments.get(decodeBolt11(invoice).paymentHash)?.status).toBe('SUCCEEDED')
    expect((await balanceOf(enrolled)).balance).toBe(before - 20)
    await expect.poll(() => page.getByTestId('credit-balance').textContent()).toBe(`${before - 20} credits`)

    const big = lnd.externalInvoice(90_000)
    const t2 = await owner.json('POST', '/wallet/withdrawals', {
      json: { peerId: enrolled.ready.peerId, invoice: big },
    })
    await page.getByTestId('wallet-withdrawal-id').fill(t2.body.id)
    await page.getByTestId('wallet-withdraw').click()
    await expect
      .poll(() => page.getByTestId('wallet-withdraw-note').textContent())
      .toContain('nothing was paid')
    expect(lnd.payments.has(decodeBolt11(big).paymentHash)).toBe(false)
    expect((await balanceOf(enrolled)).balance).toBe(before - 20)
    await page.close()
  })
})
