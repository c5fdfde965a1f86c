import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents } from '../../tests/e2e/harness.ts'
import { balanceOf, historyOf, settled, verifyOn } from '../../tests/e2e/ledger-helpers.ts'
import { tcpAddr } from '../../tests/e2e/mesh-helpers.ts'
import { expectMeshed, sleepTask, startNode } from '../../tests/e2e/routing-helpers.ts'
import { submitOk, waitForStatus } from '../../tests/e2e/tasks-helpers.ts'
import { buildUi, measurePaint, panelReadyMs, screenshot, UiBrowser } from './ui-browser.ts'

/**
 * The Credits panel of a submitter in a private mesh of three: the submitter (a coordinator, so
 * a worker runs its task) and two workers. Its UI is the one the submitter serves at /ui.
 */
const TOKEN = 'desktop-credits-mesh-token-0123'
let submitter: AgentProcess
let workers: AgentProcess[]
let browser: UiBrowser

beforeAll(async () => {
  const common = ['--mesh-token', TOKEN]
  const [, first] = await Promise.all([buildUi(), startNode('coordinator', common)])
  submitter = first
  workers = await Promise.all([
    startNode('worker', [...common, '--bootstrap', tcpAddr(submitter)]),
    startNode('worker', [...common, '--bootstrap', tcpAddr(submitter)]),
  ])
  await expectMeshed([submitter, ...workers], 60_000)
  browser = await UiBrowser.launch()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await cleanupAgents()
})

async function openCredits(agent: AgentProcess): Promise<Page> {
  return browser.open(`${agent.apiUrl}/ui/#/credits`)
}

// Heavy on a busy two-core machine: agents start, meshes form, tasks settle.
describe('Credits & Wallet panel', { timeout: 180_000 }, () => {
  it('shows the empty state of a fresh node, verified, and its first meaningful paint', async () => {
    const paint = await measurePaint(browser, `${workers[1]!.apiUrl}/ui/#/credits`, 'credits')
    expect(paint.median).toBeGreaterThan(0)
    const page = await openCredits(workers[1]!)
    await panelReadyMs(page, 'credits')
    expect(await page.getByTestId('credit-balance').textContent()).toBe('0 credits')
    await page.getByTestId('transfers-empty').waitFor()
    await page.getByTestId('balance-chart-empty').waitFor()
    await expect.poll(() => page.getByTestId('verify-state').getAttribute('data-ok')).toBe('true')
    await page.close()
  })

  it('follows the balance live after a worker runs this node’s task, with the transfer’s counterparty and task', async () => {
    const page = await openCredits(submitter)
    await panelReadyMs(page, 'credits')
    const before = (await balanceOf(submitter)).balance
    expect(await page.getByTestId('credit-balance').textContent()).toBe(`${before} credits`)

    const id = await submitOk(submitter, sleepTask(0.1, 'paid'))
    const task = await waitForStatus(submitter, id, undefined, 90_000)
    expect(task.status).toBe('succeeded')
    const executor = task.executor!.peerId
    expect(workers.map((w) => w.ready.peerId)).toContain(executor)
    await expect.poll(() => settled(submitter), { timeout: 30_000 }).toBe(true)
    const after = await balanceOf(submitter)
    expect(after.balance).toBeLessThan(before)

    // Nothing reloads the page: the settlement reaches it over /events.
    await expect
      .poll(() => page.getByTestId('credit-balance').textContent(), { timeout: 20_000 })
      .toBe(`${after.balance} credits`)
    const entry = (await historyOf(submitter)).entries.find((e) => e.taskId === id)!
    expect(entry).toMatchObject({ direction: 'out', state: 'settled', counterparty: executor })
    const row = page.locator(`[data-testid=transfer][data-seq="${entry.seq}"]`)
    await row.waitFor()
    expect(await row.getByTestId('transfer-counterparty').getAttribute('data-peer')).toBe(executor)
    expect(await row.getByTestId('transfer-task').getAttribute('data-task')).toBe(id)
    expect(await row.getByTestId('transfer-credits').textContent()).toBe(`−${entry.credits}`)
    expect(await row.getAttribute('data-state')).toBe('settled')
    expect(Number(await page.getByTestId('balance-chart').getAttribute('data-points'))).toBeGreaterThan(1)

    const report = await verifyOn(submitter)
    await expect
      .poll(() => page.locator('[data-testid=chain]').count(), { timeout: 20_000 })
      .toBe(report.chains.length)
    expect(await page.getByTestId('verify-state').getAttribute('data-ok')).toBe(String(report.ok))
    await screenshot(page, 'credits')
    await page.close()
  })

  it('shows the executor’s side: earned from the submitter, and its chain checked', async () => {
    const executor = await waitForEarner()
    const page = await openCredits(executor)
    await panelReadyMs(page, 'credits')
    const b = await balanceOf(executor)
    expect(await page.getByTestId('credit-balance').textContent()).toBe(`${b.balance} credits`)
    const rows = page.locator('[data-testid=transfer][data-direction=in]')
    await rows.first().waitFor()
    expect(await rows.first().getByTestId('transfer-counterparty').getAttribute('data-peer')).toBe(
      submitter.ready.peerId,
    )
    const chain = page.locator(`[data-testid=chain][data-peer="${submitter.ready.peerId}"]`)
    await chain.waitFor()
    await chain.locator('button').focus()
    await page.keyboard.press('Enter')
    await expect
      .poll(() => page.getByTestId('chain-detail').textContent())
      .toContain('blocks held without a gap')
    await page.close()
  })
})

/** The worker that has earned something (each test may be run alone: submit when none has). */
async function waitForEarner(): Promise<AgentProcess> {
  const earned = async () => {
    for (const w of workers) if ((await balanceOf(w)).earned > 0) return w
    return null
  }
  const found = await earned()
  if (found) return found
  const id = await submitOk(submitter, sleepTask(0.1, 'earn'))
  await waitForStatus(submitter, id, undefined, 90_000)
  await expect.poll(() => settled(submitter), { timeout: 30_000 }).toBe(true)
  return (await earned())!
}
