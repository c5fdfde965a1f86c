/**
 * First meaningful paint of the Mesh Topology, Task Queue and Model Manager panels, and the
 * page's JS heap, with 50 peers. Fifty real agents don't fit on one small machine, so the UI is
 * fed by a STAND-IN API: a plain HTTP server in this process that serves the built UI at /ui and
 * answers the routes these panels read with 50 synthetic peers (8 regions), 20 tasks with routes
 * and 3 models, and a live /events stream. What is measured is the UI, not the agent.
 *
 * First meaningful paint: from navigation start to the frame after the panel's data is in the
 * DOM (all 50 graph nodes; the task rows; the model rows). Heap: V8's used heap after a forced GC
 * (CDP), once loaded and again after 500 live peer updates.
 * Run: (cd desktop && npx vite build) && node bench/desktop-panels.ts [runs=7] [rounds=10]
 * (DESKTOP_SCREENSHOT_DIR=dir also saves the 50-peer graph in the light and the dark theme)
 */
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { load1, machine, median, writeSection } from './results.ts'

const RUNS = Number(process.argv[2] ?? 7)
/** Rounds of 50 live peer updates before the heap is read again. */
const ROUNDS = Number(process.argv[3] ?? 10)
const PEERS = 50
const DIST = join(import.meta.dirname, '../desktop/dist')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
if (!existsSync(join(DIST, 'index.html')))
  throw new Error('build the UI first: (cd desktop && npx vite build)')

const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south', 'ap-northeast', 'sa-east', null]
const STATES = ['online', 'online', 'online', 'online', 'suspect', 'offline'] as const
const id = (i: number) => `12D3KooWStandIn${String(i).padStart(4, '0')}${'x'.repeat(32)}`
const peers = Array.from({ length: PEERS }, (_, i) => ({
  peerId: id(i),
  state: STATES[i % STATES.length],
  region: REGIONS[i % REGIONS.length],
  roles: ['coordinator', 'worker'],
  models:
    i % 3 === 0
      ? [
          {
            name: 'gemma-3-270m-Q4_K_M',
            family: 'gemma3',
            parameters: '270M',
            quantization: 'Q4_K_M',
            contextLength: 32768,
          },
        ]
      : [],
  slots: { total: 2, free: i % 3 },
  queueDepth: i % 4,
  load: (i % 10) / 10,
  power: 'active',
  rttMs: 0.3 + (i % 7) * 11.5,
  lastSeen: new Date().toISOString(),
  connection: i % 9 === 0 ? 'relayed' : i % 13 === 0 ? null : 'direct',
  addrs: [`/ip4/10.0.0.${i}/tcp/4001/p2p/${id(i)}`],
}))
const now = new Date().toISOString()
const tasks = Array.from({ length: 20 }, (_, i) => ({
  id: `task-${String(i).padStart(4, '0')}-0000-0000-000000000000`,
  kind: 'run',
  submitter: 'local',
  priority: 'normal',
  status: ['succeeded', 'running', 'queued', 'failed'][i % 4],
  spec: { kind: 'run', language: 'python', code: 'def f():\n    return 1\n', tests: 'assert f() == 1' },
  result: null,
  error: null,
  runs: 1,
  createdAt: now,
  startedAt: now,
  finishedAt: null,
  updatedAt: now,
  executor: { peerId: id(i), local: false, attempt: 1, taskId: 'copy' },
  route: [
    {
      at: now,
      attempt: 1,
      peerId: id(i),
      local: false,
      via: null,
      event: 'chosen',
      reasons: ['peer online', 'free 1/2'],
      score: 1.5,
    },
    {
      at: now,
      attempt: 1,
      peerId: id(i),
      local: false,
      via: null,
      event: 'accepted',
      reasons: ['direct stream'],
      score: null,
    },
  ],
  origin: null,
}))
const model = (name: string, active: boolean) => ({
  name,
  sizeBytes: 253_113_024,
  family: 'gemma3',
  parameters: '270M',
  quantization: 'Q4_K_M',
  contextLength: 32768,
  servedContext: 4096,
  path: `/data/models/${name}.gguf`,
  active,
  provider: 'embedded',
})
const settings = {
  maxConcurrentTasks: 2,
  powerPolicy: { mode: 'always' },
  coordinatorRole: true,
  meshToken: null,
  region: 'eu-west',
  contributing: true,
}
const status = {
  tasks: { completed: 5, failed: 1, running: 5, queued: 5 },
  queueDepth: 5,
  earnings: { credits: 0, earned: 0, spent: 0 },
  peers: PEERS,
  uptimeSec: 100,
}
const ROUTES: Record<string, unknown> = {
  '/health/runtime': {
    peerId: id(999),
    mode: 'all-in-one',
    version: 'stand-in',
    uptimeSec: 100,
    addresses: [],
    provider: { name: 'embedded', reason: 'configured' },
    model: { name: 'gemma-3-270m-Q4_K_M', loaded: true },
    peers: { total: PEERS, online: 34 },
    queue: { depth: 5, running: 5 },
    reachability: 'private',
    store: { ok: true },
  },
  '/status': status,
  '/orchestration/settings': settings,
  '/mesh/peers': { peers },
  '/model/list': {
    provider: 'embedded',
    models: [model('gemma-3-270m-Q4_K_M', true), model('qwen-coder', false), model('gemma-copy', false)],
  },
  '/model/status': {
    provider: 'embedded',
    activeModel: 'gemma-3-270m-Q4_K_M',
    loaded: true,
    contextSize: 4096,
    memoryBytes: 400e6,
    lastTokensPerSecond: 41.2,
    running: 0,
    queued: 0,
    reason: 'configured',
  },
  '/credits/history': { entries: [], next: null },
}
const streams = new Set<ServerResponse>()
let eventId = 0

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]!
  if (path.startsWith('/ui/')) {
    const file = normalize(join(DIST, path.slice(4) || 'index.html'))
    if (!file.startsWith(DIST) || !existsSync(file)) return void res.writeHead(404).end()
    const type = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' }[
      extname(file)
    ]
    return void res
      .writeHead(200, { 'content-type': type ?? 'application/octet-stream' })
      .end(readFileSync(file))
  }
  if (path === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(`event: hello\nid: ${eventId}\ndata: ${JSON.stringify({ status, settings })}\n\n`)
    streams.add(res)
    res.on('close', () => streams.delete(res))
    return
  }
  const json = (body: unknown) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  if (path === '/tasks') return json({ tasks, nextCursor: null })
  if (path.startsWith('/tasks/')) return json(tasks.find((t) => t.id === path.slice(7)) ?? tasks[0])
  if (path.startsWith('/agent-mesh/peers/')) {
    const p = peers.find((x) => x.peerId === decodeURIComponent(path.slice(18)))
    if (!p) return void res.writeHead(404).end()
    return json({
      ...p,
      advert: {
        body: { v: 1, ...p, seq: 9, version: 'stand-in', timestamp: Date.now(), intervalMs: 10000 },
        sig: 'x',
      },
      advertReceivedAt: now,
      firstSeen: now,
      history: [],
    })
  }
  if (path in ROUTES) return json(ROUTES[path])
  res
    .writeHead(404, { 'content-type': 'application/json' })
    .end('{"error":{"code":"not_found","message":"stand-in"}}')
})
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`

/** One `peer-updated` per peer: what 50 heartbeats look like on /events. */
function pushPeerUpdates(load: number): void {
  for (const p of peers) {
    p.load = load
    const block = `event: peer-updated\nid: ${++eventId}\ndata: ${JSON.stringify({ ...p, change: 'advert' })}\n\n`
    for (const s of streams) s.write(block)
  }
}

const READY: Record<string, { selector: string; count: number }> = {
  mesh: { selector: '[data-testid=mesh-node]', count: PEERS },
  tasks: { selector: '[data-testid=task-row]', count: 20 },
  models: { selector: '[data-testid=model-row]', count: 3 },
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--enable-precise-memory-info'],
})

/** Navigation start to the frame after `ready` first holds, measured inside the page. */
async function firstMeaningfulPaint(page: Page, panel: string): Promise<number> {
  const { selector, count } = READY[panel]!
  // Run in the page before its own scripts (a string: this file is compiled without DOM types).
  await page.addInitScript(`
    window.__fmp = new Promise((resolve) => {
      const check = () => {
        if (document.querySelectorAll(${JSON.stringify(selector)}).length !== ${count}) return false
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())))
        return true
      }
      const start = () => {
        if (check()) return
        const obs = new MutationObserver(() => check() && obs.disconnect())
        obs.observe(document.documentElement, { childList: true, subtree: true, attributes: true })
      }
      if (document.documentElement) start()
      else addEventListener('DOMContentLoaded', start)
    })`)
  await page.goto(`${base}/ui/#/${panel}`)
  return (await page.evaluate('window.__fmp')) as number
}

async function heapMb(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('HeapProfiler.collectGarbage')
  const { usedSize } = await cdp.send('Runtime.getHeapUsage')
  await cdp.detach()
  return usedSize / 1024 / 1024
}

const results: Record<string, { fmp: number[]; heap: number[] }> = {}
for (const panel of ['mesh', 'tasks', 'models']) {
  results[panel] = { fmp: [], heap: [] }
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    const page = await context.newPage()
    results[panel].fmp.push(await firstMeaningfulPaint(page, panel))
    results[panel].heap.push(await heapMb(page))
    await context.close()
  }
}

// The mesh panel under live traffic: ROUNDS rounds of 50 peer updates, then the heap again.
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
const page = await context.newPage()
await firstMeaningfulPaint(page, 'mesh')
const heapLoaded = await heapMb(page)
for (let round = 0; round < ROUNDS; round++) {
  // Every peer's load in the table shows this round's value once the page applied all 50.
  const load = ((round % 19) + 1) / 20
  pushPeerUpdates(load)
  await page.waitForFunction(
    `[...document.querySelectorAll('tr[data-peer-id] td:nth-child(5)')].every((td) => td.textContent === '${Math.round(load * 100)} %')`,
  )
}
const heapAfterUpdates = await heapMb(page)
await context.close()

// With DESKTOP_SCREENSHOT_DIR set: the 50-peer graph with a peer chosen, in both themes.
const shots = process.env.DESKTOP_SCREENSHOT_DIR
if (shots)
  for (const colorScheme of ['light', 'dark'] as const) {
    const c = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme })
    const p = await c.newPage()
    await firstMeaningfulPaint(p, 'mesh')
    await p.locator(`[data-testid=mesh-node][data-peer-id="${id(3)}"]`).click()
    await p.getByTestId('peer-exchange').waitFor()
    await p.screenshot({ path: join(shots, `mesh-topology-50-peers-${colorScheme}.png`) })
    await c.close()
  }
await browser.close()
for (const s of streams) s.end()
server.close()

const f = (x: number) => x.toFixed(0)
const rows = Object.entries(results).map(
  ([panel, r]) =>
    `| ${panel} | ${f(median(r.fmp))} ms (${f(Math.min(...r.fmp))}–${f(Math.max(...r.fmp))}) | ${median(r.heap).toFixed(1)} MB |`,
)
const body = `Run: \`node bench/desktop-panels.ts ${RUNS} ${ROUNDS}\` on ${machine()}, load average (1 min) ${load1()} at the end;
headless Chromium against the UI as the agent serves it at \`/ui\`. The ${PEERS} peers come from a stand-in HTTP API inside
the bench (synthetic peers in 8 regions, 20 tasks, 3 models), not from ${PEERS} real agents. First meaningful paint is
navigation start to the frame after the panel's data is in the page; heap is V8's used heap after a forced GC.

| panel | first meaningful paint, median of ${RUNS} (min–max) | JS heap after GC, median |
|---|---|---|
${rows.join('\n')}

Mesh Topology heap: ${heapLoaded.toFixed(1)} MB loaded, ${heapAfterUpdates.toFixed(1)} MB after ${ROUNDS * PEERS} live peer updates.`
writeSection('Desktop panels', body)
console.log(body)
