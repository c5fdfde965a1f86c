import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentProcess } from './agent-process.ts'

const APP_DIR = resolve(import.meta.dirname, '..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

let agent: AgentProcess
let browser: BrowserContext
let profile: string
let page: Page

beforeAll(async () => {
  await build({ root: APP_DIR, logLevel: 'warn' })
  // The agent serves the built UI at /ui, as on a headless node: page and API share one origin.
  agent = await AgentProcess.start()
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
  await page.goto(`${agent.apiUrl}/ui/`)
})

afterAll(async () => {
  await browser?.close()
  await agent?.stop()
  if (profile) rmSync(profile, { recursive: true, force: true })
})

const state = () => page.getByTestId('agent-state').first()
const stat = (id: string) => page.getByTestId(id)

describe('Dashboard', () => {
  it('shows a running agent: identity, model, uptime, tasks, earnings and peers', async () => {
    await expectState('running')
    const runtime = await agent.api<{ peerId: string; model: unknown }>('/health/runtime')
    await expect.poll(() => page.getByTestId('peer-id').getAttribute('title')).toBe(agent.ready.peerId)
    expect(runtime.peerId).toBe(agent.ready.peerId)
    expect(await stat('stat-agent').textContent()).toBe('Running')
    expect(await stat('stat-model').textContent()).toBe(
      runtime.model ? (runtime.model as { name: string }).name : 'No model loaded',
    )
    expect(await stat('stat-tasks').textContent()).toBe('0')
    expect(await stat('stat-earnings').textContent()).toBe('0 credits')
    expect(await page.getByTestId('earnings-detail').textContent()).toBe('earned 0 · spent 0')
    expect(await stat('stat-peers').textContent()).toBe('0')
    const shots = process.env.DESKTOP_SCREENSHOT_DIR
    if (shots) await page.screenshot({ path: join(shots, 'dashboard-chromium.png') })
  })

  it('keeps uptime ticking between status messages', async () => {
    const before = await stat('stat-uptime').textContent()
    await expect.poll(() => stat('stat-uptime').textContent(), { timeout: 5_000 }).not.toBe(before)
  })

  it('pauses contributing on the agent from the button', async () => {
    await setContributing(true)
    try {
      await page.getByTestId('toggle-contributing').click()
      await expectState('paused')
      const settings = await agent.api<{ contributing: boolean }>('/orchestration/settings')
      expect(settings.contributing).toBe(false)
      expect(await page.getByTestId('toggle-contributing').textContent()).toContain('Resume contributing')
    } finally {
      await agent.api('/orchestration/settings', { method: 'PUT', json: { contributing: true } })
    }
  })

  it('follows a change made elsewhere, live over /events', async () => {
    await setContributing(true)
    await agent.api('/orchestration/settings', { method: 'PUT', json: { contributing: false } })
    await expectState('paused')
    await agent.api('/orchestration/settings', { method: 'PUT', json: { contributing: true } })
    await expectState('running')
  })

  it('offers the other five panels', async () => {
    const titles = await page.locator('nav a').allTextContents()
    expect(titles).toEqual([
      'Dashboard',
      'Mesh Topology',
      'Model Manager',
      'Credits & Wallet',
      'Task Queue',
      'Settings',
    ])
    await page.locator('nav a', { hasText: 'Credits & Wallet' }).click()
    expect(page.url()).toMatch(/#\/credits$/)
    await expect.poll(() => page.getByTestId('credit-balance').textContent()).toBe('0 credits')
    await page.locator('nav a', { hasText: 'Dashboard' }).click()
    expect(page.url()).toMatch(/#\/dashboard$/)
    await state().waitFor()
  })

  it('says the agent is unreachable once it is gone', async () => {
    await agent.stop()
    await expectState('unreachable', 20_000)
    // The banner says which agent and what the page does about it, not just any error.
    await expect
      .poll(() => page.getByTestId('agent-problem').textContent(), { timeout: 20_000 })
      .toBe(`the agent at ${agent.apiUrl} is not answering; retrying`)
  })
})

/** Sets contributing through the API and waits until the page shows it. */
async function setContributing(on: boolean): Promise<void> {
  await agent.api('/orchestration/settings', { method: 'PUT', json: { contributing: on } })
  await expectState(on ? 'running' : 'paused')
}

async function expectState(want: string, timeout = 15_000): Promise<void> {
  await expect.poll(() => state().getAttribute('data-state'), { timeout }).toBe(want)
}
