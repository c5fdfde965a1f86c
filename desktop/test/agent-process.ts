import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
const READY_PREFIX = 'EDGECODER_READY '

export interface ReadyLine {
  peerId: string
  apiUrl: string
  pid: number
  version: string
  p2pAddrs: string[]
}

/** A real agent, started from the checkout the way an operator would. */
export class AgentProcess {
  #log = ''
  private constructor(
    readonly proc: ChildProcess,
    readonly ready: ReadyLine,
    readonly dataDir: string,
  ) {}

  /** `args` are added to `start` (a mesh test's region, bootstrap peers, mode...). */
  static async start(timeoutMs = 60_000, args: string[] = []): Promise<AgentProcess> {
    const dataDir = mkdtempSync(join(tmpdir(), 'edgecoder-desktop-test-'))
    const proc = spawn(
      join(REPO_ROOT, 'bin/edgecoder'),
      ['start', '--api-port', '0', '--p2p-port', '0', '--data-dir', dataDir, ...args],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let log = ''
    proc.stderr!.on('data', (d) => (log += d))
    const ready = await new Promise<ReadyLine>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`agent not ready within ${timeoutMs} ms:\n${log}`)),
        timeoutMs,
      )
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        if (!line.startsWith(READY_PREFIX)) return
        clearTimeout(timer)
        resolveReady(JSON.parse(line.slice(READY_PREFIX.length)) as ReadyLine)
      })
      proc.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`agent exited with ${code} before it was ready:\n${log}`))
      })
    })
    const agent = new AgentProcess(proc, ready, dataDir)
    proc.stderr!.on('data', (d) => (agent.#log += d))
    return agent
  }

  get apiUrl(): string {
    return this.ready.apiUrl
  }

  log(): string {
    return this.#log
  }

  async api<T>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> {
    const res = await fetch(`${this.apiUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: init.json === undefined ? {} : { 'content-type': 'application/json' },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    })
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`)
    return (await res.json()) as T
  }

  /** SIGTERM, and the data dir removed; resolves once the process has exited. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r))
      this.proc.kill('SIGTERM')
      await exited
    }
    rmSync(this.dataDir, { recursive: true, force: true })
  }
}
