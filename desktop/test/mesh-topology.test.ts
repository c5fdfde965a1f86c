import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildUi, PanelBrowser, PanelMesh, SETTLE } from './panel-mesh.ts'

/** The Mesh Topology panel in Chromium, served by the first of three real agents in three regions. */
let mesh: PanelMesh
let browser: PanelBrowser

beforeAll(async () => {
  await buildUi()
  ;[mesh, browser] = await Promise.all([
    PanelMesh.start([
      { region: 'eu-west', args: ['--mode', 'coordinator'] },
      { region: 'us-east', args: ['--mode', 'worker', '--max-concurrent-tasks', '1'] },
      { region: 'ap-south', args: ['--mode', 'worker', '--max-concurrent-tasks', '1'] },
    ]),
    PanelBrowser.launch(),
  ])
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await mesh?.stop()
})

const ui = () => mesh.agents[0]!
const us = () => mesh.agents[1]!
const ap = () => mesh.agents[2]!
const node = (peerId: string) => browser.page.locator(`[data-testid=mesh-node][data-peer-id="${peerId}"]`)

describe('Mesh Topology', () => {
  it("draws every peer on the graph under its region, with the peer table's ids and regions", async () => {
    const page = await browser.open(ui(), 'mesh')
    for (const peer of [us(), ap()]) await node(peer.ready.peerId).waitFor()
    expect(await node(us().ready.peerId).getAttribute('data-region')).toBe('us-east')
    expect(await node(ap().ready.peerId).getAttribute('data-region')).toBe('ap-south')
    expect(await node(us().ready.peerId).getAttribute('data-state')).toBe('online')
    // The graph shows what the agent's own table says, region by region.
    const { peers } = await ui().api<{ peers: { peerId: string; region: string }[] }>('/mesh/peers')
    const drawn = await page
      .getByTestId('mesh-node')
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-peer-id'), e.getAttribute('data-region')]))
    expect(drawn.sort()).toEqual(peers.map((p) => [p.peerId, p.region]).sort())
    const regions = await page
      .getByTestId('mesh-region')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-region')))
    expect(regions).toEqual(['ap-south', 'us-east'])
    await expect
      .poll(() => page.getByTestId('mesh-summary').textContent(), SETTLE)
      .toContain('2 peers: 2 online')
    await browser.screenshot('mesh-topology')
  }, 120_000)

  it("shows a peer's detail: advert, state history, RTT, tasks and credits exchanged", async () => {
    const page = await browser.open(ui(), 'mesh')
    // A task of this node's, placed on a worker: the detail of that worker counts it.
    const { id } = await ui().api<{ id: string }>('/tasks', {
      method: 'POST',
      json: { kind: 'run', language: 'python', code: 'def f():\n    return 2\n', tests: 'assert f() == 2' },
    })
    await expect
      .poll(async () => (await ui().api<{ status: string }>(`/tasks/${id}`)).status, {
        timeout: 150_000,
        interval: 250,
      })
      .toBe('succeeded')
    const task = await ui().api<{ executor: { peerId: string } }>(`/tasks/${id}`)
    const executor = task.executor.peerId
    expect([us().ready.peerId, ap().ready.peerId]).toContain(executor)

    await node(executor).waitFor()
    await node(executor).focus()
    await page.keyboard.press('Enter')
    const detail = page.getByTestId('peer-detail')
    await expect.poll(() => detail.getAttribute('data-peer-id'), SETTLE).toBe(executor)
    expect(await page.getByTestId('peer-detail-id').textContent()).toBe(executor)
    expect(await page.getByTestId('peer-detail-region').textContent()).toBe(
      executor === us().ready.peerId ? 'us-east' : 'ap-south',
    )
    await expect
      .poll(() => page.getByTestId('peer-tasks-exchanged').textContent(), SETTLE)
      .toMatch(/^\s*1 task sent to it/)
    const rtt = await page.getByTestId('peer-detail-rtt').textContent()
    const { rttMs } = await ui().api<{ rttMs: number | null }>(`/agent-mesh/peers/${executor}`)
    if (rttMs !== null) expect(rtt).toMatch(/^\d+\.\d ms$/)
    // Credits exchanged are this node's transfers with that peer, as its ledger lists them.
    const { entries } = await ui().api<{ entries: { direction: string; credits: number }[] }>(
      `/credits/history?counterparty=${executor}&limit=500`,
    )
    const paid = entries.filter((e) => e.direction === 'out').reduce((n, e) => n + e.credits, 0)
    await expect
      .poll(() => page.getByTestId('peer-credits-exchanged').textContent(), SETTLE)
      .toContain(`${paid} paid`)
    expect(await page.getByTestId('peer-history').textContent()).toMatch(/online/)
    // Escape closes the detail again.
    await page.keyboard.press('Escape')
    await expect.poll(() => detail.count(), SETTLE).toBe(0)
  }, 240_000)

  it('follows the mesh live: a node that joins appears, one that stops goes suspect or away', async () => {
    const page = await browser.open(ui(), 'mesh')
    await node(us().ready.peerId).waitFor()
    const late = await mesh.join({ region: 'sa-east', args: ['--mode', 'coordinator'] })
    try {
      await node(late.ready.peerId).waitFor({ timeout: 60_000 })
      expect(await node(late.ready.peerId).getAttribute('data-region')).toBe('sa-east')
      await expect.poll(() => page.getByTestId('mesh-region').count(), SETTLE).toBe(3)
      await late.stop()
      // Its adverts stop: the graph marks it suspect, then offline, then drops it, without a reload.
      await expect
        .poll(
          async () =>
            (await node(late.ready.peerId).count()) === 0 ||
            (await node(late.ready.peerId).getAttribute('data-state')) !== 'online',
          { timeout: 60_000 },
        )
        .toBe(true)
    } finally {
      await late.stop()
      mesh.agents.splice(mesh.agents.indexOf(late), 1)
    }
  }, 240_000)

  it('says so when this node has no peers', async () => {
    const { AgentProcess } = await import('./agent-process.ts')
    const alone = await AgentProcess.start(90_000, [
      '--no-mdns',
      '--p2p-host',
      '127.0.0.1',
      '--mode',
      'coordinator',
    ])
    try {
      const page = await browser.open(alone, 'mesh')
      await page.getByTestId('mesh-empty').waitFor()
      expect(await page.getByTestId('mesh-empty').textContent()).toContain('No peers yet')
    } finally {
      await alone.stop()
    }
  }, 180_000)
})
