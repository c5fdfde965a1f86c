import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { build } from 'vite'
import { AgentProcess } from './agent-process.ts'

const APP_DIR = resolve(import.meta.dirname, '..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** How long a UI state may take to follow the agent on a loaded machine (expect.poll's own default is 1 s). */
export const SETTLE = { timeout: 30_000, interval: 100 }

export interface MeshNode {
  region: string
  /** Flags besides the mesh's own: mode, model... */
  args?: string[]
}

/**
 * Real agents joined in a private mesh of their own (a fresh mesh token, loopback, no mDNS, a
 * short advert heartbeat), the first one the entry point of the others.
 */
export class PanelMesh {
  private constructor(
    readonly agents: AgentProcess[],
    readonly token: string,
  ) {}

  static async start(nodes: MeshNode[]): Promise<PanelMesh> {
    const token = randomBytes(18).toString('base64url')
    const [first, ...rest] = nodes
    const seed = await AgentProcess.start(90_000, [...meshArgs(token, first!), ...(first!.args ?? [])])
    const agents = [seed]
    try {
      const boot = ['--bootstrap', tcpAddr(seed)]
      agents.push(
        ...(await Promise.all(
          rest.map((n) => AgentProcess.start(90_000, [...meshArgs(token, n), ...boot, ...(n.args ?? [])])),
        )),
      )
      const mesh = new PanelMesh(agents, token)
      await mesh.untilMeshed()
      return mesh
    } catch (err) {
      await Promise.all(agents.map((a) => a.stop()))
      throw err
    }
  }

  /** Another agent joining through the first one. */
  async join(node: MeshNode): Promise<AgentProcess> {
    const a = await AgentProcess.start(90_000, [
      ...meshArgs(this.token, node),
      '--bootstrap',
      tcpAddr(this.agents[0]!),
      ...(node.args ?? []),
    ])
    this.agents.push(a)
    return a
  }

  /** Waits until every agent lists every other one online. */
  async untilMeshed(timeout = 120_000): Promise<void> {
    const live = this.agents.filter((a) => a.proc.exitCode === null && a.proc.signalCode === null)
    const meshed = async () => {
      const views = await Promise.all(
        live.map(async (a) => {
          const { peers } = await a.api<{ peers: { peerId: string; state: string }[] }>('/mesh/peers')
          const online = new Set(peers.filter((p) => p.state === 'online').map((p) => p.peerId))
          return live.every((o) => o === a || online.has(o.ready.peerId))
        }),
      )
      return views.every(Boolean)
    }
    await until(meshed, timeout, 'the agents did not all see each other online')
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()))
  }
}

function meshArgs(token: string, node: MeshNode): string[] {
  return [
    '--p2p-host',
    '127.0.0.1',
    '--no-mdns',
    '--mesh-token',
    token,
    // 3 s: short enough that a stopped node shows within seconds, long enough that a loaded
    // machine's stalls (a peer turns suspect after 1.5 heartbeats of silence) don't flap the mesh.
    '--advert-interval-ms',
    '3000',
    '--region',
    node.region,
  ]
}

export function tcpAddr(a: AgentProcess): string {
  const addr = a.ready.p2pAddrs.find(
    (x) => x.includes('/tcp/') && !x.includes('/ws') && !x.includes('p2p-circuit'),
  )
  if (!addr) throw new Error(`no TCP address in ${a.ready.p2pAddrs.join(' ')}`)
  return addr
}

/** Builds the UI once per test file (the agents serve it from desktop/dist at /ui). */
export async function buildUi(): Promise<void> {
  await build({ root: APP_DIR, logLevel: 'warn' })
}

/** Debian's Chromium, headless, with a profile of its own. */
export class PanelBrowser {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly profile: string,
  ) {}

  static async launch(): Promise<PanelBrowser> {
    const profile = mkdtempSync(join(tmpdir(), 'edgecoder-chromium-'))
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 860 },
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
    const page = context.pages()[0] ?? (await context.newPage())
    return new PanelBrowser(context, page, profile)
  }

  /** Opens a panel of the UI the agent serves; a fresh page load, so no state is carried over. */
  async open(agent: AgentProcess, panel: string): Promise<Page> {
    await this.page.goto('about:blank')
    await this.page.goto(`${agent.apiUrl}/ui/#/${panel}`)
    return this.page
  }

  /** Saves `<name>.png` when DESKTOP_SCREENSHOT_DIR is set. */
  async screenshot(name: string): Promise<void> {
    const dir = process.env.DESKTOP_SCREENSHOT_DIR
    if (dir) await this.page.screenshot({ path: join(dir, `${name}.png`), fullPage: true })
  }

  async close(): Promise<void> {
    await this.context.close()
    rmSync(this.profile, { recursive: true, force: true })
  }
}

/** Polls `check` until it holds (a state reached, not a time passed); fails after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 200))
  }
}
