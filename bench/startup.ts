/**
 * Agent start-up and memory, started as an operator starts it (`bin/edgecoder start`), against the
 * agent of a base commit run the way its own `bin/edgecoder` ran it, in the same session:
 * time from spawn to the first 200 from /readyz; resident memory (VmRSS) of the agent process
 * alone, idle with the sandbox cold 3 s after ready and 60 s after; after one Python and one
 * JavaScript run task, the agent alone and the sandbox processes apart; throughput of trivial run
 * tasks through the API. Baseline: a bare `node -e 0` start to exit.
 * Run: node bench/startup.ts [runs=5] [base-commit=b3b4689] [idleSec=60]
 */
import { execSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import type { RuntimeHealth } from '@edgecoder/protocol'
import { type AgentProcess, BIN, cleanupAgents, REPO_ROOT, startAgent } from '../tests/e2e/harness.ts'
import { machine, median, writeSection } from './results.ts'

const runs = Number(process.argv[2] ?? 5)
const BASE = process.argv[3] ?? 'b3b4689'
const idleSec = Number(process.argv[4] ?? 60)
const TASKS = 40
const MiB = 2 ** 20

const rssOf = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function bareNode(): Promise<number> {
  const t0 = performance.now()
  await new Promise((r) => spawn(process.execPath, ['-e', '0']).on('exit', r))
  return performance.now() - t0
}

async function runTask(a: AgentProcess, language: 'python' | 'javascript'): Promise<void> {
  const res = await a.api('/tasks', { method: 'POST', json: { kind: 'run', language, code: 'print("ok")' } })
  const { id } = (await res.json()) as { id: string }
  for (;;) {
    const t = (await (await a.api(`/tasks/${id}`)).json()) as { status: string; error?: unknown }
    if (t.status === 'succeeded') return
    if (t.status === 'failed' || t.status === 'cancelled')
      throw new Error(`task ${id} ${t.status}: ${JSON.stringify(t.error)}`)
    await sleep(10)
  }
}

interface Figures {
  readyMs: number
  idle: number
  idleLate: number
  afterRuns: number
  sandbox: number
  perSecond: number
}

async function measure(command: string[]): Promise<Figures> {
  const t0 = performance.now()
  // mDNS off: other agents on this machine would otherwise become peers and the node not idle.
  const a = await startAgent({
    command,
    args: ['--max-concurrent-tasks', '2'],
    env: { EDGECODER_LOG_LEVEL: 'warn' },
    timeoutMs: 120_000,
  })
  while ((await a.api('/readyz')).status !== 200) await sleep(5)
  const readyMs = performance.now() - t0
  const pid = a.proc.pid!
  await sleep(3_000)
  const idle = rssOf(pid)
  await sleep((idleSec - 3) * 1000)
  const idleLate = rssOf(pid)
  await runTask(a, 'python')
  await runTask(a, 'javascript')
  await sleep(2_000)
  const afterRuns = rssOf(pid)
  const runtime = (await (await a.api('/health/runtime')).json()) as RuntimeHealth
  const sandbox = (runtime.sandbox?.processes ?? []).reduce((s, p) => s + p.rssBytes, 0)
  const t1 = performance.now()
  await Promise.all(Array.from({ length: TASKS }, () => runTask(a, 'javascript')))
  const perSecond = TASKS / ((performance.now() - t1) / 1000)
  await a.stop()
  return { readyMs, idle, idleLate, afterRuns, sandbox, perSecond }
}

/**
 * The base commit's packages unpacked under bench/out with a hard-linked copy of this checkout's
 * node_modules, whose relative workspace links then lead to the base commit's packages (the
 * sandbox's confinement binds the real paths of its package and dependencies).
 */
function baseCheckout(): string {
  const out = join(REPO_ROOT, 'bench/out')
  mkdirSync(out, { recursive: true })
  const dir = mkdtempSync(join(out, 'base-'))
  execSync(`git archive ${BASE} packages | tar -x -C ${dir}`, { cwd: REPO_ROOT })
  execSync(`cp -al ${join(REPO_ROOT, 'node_modules')} ${join(dir, 'node_modules')}`)
  return dir
}

const loadBefore = loadavg()[0]!.toFixed(1)
// A build the first start would otherwise include.
execSync(`${join(REPO_ROOT, 'scripts/setup.sh')} --quiet`, { stdio: 'inherit' })
const base = baseCheckout()
// The base commit's bin/edgecoder ran the TypeScript entry with this one flag.
const before = [
  process.execPath,
  '--disable-warning=ExperimentalWarning',
  join(base, 'packages/agent/src/cli/main.ts'),
]
const bare: number[] = []
const old: Figures[] = []
const now: Figures[] = []
try {
  for (let i = 0; i < runs; i++) {
    bare.push(await bareNode())
    old.push(await measure(before))
    now.push(await measure([BIN]))
    const [o, n] = [old.at(-1)!, now.at(-1)!]
    console.log(
      `run ${i + 1}: idle ${(o.idle / MiB).toFixed(1)} -> ${(n.idle / MiB).toFixed(1)} MiB, ready ${o.readyMs.toFixed(0)} -> ${n.readyMs.toFixed(0)} ms, ${o.perSecond.toFixed(1)} -> ${n.perSecond.toFixed(1)} tasks/s`,
    )
  }
} finally {
  await cleanupAgents()
  rmSync(base, { recursive: true, force: true })
}

const mib = (xs: Figures[], k: keyof Figures) => `${(median(xs.map((x) => x[k])) / MiB).toFixed(1)} MiB`
const mb = (xs: Figures[], k: keyof Figures) => `${(median(xs.map((x) => x[k])) / 1e6).toFixed(1)} MB`
const row = (label: string, k: keyof Figures, goal = '') =>
  `| ${label} | ${mib(old, k)} (${mb(old, k)}) | ${mib(now, k)} (${mb(now, k)}) | ${goal} |`
const ms = (xs: Figures[]) => `${median(xs.map((x) => x.readyMs)).toFixed(0)} ms`
const rate = (xs: Figures[]) => median(xs.map((x) => x.perSecond)).toFixed(1)
const idleNow = median(now.map((x) => x.idle))

const body = `Run: \`node bench/startup.ts ${runs} ${BASE} ${idleSec}\` on ${machine()}.
Before: the agent of commit ${BASE} as its \`bin/edgecoder\` ran it (Node stripping the types of the
TypeScript sources, default V8 and malloc settings), unpacked from git into a temporary directory with its own workspace packages.
Now: \`bin/edgecoder start\` (the bundle of scripts/build-agent.ts, \`--max-semi-space-size=1\`,
malloc's mmap threshold at 32 KiB). Both alternate in the same session, ${runs} times each: all-in-one,
no model, \`--no-mdns\` (other agents on this machine would become peers), ephemeral ports.
Memory is VmRSS of the agent process alone; the sandbox processes (started by the first run task)
are summed apart, from \`/health/runtime\`.

| measure (median of ${runs}) | before (${BASE}) | now | goal |
|---|---|---|---|
| spawn → first 200 from \`/readyz\` | ${ms(old)} | ${ms(now)} | < 1000 ms |
| idle, sandbox cold, 3 s after ready | ${mib(old, 'idle')} (${mb(old, 'idle')}) | ${mib(now, 'idle')} (${mb(now, 'idle')}) | < 100 MB |
${row(`idle, sandbox cold, ${idleSec} s after ready`, 'idleLate', '< 100 MB')}
${row('after one Python and one JavaScript run (agent alone)', 'afterRuns')}
${row('sandbox processes, warm (Python + JavaScript)', 'sandbox')}
| ${TASKS} trivial JavaScript run tasks through \`POST /tasks\`, 2 slots | ${rate(old)} / s | ${rate(now)} / s | within a few % |

Bare \`node -e 0\` start to exit (same run): ${median(bare).toFixed(0)} ms.
Goal (agent idle under 100 MB with no model): ${idleNow < 100e6 ? 'met' : `**missed** (${(idleNow / 1e6).toFixed(1)} MB)`}.
All runs, idle MiB before: ${old.map((x) => (x.idle / MiB).toFixed(1)).join(', ')}; now: ${now.map((x) => (x.idle / MiB).toFixed(1)).join(', ')}.
Load average (1 min) ${loadBefore} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on shared cores.`
writeSection('Agent start-up', body)
console.log(body)
