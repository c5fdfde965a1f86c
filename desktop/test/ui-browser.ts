import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { build } from 'vite'

const APP_DIR = resolve(import.meta.dirname, '..')
const REPO = resolve(APP_DIR, '..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Agents start in seconds, but on a loaded two-core machine it can take far longer. */
export const SLOW_START = { timeoutMs: 90_000 }

let built: Promise<unknown> | null = null

/** Builds `desktop/dist` once per test file: the agents serve it at /ui. */
export function buildUi(): Promise<unknown> {
  built ??= build({ root: APP_DIR, logLevel: 'warn' })
  return built
}

/** Debian's Chromium, headless, in a throwaway profile. */
export class UiBrowser {
  private constructor(
    readonly context: BrowserContext,
    readonly profile: string,
  ) {}

  static async launch(): Promise<UiBrowser> {
    const profile = mkdtempSync(join(tmpdir(), 'edgecoder-chromium-'))
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
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
    return new UiBrowser(context, profile)
  }

  /** A fresh tab on `url`. */
  async open(url: string): Promise<Page> {
    const page = await this.context.newPage()
    await page.goto(url)
    return page
  }

  async close(): Promise<void> {
    await this.context.close()
    rmSync(this.profile, { recursive: true, force: true })
  }
}

/** Saves `<name>.png`, and `<name>-dark.png` in the dark theme, when DESKTOP_SCREENSHOT_DIR is set. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.DESKTOP_SCREENSHOT_DIR
  if (!dir) return
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true })
  await page.emulateMedia({ colorScheme: 'dark' })
  await page.screenshot({ path: join(dir, `${name}-dark.png`), fullPage: true })
  await page.emulateMedia({ colorScheme: 'light' })
}

/**
 * First meaningful paint of a panel loaded fresh: ms from navigation start to the panel's
 * `panel-ready:<id>` mark (set once it draws real data).
 */
export async function panelReadyMs(page: Page, id: string): Promise<number> {
  const name = `panel-ready:${id}`
  await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, name)
  return page.evaluate((n) => performance.getEntriesByName(n)[0]!.startTime, name)
}

let portalBuilt: Promise<void> | null = null

/** Builds the portal's own UI (`packages/portal/ui/dist`) with the workspace's tools, once per file. */
export function buildPortalUi(): Promise<void> {
  portalBuilt ??= new Promise((resolveBuilt, reject) => {
    execFile(
      process.execPath,
      [
        resolve(REPO, 'node_modules/vite/bin/vite.js'),
        'build',
        '--logLevel',
        'warn',
        '--config',
        'packages/portal/ui/vite.config.ts',
      ],
      { cwd: REPO },
      (err, _out, stderr) => (err ? reject(new Error(`portal UI build failed: ${stderr}`)) : resolveBuilt()),
    )
  })
  return portalBuilt
}

/** Loads `url` fresh `runs` times and reports the panel's first meaningful paint: median, min, max (ms). */
export async function measurePaint(
  browser: UiBrowser,
  url: string,
  id: string,
  runs = 5,
): Promise<{ median: number; min: number; max: number; runs: number }> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const page = await browser.open(url)
    times.push(await panelReadyMs(page, id))
    await page.close()
  }
  times.sort((x, y) => x - y)
  const r = { median: times[Math.floor(runs / 2)]!, min: times[0]!, max: times.at(-1)!, runs }
  console.log(
    `first meaningful paint, ${id}: median ${r.median.toFixed(0)} ms (min ${r.min.toFixed(0)}, max ${r.max.toFixed(0)}, ${runs} fresh loads)`,
  )
  return r
}
