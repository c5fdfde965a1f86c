import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import type { AgentProcess } from './agent-process.ts'
import { buildUi, PanelBrowser, PanelMesh, SETTLE } from './panel-mesh.ts'

/**
 * The Model Manager panel in Chromium, on the first of three real agents: it serves the test
 * model (`--model`) with embedded llama.cpp and pulls GGUF files from a local HTTP server.
 */
/** The real test model: EDGECODER_TEST_MODEL, else what scripts/fetch-model.sh fetched. */
const MODEL_PATH = testModelPath()
const MODEL = 'gemma-3-270m-Q4_K_M'
const MODEL_SIZE = statSync(MODEL_PATH).size
/** How much of the file the stalling route sends before it holds the transfer open. */
const STALL_AFTER = 8 * 1024 * 1024

let mesh: PanelMesh
let browser: PanelBrowser
let files: Server
let filesUrl = ''

beforeAll(async () => {
  files = createServer((req, res) => {
    if (req.url?.startsWith('/files/')) {
      res.writeHead(200, { 'content-length': MODEL_SIZE })
      createReadStream(MODEL_PATH).pipe(res)
    } else if (req.url?.startsWith('/stall/')) {
      // The first megabytes, then nothing until the client goes away: a cancel lands mid-transfer.
      res.writeHead(200, { 'content-length': MODEL_SIZE })
      const head = createReadStream(MODEL_PATH, { end: STALL_AFTER - 1 })
      head.pipe(res, { end: false })
      res.on('close', () => head.destroy())
    } else res.writeHead(404).end()
  })
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r))
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`
  await buildUi()
  ;[mesh, browser] = await Promise.all([
    PanelMesh.start([
      { region: 'eu-west', args: ['--provider', 'embedded', '--model', MODEL_PATH, '--llama-threads', '1'] },
      { region: 'us-east', args: ['--mode', 'coordinator'] },
      { region: 'ap-south', args: ['--mode', 'coordinator'] },
    ]),
    PanelBrowser.launch(),
  ])
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await mesh?.stop()
  files?.close()
})

const ui = () => mesh.agents[0]!
interface Listed {
  name: string
  sizeBytes: number
  quantization: string | null
  contextLength: number | null
  active: boolean
}
const listed = async () => (await ui().api<{ models: Listed[] }>('/model/list')).models
const modelsDir = (a: AgentProcess) => join(a.dataDir, 'models')

/** Pulls through the API (a copy of the test model's file), for tests that need a second model. */
async function pullFile(name: string): Promise<void> {
  const res = await fetch(`${ui().apiUrl}/model/pull`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, source: MODEL_PATH }),
  })
  const text = await res.text()
  if (!res.ok || !text.includes('"done":true'))
    throw new Error(`pull of ${name}: ${res.status} ${text.slice(-300)}`)
}
const removeIfThere = (name: string) => fetch(`${ui().apiUrl}/model/${name}`, { method: 'DELETE' })

describe('Model Manager', () => {
  it("lists the node's models with size, quantization and context", async () => {
    const page = await browser.open(ui(), 'models')
    const row = page.locator(`[data-testid=model-row][data-name="${MODEL}"]`)
    await row.waitFor()
    const m = (await listed()).find((x) => x.name === MODEL)!
    expect(await row.getByTestId('model-size').textContent()).toBe('253 MB')
    expect(m.sizeBytes).toBe(MODEL_SIZE)
    expect(await row.getByTestId('model-quant').textContent()).toBe(m.quantization)
    expect(m.quantization).toBe('Q4_K_M')
    expect(await row.getByTestId('model-context').textContent()).toContain(
      m.contextLength!.toLocaleString('en-US'),
    )
    expect(await page.getByTestId('model-provider').textContent()).toContain('embedded')
  }, 60_000)

  it('pulls a GGUF from a URL to 100 %, and lists it', async () => {
    const name = 'pulled-by-url'
    try {
      const page = await browser.open(ui(), 'models')
      await page.getByTestId('model-pull-source').fill(`${filesUrl}/files/${name}.gguf`)
      expect(await page.getByTestId('model-pull-kind').textContent()).toContain(
        `a download from a URL → ${name}`,
      )
      await page.getByTestId('model-pull-start').click()
      const pull = page.locator(`[data-testid=model-pull][data-name="${name}"]`)
      await expect
        .poll(() => pull.getAttribute('data-phase'), { timeout: 120_000, interval: 250 })
        .toBe('done')
      expect(await pull.getByTestId('model-pull-percent').textContent()).toBe('100 %')
      expect(await pull.getByTestId('model-pull-bar').evaluate((e) => (e as HTMLProgressElement).value)).toBe(
        100,
      )
      const row = page.locator(`[data-testid=model-row][data-name="${name}"]`)
      await row.waitFor()
      expect(await row.getByTestId('model-size').textContent()).toBe('253 MB')
      const m = (await listed()).find((x) => x.name === name)
      expect(m).toMatchObject({ sizeBytes: MODEL_SIZE, quantization: 'Q4_K_M' })
      expect(statSync(join(modelsDir(ui()), `${name}.gguf`)).size).toBe(MODEL_SIZE)
      await browser.screenshot('model-manager')
    } finally {
      await removeIfThere(name)
    }
  }, 180_000)

  it('cancels a pull mid-transfer: nothing is kept', async () => {
    const name = 'stalled-pull'
    const page = await browser.open(ui(), 'models')
    await page.getByTestId('model-pull-source').fill(`${filesUrl}/stall/${name}.gguf`)
    await page.getByTestId('model-pull-start').click()
    const pull = page.locator(`[data-testid=model-pull][data-name="${name}"]`)
    await expect.poll(() => pull.getAttribute('data-phase'), { timeout: 60_000 }).toBe('downloading')
    const percent = Number.parseInt((await pull.getByTestId('model-pull-percent').textContent())!, 10)
    expect(percent).toBeGreaterThanOrEqual(0)
    expect(percent).toBeLessThan(100)
    await pull.getByTestId('model-pull-cancel').click()
    await expect.poll(() => pull.getAttribute('data-phase'), SETTLE).toBe('cancelled')
    // The agent holds no such pull any more, lists no such model, and left no file behind.
    await expect
      .poll(
        async () => (await fetch(`${ui().apiUrl}/model/pull/${name}`, { method: 'DELETE' })).status,
        SETTLE,
      )
      .toBe(404)
    expect((await listed()).map((m) => m.name)).not.toContain(name)
    expect(readdirSync(modelsDir(ui())).filter((f) => f.includes(name))).toEqual([])
  }, 120_000)

  it('swaps the active model', async () => {
    const name = 'swap-target'
    await pullFile(name)
    try {
      const page = await browser.open(ui(), 'models')
      const row = page.locator(`[data-testid=model-row][data-name="${name}"]`)
      await row.waitFor()
      const before = (await ui().api<{ activeModel: string }>('/model/status')).activeModel
      expect(before).not.toBe(name)
      expect(await page.getByTestId('model-active').textContent()).toBe(before)
      await row.getByTestId('model-swap').click()
      await expect.poll(() => page.getByTestId('model-active').textContent(), SETTLE).toBe(name)
      expect(await row.getAttribute('data-active')).toBe('true')
      expect(await page.getByTestId('model-notice').textContent()).toContain(
        `${name} is now the active model`,
      )
      expect((await ui().api<{ activeModel: string }>('/model/status')).activeModel).toBe(name)
      expect((await listed()).find((m) => m.active)?.name).toBe(name)
      await ui().api('/model/swap', { method: 'POST', json: { model: before } })
    } finally {
      await removeIfThere(name)
    }
  }, 180_000)

  it('removes a model only once the removal is confirmed', async () => {
    const name = 'to-remove'
    await pullFile(name)
    try {
      const page = await browser.open(ui(), 'models')
      const row = page.locator(`[data-testid=model-row][data-name="${name}"]`)
      await row.waitFor()
      const dialog = page.getByTestId('model-remove-dialog')
      await row.getByTestId('model-remove').click()
      await expect.poll(() => dialog.isVisible(), SETTLE).toBe(true)
      expect(await dialog.textContent()).toContain(`Remove ${name}?`)
      // Escape keeps it.
      await page.keyboard.press('Escape')
      await expect.poll(() => dialog.isVisible(), SETTLE).toBe(false)
      expect((await listed()).map((m) => m.name)).toContain(name)
      await row.getByTestId('model-remove').click()
      await page.getByTestId('model-remove-confirm').click()
      await expect.poll(() => row.count(), SETTLE).toBe(0)
      expect(await page.getByTestId('model-notice').textContent()).toBe(`${name} was removed.`)
      expect((await listed()).map((m) => m.name)).not.toContain(name)
      expect(existsSync(join(modelsDir(ui()), `${name}.gguf`))).toBe(false)
    } finally {
      await removeIfThere(name)
    }
  }, 180_000)

  it("shows the agent's errors as it gives them", async () => {
    const page = await browser.open(ui(), 'models')
    // The --model file is the operator's: the agent refuses to delete it.
    const row = page.locator(`[data-testid=model-row][data-name="${MODEL}"]`)
    await row.waitFor()
    await row.getByTestId('model-remove').click()
    await page.getByTestId('model-remove-confirm').click()
    const error = page.getByTestId('model-error')
    await error.waitFor()
    const api = (await (await fetch(`${ui().apiUrl}/model/${MODEL}`, { method: 'DELETE' })).json()) as {
      error: { code: string; message: string }
    }
    expect(api.error.code).toBe('not_managed')
    expect(await error.textContent()).toContain(`not_managed ${api.error.message}`)
    expect((await listed()).map((m) => m.name)).toContain(MODEL)
    // A name the model catalog lacks (it has tagged names only): the pull ends with the agent's reason.
    await page.getByTestId('model-pull-source').fill('qwen2.5-coder')
    await page.getByTestId('model-pull-start').click()
    const pull = page.locator('[data-testid=model-pull][data-name="qwen2.5-coder"]')
    await expect.poll(() => pull.getAttribute('data-phase'), SETTLE).toBe('failed')
    const reason = await pull.getByTestId('model-pull-error').textContent()
    expect(reason).toContain('unknown_model')
    expect(reason).toContain('qwen2.5-coder:1.5b')
  }, 60_000)
})
