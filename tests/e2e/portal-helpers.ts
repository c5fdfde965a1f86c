import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { PORTAL_READY_PREFIX, type PortalReady } from '../../packages/portal/src/index.ts'
import type { LndDouble } from '../../packages/portal/test/helpers/lnd-double.ts'
import { REPO_ROOT } from './harness.ts'

const CLI = join(REPO_ROOT, 'packages/agent/src/cli/main.ts')

export interface PortalProcess {
  proc: ChildProcess
  ready: Promise<PortalReady>
  exited: Promise<number | string>
  stderr: () => string
}

/** `edgecoder portal start` as its own process (for signals and crashes). */
export function startPortalProcess(args: string[], env: Record<string, string> = {}): PortalProcess {
  const proc = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', CLI, 'portal', 'start', ...args],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stderr = ''
  proc.stderr!.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise<number | string>((r) => proc.on('exit', (code, sig) => r(code ?? sig ?? -1)))
  const ready = new Promise<PortalReady>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.startsWith(PORTAL_READY_PREFIX)) resolve(JSON.parse(line.slice(PORTAL_READY_PREFIX.length)))
    })
    exited.then((c) => reject(new Error(`portal exited (${c}) before ready\n${stderr}`)))
  })
  return { proc, ready, exited, stderr: () => stderr }
}

/** Portal flags for a wallet on the LND double (regtest invoices), its macaroon written to `dir`. */
export function walletArgs(lnd: LndDouble, dir: string, satsPerCredit: number): string[] {
  const macaroon = join(dir, 'admin.macaroon')
  writeFileSync(macaroon, Buffer.from(lnd.macaroonHex, 'hex'))
  return [
    '--lnd-url',
    lnd.url,
    '--lnd-macaroon-file',
    macaroon,
    '--network',
    'bcrt',
    '--sats-per-credit',
    String(satsPerCredit),
    '--withdraw-max-sats',
    '100000',
  ]
}
