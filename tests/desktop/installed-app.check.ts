import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, createReadStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CreditBalance, CreditHistory, MeshPeer, TaskRecord } from '@edgecoder/protocol'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PANELS } from '../../desktop/src/lib/panels.ts'
import { type AgentProcess, cleanupAgents, startAgent, waitFor } from '../e2e/harness.ts'
import { peersOf, tcpAddr } from '../e2e/mesh-helpers.ts'
import { submitOk, waitForStatus } from '../e2e/tasks-helpers.ts'

/**
 * The installed desktop app (launched by scripts/desktop-ci.sh under Xvfb) in a live mesh: two
 * agents from this checkout, a coordinator that submits and a worker. The app's agent is given
 * the mesh token and its bootstrap peer in its Settings panel (the UI it bundles, at /ui), pulls
 * the test model twice from a local HTTP server in the Model Manager and swaps to the second,
 * runs a chat task the coordinator sent it, and shows the credits it earned. Then a screenshot of
 * every panel of the app's window.
 *
 *   DESKTOP_API               the app's agent (default http://127.0.0.1:4301)
 *   EDGECODER_TEST_MODEL      the GGUF to serve for the pull (scripts/fetch-model.sh)
 *   DESKTOP_APP_BIN           the installed app (default /usr/bin/edgecoder-desktop)
 *   DESKTOP_APP_LOG           the app's stderr, for failure messages
 *   DESKTOP_PANEL_SHOTS       where the panel screenshots go
 *   DESKTOP_BENCH_SHOTS       a second copy for the docs (bench/screenshots)
 */
const API = process.env.DESKTOP_API ?? 'http://127.0.0.1:4301'
const TOKEN = 'desktop-tier4-mesh-token-0123456789'
const MODEL = 'tier4-gemma'
const FIRST_MODEL = 'tier4-first'
const MODEL_PATH = process.env.EDGECODER_TEST_MODEL ?? ''
const APP_BIN = process.env.DESKTOP_APP_BIN ?? '/usr/bin/edgecoder-desktop'
const SHOTS = process.env.DESKTOP_PANEL_SHOTS ?? join(tmpdir(), 'edgecoder-desktop-panels')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** A loaded 2-core machine loads and runs even this small model slowly. */
const MODEL_TASK_MS = 240_000

// biome-ignore lint/suspicious/noExplicitAny: response bodies read in assertions
type Json = any

/** The installed app's agent, through the API its window uses. */
async function app(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const { json, ...rest } = init
  const headers = new Headers(rest.headers)
  if (json !== undefined) headers.set('content-type', 'application/json')
  return fetch(API + path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body })
}

async function appJson<T>(path: string, init?: RequestInit & { json?: unknown }): Promise<T> {
  const res = await app(path, init)
  const body = await res.text()
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path} answered ${res.status}: ${body}`)
  return JSON.parse(body) as T
}

const appLogTail = () => {
  try {
    return readFileSync(process.env.DESKTOP_APP_LOG ?? '', 'utf8')
      .split('\n')
      .slice(-40)
      .join('\n')
  } catch {
    return '(no app log)'
  }
}

let appId: string
let coordinator: AgentProcess
let worker: AgentProcess
let files: Server
let filesUrl: string
let browser: BrowserContext | undefined
let page: Page
let profile: string | undefined
/** What the app earned for the coordinator's task, as its own chain has it. */
let earning: CreditHistory['entries'][number]

beforeAll(async () => {
  expect(MODEL_PATH, 'EDGECODER_TEST_MODEL names the test model').not.toBe('')
  appId = (await appJson<{ peerId: string }>('/health/runtime')).peerId
  files = createServer((req, res) => {
    if (req.url !== `/${MODEL}.gguf` && req.url !== `/${FIRST_MODEL}.gguf`)
      return void res.writeHead(404).end()
    res.writeHead(200, { 'content-length': statSync(MODEL_PATH).size })
    createReadStream(MODEL_PATH).pipe(res)
  })
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r))
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`
  // The UI the app bundles, served by its agent at /ui, in Chromium: its DOM can be driven and read.
  profile = join(tmpdir(), `edgecoder-tier4-chromium-${process.pid}`)
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  })
  page = browser.pages()[0] ?? (await browser.newPage())
}, 120_000)

afterAll(async () => {
  await browser?.close()
  if (profile) rmSync(profile, { recursive: true, force: true })
  await cleanupAgents()
  await new Promise((r) => files?.close(r))
})

/**
 * An agent of the mesh on loopback with a short advert heartbeat. Executors' task heartbeats are
 * asked at 5 s: a model loading on a loaded machine can hold the app's agent up for seconds,
 * which is no stall.
 */
function startNode(mode: 'coordinator' | 'worker', extra: string[]): Promise<AgentProcess> {
  const args = ['--mode', mode, '--p2p-host', '127.0.0.1', '--advert-interval-ms', '1000']
  return startAgent({ timeoutMs: 60_000, args: [...args, '--task-heartbeat-ms', '5000', ...extra] })
}

const onlineIds = (peers: MeshPeer[]) => peers.filter((p) => p.state === 'online').map((p) => p.peerId)

describe('the installed app in a live mesh', () => {
  it('joins the mesh with the token and bootstrap peer given in Settings', async () => {
    await page.goto(`${API}/ui/#/settings`)
    await page.getByTestId('mesh-token-change').click()
    await page.getByTestId('mesh-token-input').fill(TOKEN)
    await page.getByTestId('mesh-token-save').click()
    await page.getByTestId('confirm-token-confirm').click()
    await expect
      .poll(() => page.getByTestId('note-meshToken').textContent(), { timeout: 30_000 })
      .toContain('applied now')
    expect((await appJson<Json>('/orchestration/settings')).meshToken).not.toBeNull()
    const token = ['--mesh-token', TOKEN]
    coordinator = await startNode('coordinator', token)
    worker = await startNode('worker', [...token, '--bootstrap', tcpAddr(coordinator)])
    await page.getByTestId('bootstrap-input').fill(tcpAddr(coordinator))
    await page.getByTestId('bootstrap-add').click()
    await expect
      .poll(() => page.getByTestId('note-bootstrapPeers').textContent(), { timeout: 30_000 })
      .toContain('applied now')
    expect((await appJson<Json>('/orchestration/settings')).bootstrapPeers).toEqual([tcpAddr(coordinator)])
    await waitFor(
      async () => {
        const seen = onlineIds((await appJson<{ peers: MeshPeer[] }>('/mesh/peers')).peers)
        const back = onlineIds(await peersOf(coordinator))
        return (
          seen.includes(coordinator.ready.peerId) &&
          seen.includes(worker.ready.peerId) &&
          back.includes(appId)
        )
      },
      60_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\napp log:\n${appLogTail()}`)
    })
  }, 180_000)

  it('pulls the model from a local HTTP server to 100 % and swaps to it', async () => {
    await page.goto(`${API}/ui/#/models`)
    // The first model pulled becomes active by itself; the second is swapped to.
    for (const name of [FIRST_MODEL, MODEL]) {
      await page.getByTestId('model-pull-source').fill(`${filesUrl}/${name}.gguf`)
      await page.getByTestId('model-pull-start').click()
      const pull = page.locator(`[data-testid=model-pull][data-name="${name}"]`)
      await expect
        .poll(() => pull.getAttribute('data-phase'), { timeout: 240_000, interval: 250 })
        .toBe('done')
      expect(await pull.getByTestId('model-pull-percent').textContent()).toBe('100 %')
    }
    await expect
      .poll(() => page.getByTestId('model-active').textContent(), { timeout: 60_000 })
      .toBe(FIRST_MODEL)
    const row = page.locator(`[data-testid=model-row][data-name="${MODEL}"]`)
    await row.waitFor({ timeout: 20_000 })
    await row.getByTestId('model-swap').click()
    await expect.poll(() => page.getByTestId('model-active').textContent(), { timeout: 60_000 }).toBe(MODEL)
    const list = await appJson<{ models: { name: string }[] }>('/model/list')
    expect(list.models.map((m) => m.name)).toContain(MODEL)
    const runtime = await appJson<Json>('/health/runtime')
    expect(runtime.model?.name).toBe(MODEL)
    // The coordinator routes by adverts: wait until the app's says it serves the model.
    await waitFor(
      async () =>
        (await peersOf(coordinator)).some(
          (p) => p.peerId === appId && p.models.some((m) => m.name === MODEL),
        ),
      30_000,
      250,
    )
  }, 300_000)

  it(
    'runs a task the coordinator sent it and earns credits for it',
    async () => {
      // UI step (Task Queue panel): the task shows with its route and this node as executor.
      const id = await submitOk(coordinator, {
        kind: 'chat',
        model: MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        maxTokens: 8,
        temperature: 0,
      })
      const task: TaskRecord = await waitForStatus(coordinator, id, undefined, MODEL_TASK_MS)
      expect(task.status, JSON.stringify(task.result)).toBe('succeeded')
      expect(task.executor).toMatchObject({ peerId: appId, local: false })
      const settled = await waitFor(
        async () => {
          const b = await appJson<CreditBalance>('/credits/balance')
          return b.pendingIn === 0 && b.earned > 0 ? b : null
        },
        30_000,
        250,
      )
      const history = await appJson<CreditHistory>('/credits/history')
      const entry = history.entries.find(
        (e) => e.direction === 'in' && e.counterparty === coordinator.ready.peerId,
      )
      expect(entry).toMatchObject({ state: 'settled' })
      expect(entry!.credits).toBeGreaterThan(0)
      earning = entry!
      expect(settled!.earned).toBe(
        history.entries.filter((e) => e.direction === 'in').reduce((n, e) => n + e.credits, 0),
      )
    },
    MODEL_TASK_MS + 60_000,
  )

  it('shows the peers, the model and the credits earned in its UI', async () => {
    await page.goto(`${API}/ui/#/dashboard`)
    const earned = (await appJson<CreditBalance>('/credits/balance')).earned
    const stat = (id: string) => page.getByTestId(id).textContent()
    await expect.poll(() => stat('stat-earnings'), { timeout: 15_000 }).toBe(`${earned} credits`)
    await expect.poll(() => stat('stat-peers'), { timeout: 15_000 }).toBe('2')
    expect(await stat('stat-model')).toBe(MODEL)
    await page.goto(`${API}/ui/#/credits`)
    const { balance } = await appJson<CreditBalance>('/credits/balance')
    await expect
      .poll(() => page.getByTestId('credit-balance').textContent(), { timeout: 20_000 })
      .toBe(`${balance} credits`)
    const row = page.locator(`[data-testid=transfer][data-seq="${earning.seq}"]`)
    await row.waitFor({ timeout: 20_000 })
    expect(await row.getByTestId('transfer-counterparty').getAttribute('data-peer')).toBe(
      coordinator.ready.peerId,
    )
    expect(await row.getAttribute('data-state')).toBe('settled')
    await page.goto(`${API}/ui/#/mesh`)
    for (const peer of [coordinator, worker])
      await page
        .locator(`[data-testid=mesh-node][data-peer-id="${peer.ready.peerId}"]`)
        .waitFor({ timeout: 20_000 })
  })

  it('keeps a screenshot of every panel of its window', async () => {
    mkdirSync(SHOTS, { recursive: true })
    let previous: string | undefined
    for (const panel of PANELS) {
      // A second launch hands the panel to the running app and exits.
      execFileSync(APP_BIN, ['--panel', panel.id], { timeout: 15_000, stdio: 'ignore' })
      const shot = join(SHOTS, `${panel.id}.png`)
      await settledShot(shot, previous)
      previous = shot
      const bench = process.env.DESKTOP_BENCH_SHOTS
      if (bench) {
        mkdirSync(bench, { recursive: true })
        copyFileSync(shot, join(bench, `desktop-${panel.id}.png`))
      }
    }
  })
})

/** Pixels that differ between two screenshots (a small fuzz hides anti-aliasing noise). */
function differingPixels(a: string, b: string): number {
  const r = spawnSync('compare', ['-metric', 'AE', '-fuzz', '2%', a, b, 'null:'], { encoding: 'utf8' })
  if (r.status === 2) throw new Error(`compare ${a} ${b}: ${r.stderr}`)
  return Number.parseFloat(r.stderr)
}

/**
 * Screenshots the screen into `path` once the window has left the previous panel (the nav's
 * highlight alone moves thousands of pixels) and settled: two captures in a row nearly alike
 * (a ticking uptime still changes a few hundred pixels).
 */
async function settledShot(path: string, previous: string | undefined): Promise<void> {
  const candidate = `${path}.next.png`
  const deadline = Date.now() + 15_000
  let last: string | undefined
  for (;;) {
    execFileSync('import', ['-window', 'root', candidate])
    const moved = previous === undefined || differingPixels(candidate, previous) > 4_000
    if (moved && last !== undefined && differingPixels(candidate, last) < 1_500) break
    if (Date.now() > deadline)
      throw new Error(`the window did not settle on ${path} (moved from the last panel: ${moved})`)
    if (moved) {
      copyFileSync(candidate, path)
      last = path
    }
    await new Promise((r) => setTimeout(r, 300))
  }
  copyFileSync(candidate, path)
  rmSync(candidate)
}
