import type { MeshPeer } from '@edgecoder/protocol'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from '../../tests/e2e/harness.ts'
import { peersOf, startMeshAgent, tcpAddr } from '../../tests/e2e/mesh-helpers.ts'
import { startNode } from '../../tests/e2e/routing-helpers.ts'
import { buildUi, measurePaint, panelReadyMs, SLOW_START, screenshot, UiBrowser } from './ui-browser.ts'

/**
 * The Settings panel against a private mesh of three (a coordinator `a`, a worker `w`, a member
 * `m`), and nodes outside it that join through an invite.
 */
const TOKEN = 'desktop-settings-token-0123456789'
let a: AgentProcess
let w: AgentProcess
let m: AgentProcess
let browser: UiBrowser

beforeAll(async () => {
  const [, first] = await Promise.all([buildUi(), startMeshAgent(['--mesh-token', TOKEN], SLOW_START)])
  a = first
  const join = ['--mesh-token', TOKEN, '--bootstrap', tcpAddr(a)]
  ;[w, m] = await Promise.all([startNode('worker', join, SLOW_START), startMeshAgent(join, SLOW_START)])
  await waitFor(async () => (await Promise.all([w, m].map((x) => sees(a, x)))).every(Boolean), 30_000, 100)
  browser = await UiBrowser.launch()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await cleanupAgents()
})

const settingsOf = async (x: AgentProcess) =>
  (await (await x.api('/orchestration/settings')).json()) as Record<string, unknown>
const peerOf = async (viewer: AgentProcess, x: AgentProcess): Promise<MeshPeer | undefined> =>
  (await peersOf(viewer)).find((p) => p.peerId === x.ready.peerId)
async function sees(viewer: AgentProcess, x: AgentProcess): Promise<boolean> {
  return (await peerOf(viewer, x))?.state === 'online'
}

async function openSettings(x: AgentProcess): Promise<Page> {
  const page = await browser.open(`${x.apiUrl}/ui/#/settings`)
  await panelReadyMs(page, 'settings')
  return page
}

// Heavy on a busy two-core machine: agents start, meshes form, tasks settle.
describe('Settings panel', { timeout: 180_000 }, () => {
  it('shows the node’s settings with the token masked, and its first meaningful paint', async () => {
    const paint = await measurePaint(browser, `${w.apiUrl}/ui/#/settings`, 'settings')
    expect(paint.median).toBeGreaterThan(0)
    const page = await openSettings(w)
    const token = page.getByTestId('mesh-token')
    expect(await token.textContent()).not.toContain(TOKEN.slice(0, 12))
    expect(await token.textContent()).toMatch(new RegExp(`•+${TOKEN.slice(-4)}$`))
    await page.getByTestId('mesh-token-show').click()
    expect(await token.textContent()).toBe(TOKEN)
    expect(await page.getByTestId('setting-concurrency').inputValue()).toBe('1')
    expect(await page.getByTestId('setting-contributing').isChecked()).toBe(true)
    // Linux: the Bluetooth row is there, switched off, and says why.
    expect(await page.locator('#ble').isDisabled()).toBe(true)
    expect(await page.getByTestId('setting-ble-reason').textContent()).toContain('macOS only')
    await expect.poll(() => page.getByTestId('setting-provider').textContent()).toMatch(/embedded|ollama/)
    await page.getByTestId('invite').waitFor()
    await screenshot(page, 'settings')
    await page.close()
  })

  it('applies concurrent tasks live: the agent reports it and its peers see the new slots', async () => {
    const page = await openSettings(w)
    const field = page.getByTestId('setting-concurrency')
    await field.fill('3')
    await field.press('Enter')
    await expect
      .poll(() => page.getByTestId('note-maxConcurrentTasks').textContent())
      .toContain('applied now')
    expect((await settingsOf(w)).maxConcurrentTasks).toBe(3)
    await expect.poll(async () => (await peerOf(a, w))?.slots?.total, { timeout: 15_000 }).toBe(3)
    await page.close()
  })

  it('switches the inference provider live, and refuses one the node has no address for', async () => {
    const page = await openSettings(m)
    const choice = page.getByTestId('setting-provider-choice')
    await choice.selectOption('ollama')
    await expect.poll(() => page.getByTestId('note-provider').textContent()).toContain('applied now')
    expect((await settingsOf(m)).provider).toBe('ollama')
    await expect
      .poll(
        async () =>
          ((await (await m.api('/health/runtime')).json()) as { provider: { name: string } }).provider.name,
      )
      .toBe('ollama')
    await expect
      .poll(() => page.getByTestId('setting-provider').textContent(), { timeout: 15_000 })
      .toContain('ollama')
    await choice.selectOption('openai')
    await expect.poll(() => page.getByTestId('note-provider').textContent()).toContain('--openai-base-url')
    expect(await page.getByTestId('note-provider').textContent()).toContain('Not changed')
    expect(await choice.inputValue()).toBe('ollama')
    expect((await settingsOf(m)).provider).toBe('ollama')
    await choice.selectOption('auto')
    await expect.poll(async () => (await settingsOf(m)).provider).toBe('auto')
    await page.close()
  })

  it('sets a power schedule: outside its hours the node stands by, and peers see it', async () => {
    const page = await openSettings(w)
    const h = new Date().getHours()
    await page.getByTestId('policy-schedule').check()
    await page.getByTestId('policy-start').selectOption(String((h + 2) % 24))
    await page.getByTestId('policy-end').selectOption(String((h + 3) % 24))
    await page.getByTestId('policy-save').click()
    await expect.poll(() => page.getByTestId('note-powerPolicy').textContent()).toContain('applied now')
    expect((await settingsOf(w)).powerPolicy).toEqual({
      mode: 'schedule',
      hours: { start: (h + 2) % 24, end: (h + 3) % 24 },
    })
    await expect.poll(async () => (await peerOf(a, w))?.power, { timeout: 15_000 }).toBe('standby')
    await page.getByTestId('policy-always').check()
    await page.getByTestId('policy-save').click()
    await expect.poll(async () => (await peerOf(a, w))?.power, { timeout: 15_000 }).toBe('active')
    await page.close()
  })

  it('copies a’s invite, and pasted in another node’s Settings it joins a’s private mesh', async () => {
    const outsider = await startMeshAgent([], SLOW_START)
    const pageA = await openSettings(a)
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: a.apiUrl })
    await pageA.getByTestId('invite-copy').click()
    await expect.poll(() => pageA.getByTestId('invite-copy').textContent()).toBe('Copied')
    const copied = await pageA.evaluate(() => navigator.clipboard.readText())
    const api = (await (await a.api('/orchestration/invite')).json()) as { invite: string }
    expect(copied).toBe(api.invite)
    expect(await pageA.getByTestId('invite').inputValue()).toBe(api.invite)

    const page = await openSettings(outsider)
    await page.getByTestId('join-invite').fill(copied)
    await page.getByTestId('join-submit').click()
    const dialog = page.getByTestId('confirm-join')
    await dialog.waitFor()
    expect(await dialog.textContent()).toContain(a.ready.peerId.slice(0, 10))
    await page.getByTestId('confirm-join-confirm').click()
    await expect.poll(() => page.getByTestId('note-join').textContent()).toContain('applied now')
    expect((await settingsOf(outsider)).meshToken).toBe(TOKEN)
    await waitFor(() => sees(outsider, a), 20_000, 100)
    await waitFor(() => sees(a, outsider), 20_000, 100)
    await expect.poll(() => page.getByTestId('mesh-token').textContent()).toContain(TOKEN.slice(-4))
    await pageA.close()
    await page.close()
    await outsider.stop()
  })

  it('refuses a malformed invite with an error that says what to do, and changes nothing', async () => {
    const outsider = await startMeshAgent([], SLOW_START)
    const before = await settingsOf(outsider)
    const page = await openSettings(outsider)
    const { invite } = (await (await a.api('/orchestration/invite')).json()) as { invite: string }
    for (const [line, want] of [
      ['https://example.org/join', 'not an EdgeCoder invite'],
      [invite.slice(0, -9), 'copy the whole line again'],
    ] as const) {
      await page.getByTestId('join-invite').fill(line)
      await page.getByTestId('join-invite').press('Tab')
      await page.keyboard.press('Enter')
      await expect.poll(() => page.getByTestId('note-join').textContent()).toContain(want)
      expect(await page.getByTestId('note-join').textContent()).toContain('Not changed')
      expect(await page.getByTestId('confirm-join').isVisible()).toBe(false)
    }
    expect(await settingsOf(outsider)).toEqual(before)
    expect(await peersOf(outsider)).toEqual([])
    await page.close()
    await outsider.stop()
  })

  it('changes the mesh token only once confirmed, and the node leaves the mesh', async () => {
    const page = await openSettings(m)
    const change = async () => {
      await page.getByTestId('mesh-token-change').click()
      await page.getByTestId('mesh-token-input').fill('another-mesh-token-0123456789')
      await page.getByTestId('mesh-token-save').click()
      await page.getByTestId('confirm-token').waitFor()
    }
    await change()
    await page.keyboard.press('Escape')
    expect((await settingsOf(m)).meshToken).toBe(TOKEN)
    expect(await sees(m, a)).toBe(true)
    await page.getByTestId('mesh-token-save').click()
    await page.getByTestId('confirm-token-confirm').click()
    await expect.poll(() => page.getByTestId('note-meshToken').textContent()).toContain('applied now')
    expect((await settingsOf(m)).meshToken).toBe('another-mesh-token-0123456789')
    await waitFor(async () => !(await sees(a, m)), 20_000, 100)
    await page.close()
  })
})
