import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { buildUi, PanelBrowser, PanelMesh, SETTLE } from './panel-mesh.ts'

/**
 * The Task Queue panel in Chromium, served by a coordinator (it never runs tasks itself, so
 * every task is placed on a peer) with two workers in other regions, one of them with the test
 * model.
 */
/** The real test model: EDGECODER_TEST_MODEL, else what scripts/fetch-model.sh fetched. */
const MODEL_PATH = testModelPath()
let mesh: PanelMesh
let browser: PanelBrowser

beforeAll(async () => {
  await buildUi()
  ;[mesh, browser] = await Promise.all([
    PanelMesh.start([
      { region: 'eu-west', args: ['--mode', 'coordinator'] },
      { region: 'us-east', args: ['--mode', 'worker', '--max-concurrent-tasks', '1'] },
      {
        region: 'ap-south',
        args: [
          '--mode',
          'worker',
          '--max-concurrent-tasks',
          '1',
          '--provider',
          'embedded',
          '--model',
          MODEL_PATH,
          '--llama-threads',
          '1',
        ],
      },
    ]),
    PanelBrowser.launch(),
  ])
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await mesh?.stop()
})

const ui = () => mesh.agents[0]!
const workers = () => mesh.agents.slice(1)
const regionOf = (peerId: string) => (peerId === mesh.agents[1]!.ready.peerId ? 'us-east' : 'ap-south')

interface Task {
  id: string
  status: string
  executor: { peerId: string; local: boolean } | null
  route: { event: string; peerId: string }[]
}
const task = (id: string) => ui().api<Task>(`/tasks/${id}`)
/** A chat for a model no node has: a coordinator keeps it queued until one appears. */
const unplaceable = (submitter: string) =>
  ui().api<{ id: string }>('/tasks', {
    method: 'POST',
    json: { kind: 'chat', model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }], submitter },
  })

describe('Task Queue', () => {
  it('submits a run task from the app and shows its route to the peer that ran it', async () => {
    const page = await browser.open(ui(), 'tasks')
    const submitter = `ui-${randomBytes(3).toString('hex')}`
    await page.getByTestId('task-new').click()
    await page.getByTestId('task-kind').selectOption('run')
    await page.getByTestId('task-text').fill('def double(n):\n    return 2 * n\n')
    await page.getByTestId('task-tests').fill('assert double(21) == 42')
    await page.getByPlaceholder('local').fill(submitter)
    await page.getByTestId('task-submit').click()

    const detail = page.getByTestId('task-detail')
    await detail.waitFor()
    const id = (await detail.getAttribute('data-task-id'))!
    const stored = await task(id)
    expect(stored).toMatchObject({ id })
    expect(
      (await ui().api<{ spec: { submitter: string; code: string } }>(`/tasks/${id}`)).spec,
    ).toMatchObject({
      submitter,
      code: 'def double(n):\n    return 2 * n\n',
    })
    await expect
      .poll(() => page.getByTestId('task-detail-status').textContent(), { timeout: 150_000, interval: 250 })
      .toBe('succeeded')
    const done = await task(id)
    const executor = done.executor!.peerId
    expect(done.executor!.local).toBe(false)
    expect(workers().map((w) => w.ready.peerId)).toContain(executor)

    // The executor and every step of the route, as the agent recorded them.
    expect(await page.getByTestId('task-executor').getAttribute('data-peer-id')).toBe(executor)
    expect(await page.getByTestId('task-executor').textContent()).toContain(regionOf(executor))
    await expect.poll(() => page.getByTestId('route-hop').count(), SETTLE).toBe(done.route.length)
    const hops = await page
      .getByTestId('route-hop')
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-event'), e.getAttribute('data-peer-id')]))
    expect(hops).toEqual(done.route.map((h) => [h.event, h.peerId]))
    expect(hops).toContainEqual(['chosen', executor])
    expect(hops.at(-1)).toEqual(['completed', executor])
    expect(await page.getByTestId('task-route').textContent()).toContain('free 1/1')
    // The sandbox's verdict on the peer, from the live test-result event or the result.
    await expect
      .poll(() => page.getByTestId('task-tests').textContent(), SETTLE)
      .toMatch(/passed, 1\/1 passed/)
    // And the row in the list.
    const row = page.locator(`[data-testid=task-row][data-task-id="${id}"]`)
    await expect.poll(() => row.getAttribute('data-status'), SETTLE).toBe('succeeded')
    await browser.screenshot('task-queue')
  }, 240_000)

  it("streams a chat's tokens live from the peer with the model, and shows its answer", async () => {
    const page = await browser.open(ui(), 'tasks')
    await page.getByTestId('task-new').click()
    await page.getByTestId('task-kind').selectOption('chat')
    await page.getByTestId('task-text').fill('Name three colours.')
    await page.getByTestId('task-max-tokens').fill('24')
    await page.getByTestId('task-submit').click()
    const detail = page.getByTestId('task-detail')
    await detail.waitFor()
    const id = (await detail.getAttribute('data-task-id'))!
    await expect
      .poll(() => page.getByTestId('task-detail-status').textContent(), { timeout: 180_000, interval: 250 })
      .toBe('succeeded')
    const done = await ui().api<Task & { result: { text: string }; spec: { maxTokens: number } }>(
      `/tasks/${id}`,
    )
    expect(done.spec.maxTokens).toBe(24)
    expect(done.executor!.peerId).toBe(mesh.agents[2]!.ready.peerId)
    // A stream opened after the end replays no tokens: these came live, as the peer generated them.
    await expect
      .poll(() => page.getByTestId('task-tokens').textContent(), SETTLE)
      .toContain(done.result.text.trim())
    expect(done.result.text.trim().length).toBeGreaterThan(0)
    expect(await page.getByTestId('task-executor').textContent()).toContain('ap-south')
  }, 240_000)

  it('cancels a queued task from its detail', async () => {
    const { id } = await unplaceable(`cancel-${randomBytes(3).toString('hex')}`)
    expect((await task(id)).status).toBe('queued')
    const page = await browser.open(ui(), 'tasks')
    const row = page.locator(`[data-testid=task-row][data-task-id="${id}"]`)
    await row.waitFor()
    expect(await row.getAttribute('data-status')).toBe('queued')
    // Keyboard: focus the row, Enter opens it.
    await row.focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('task-detail').getAttribute('data-task-id'), SETTLE).toBe(id)
    expect(await page.getByTestId('task-route-empty').textContent()).toContain('Not placed yet')
    await page.getByTestId('task-cancel').click()
    await expect.poll(() => page.getByTestId('task-detail-status').textContent(), SETTLE).toBe('cancelled')
    expect((await task(id)).status).toBe('cancelled')
    await expect.poll(() => row.getAttribute('data-status'), SETTLE).toBe('cancelled')
    expect(await page.getByTestId('task-cancel').count()).toBe(0)
  }, 120_000)

  it('filters by status and submitter, and pages through the list', async () => {
    const submitter = `pager-${randomBytes(3).toString('hex')}`
    const ids: string[] = []
    for (let i = 0; i < 21; i++) ids.push((await unplaceable(submitter)).id)
    const page = await browser.open(ui(), 'tasks')
    await page.getByTestId('task-submitter-filter').fill(submitter)
    await page.getByTestId('task-submitter-filter').press('Enter')
    const rows = page.getByTestId('task-row')
    const shown = () => rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-task-id')))
    // Newest first, 20 to a page.
    await expect.poll(shown, SETTLE).toEqual(ids.slice(1).reverse())
    expect(await page.getByTestId('tasks-page').textContent()).toBe('page 1')
    await page.getByTestId('tasks-older').click()
    await expect.poll(shown, SETTLE).toEqual([ids[0]])
    expect(await page.getByTestId('tasks-page').textContent()).toBe('page 2')
    expect(await page.getByTestId('tasks-older').isDisabled()).toBe(true)
    await page.getByTestId('tasks-newer').click()
    await expect.poll(async () => (await shown()).length, SETTLE).toBe(20)

    // One of them cancelled: the Cancelled filter shows it alone, the Queued one the other 20.
    await ui().api(`/tasks/${ids[5]}`, { method: 'DELETE' })
    await page.locator('[data-testid=task-filter][data-status=cancelled]').click()
    await expect.poll(shown, SETTLE).toEqual([ids[5]])
    await page.locator('[data-testid=task-filter][data-status=queued]').click()
    await expect.poll(async () => (await shown()).length, SETTLE).toBe(20)
    expect(await shown()).not.toContain(ids[5])
    await page.locator('[data-testid=task-filter][data-status=succeeded]').click()
    await page.getByTestId('tasks-empty').waitFor()
    expect(await page.getByTestId('tasks-empty').textContent()).toContain('Choose another filter')
    await Promise.all(
      ids.map((id) =>
        ui()
          .api(`/tasks/${id}`, { method: 'DELETE' })
          .catch(() => {}),
      ),
    )
  }, 180_000)

  it('says what the agent refused, as the API gives it', async () => {
    const page = await browser.open(ui(), 'tasks')
    await page.getByTestId('task-new').click()
    await page.getByTestId('task-kind').selectOption('run')
    await page.getByTestId('task-text').fill('print(1)')
    await page.getByPlaceholder('local').fill('not a valid submitter!')
    await page.getByTestId('task-submit').click()
    const error = page.getByTestId('task-submit-error')
    await error.waitFor()
    const res = await fetch(`${ui().apiUrl}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'run',
        language: 'python',
        code: 'print(1)',
        tests: '',
        priority: 'normal',
        submitter: 'not a valid submitter!',
      }),
    })
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(res.status).toBe(400)
    expect(await error.textContent()).toContain(body.error.code)
    expect(await error.textContent()).toContain(body.error.message)
  }, 60_000)
})
