import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { READY_PREFIX, type ReadyLine } from '@edgecoder/protocol'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
const CLI = join(REPO_ROOT, 'packages/agent/src/cli/main.ts')
/** The operator's entry point: its Node flags and the agent's bundle (scripts/build-agent.ts). */
export const BIN = join(REPO_ROOT, 'bin/edgecoder')

/** What a test sees of a running agent, a process or a container alike. */
export interface Agent {
  ready: ReadyLine
  apiUrl: string
  /** Everything the agent wrote on stderr (its NDJSON log), for failure messages. */
  stderr: () => string
  /** `fetch` against the agent's API, JSON by default. */
  api: (path: string, init?: RequestInit & { json?: unknown }) => Promise<Response>
  stop: (signal?: NodeJS.Signals) => Promise<number | string>
}

/** A real agent process started by a test. */
export interface AgentProcess extends Agent {
  proc: ChildProcess
  dataDir: string
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>
}

export interface StartOptions {
  dataDir?: string
  args?: string[]
  env?: Record<string, string>
  timeoutMs?: number
  /** Run the agent inside this network namespace (root only; see netns.ts). */
  netns?: string
  /** The program (and its first arguments) that runs the CLI: Node on the sources by default, or `[BIN]`. */
  command?: string[]
}

const live = new Set<AgentProcess>()
const dirs = new Set<string>()

/** A fresh temporary data dir, removed by `cleanupAgents()`. */
export function tempDataDir(prefix = 'edgecoder-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(d)
  return d
}

/**
 * Spawns the CLI with Node (no shell wrapper, so signals reach the agent itself; `bin/edgecoder`
 * execs Node in place). In a network namespace, `ip netns exec` execs Node in place, so the pid is
 * still the agent's.
 */
export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
  netns?: string,
  command = [process.execPath, '--disable-warning=ExperimentalWarning', CLI],
): ChildProcess {
  const node = [...command, ...args]
  const [cmd, ...argv] = netns === undefined ? node : ['ip', 'netns', 'exec', netns, ...node]
  return spawn(cmd!, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, EDGECODER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Runs a CLI command to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnCli(args, env)
  let stdout = ''
  let stderr = ''
  p.stdout!.on('data', (d) => {
    stdout += d
  })
  p.stderr!.on('data', (d) => {
    stderr += d
  })
  const code = await new Promise<number | null>((r) => p.on('close', (c) => r(c)))
  return { code, stdout, stderr }
}

/** Starts `edgecoder start` on ephemeral ports and waits for its ready line. */
export async function startAgent(opts: StartOptions = {}): Promise<AgentProcess> {
  const dataDir = opts.dataDir ?? tempDataDir()
  const proc = spawnCli(
    ['start', '--data-dir', dataDir, '--api-port', '0', '--p2p-port', '0', '--no-mdns', ...(opts.args ?? [])],
    opts.env,
    opts.netns,
    opts.command,
  )
  let stderr = ''
  proc.stderr!.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise<number | string>((r) => proc.on('exit', (code, sig) => r(code ?? sig ?? -1)))
  const ready = await new Promise<ReadyLine>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      // Not ready in time: it is not left running behind the failed test.
      proc.kill('SIGKILL')
      reject(new Error(`agent not ready within ${opts.timeoutMs ?? 30_000} ms\n${stderr}`))
    }, opts.timeoutMs ?? 30_000)
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.startsWith(READY_PREFIX)) {
        clearTimeout(timer)
        resolveReady(JSON.parse(line.slice(READY_PREFIX.length)))
      }
    })
    exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`agent exited (${code}) before ready\n${stderr}`))
    })
  })
  const agent: AgentProcess = {
    proc,
    ready,
    dataDir,
    apiUrl: ready.apiUrl,
    stderr: () => stderr,
    exited,
    api: (path, init = {}) => {
      const { json, ...rest } = init
      const headers = new Headers(rest.headers)
      if (json !== undefined) headers.set('content-type', 'application/json')
      return fetch(ready.apiUrl + path, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      })
    },
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      const code = await exited
      live.delete(agent)
      return code
    },
  }
  live.add(agent)
  return agent
}

/** Kills every agent a test started and removes its temp dirs; call from afterEach/afterAll. */
export async function cleanupAgents(): Promise<void> {
  await Promise.all(
    [...live].map(async (a) => {
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL')
      await a.exited
    }),
  )
  live.clear()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await check()
      if (v) return v
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`)
}
