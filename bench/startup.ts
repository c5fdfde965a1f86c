/**
 * Agent start-up and memory, started as an operator starts it (`bin/edgecoder start`): time from
 * spawn to the first 200 from /readyz, and where it goes (`--startup-trace`: bin/edgecoder's own
 * work before Node starts, then each phase of the start sequence, wall and CPU time); resident
 * memory (VmRSS) of the agent process alone, idle with the sandbox cold 3 s after ready and
 * `idleSec` after; after one Python and one JavaScript run task, the agent alone and the sandbox
 * processes apart; throughput of trivial run tasks through the API. Baselines in the same run:
 * a bare `node -e 0`, and `bin/edgecoder version` (the wrapper and loading the bundle, no agent).
 * With `--base <commit>`, that commit's agent, started by its own bin/edgecoder (bench/base.ts),
 * alternates with this one.
 * Run: node bench/startup.ts [runs=5] [idleSec=60] [--base <commit>]
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { RuntimeHealth } from '@edgecoder/protocol'
import { STARTUP_TRACE_PREFIX, type StartupTrace } from '../packages/agent/src/startup-trace.ts'
import {
  type AgentProcess,
  BIN,
  cleanupAgents,
  REPO_ROOT,
  startAgent,
  waitFor,
} from '../tests/e2e/harness.ts'
import { checkoutAt } from './base.ts'
import { atMost, load1, machine, median, reportGoals, writeSection } from './results.ts'

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { base: { type: 'string' } },
})
const runs = Number(positionals[0] ?? 5)
const idleSec = Math.max(3, Number(positionals[1] ?? 60))
const BASE = opt.base
const TASKS = 40
const MiB = 2 ** 20
const READY_GOAL_MS = 500
const IDLE_GOAL_BYTES = 100e6

const rssOf = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function timeOf(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now()
  await new Promise((r) => spawn(cmd, args, { stdio: 'ignore' }).on('exit', r))
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
  /** Wall ms from the spawn to Node's own start: bin/edgecoder's shell work. */
  wrapperMs: number | null
  trace: StartupTrace | null
  idle: number
  idleLate: number
  afterRuns: number
  sandbox: number
  perSecond: number
}

async function measure(command: string[], traced: boolean): Promise<Figures> {
  const spawnedAt = Date.now()
  const t0 = performance.now()
  // mDNS off (startAgent's default): other agents on this machine would otherwise become peers.
  const a = await startAgent({
    command,
    args: ['--max-concurrent-tasks', '2', ...(traced ? ['--startup-trace'] : [])],
    env: { EDGECODER_LOG_LEVEL: 'warn' },
    timeoutMs: 120_000,
  })
  while ((await a.api('/readyz')).status !== 200) await sleep(2)
  const readyMs = performance.now() - t0
  let trace: StartupTrace | null = null
  if (traced) {
    const line = await waitFor(
      () =>
        a
          .stderr()
          .split('\n')
          .find((l) => l.startsWith(STARTUP_TRACE_PREFIX)),
      5_000,
      5,
    )
    trace = JSON.parse(line!.slice(STARTUP_TRACE_PREFIX.length)) as StartupTrace
  }
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
  const wrapperMs = trace ? trace.processStart - spawnedAt : null
  return { readyMs, wrapperMs, trace, idle, idleLate, afterRuns, sandbox, perSecond }
}

const loadBefore = load1()
// A build the first start would otherwise include.
execFileSync(join(REPO_ROOT, 'scripts/setup.sh'), ['--quiet'], { stdio: 'inherit' })
// The first fetch in this process loads undici: not the agent's time.
await fetch('http://127.0.0.1:9/').catch(() => {})
const before = BASE ? [join(checkoutAt(BASE), 'bin/edgecoder')] : null
const bare: number[] = []
const version: number[] = []
const old: Figures[] = []
const now: Figures[] = []
try {
  // An operator's second start onwards: the first after a build compiles the bundle and keeps
  // V8's code of it (bin/edgecoder's NODE_COMPILE_CACHE).
  const warm = await startAgent({ command: [BIN], env: { EDGECODER_LOG_LEVEL: 'warn' }, timeoutMs: 120_000 })
  await warm.stop()
  for (let i = 0; i < runs; i++) {
    bare.push(await timeOf(process.execPath, ['-e', '0']))
    version.push(await timeOf(BIN, ['version']))
    if (before) old.push(await measure(before, false))
    now.push(await measure([BIN], true))
    const n = now.at(-1)!
    console.log(
      `run ${i + 1}: ready ${n.readyMs.toFixed(0)} ms, idle ${(n.idle / MiB).toFixed(1)} MiB, ${n.perSecond.toFixed(1)} tasks/s${old.length ? ` (base: ready ${old.at(-1)!.readyMs.toFixed(0)} ms, idle ${(old.at(-1)!.idle / MiB).toFixed(1)} MiB)` : ''}`,
    )
  }
} finally {
  await cleanupAgents()
}

const med = (xs: Figures[], f: (x: Figures) => number) => median(xs.map(f))
const mem = (xs: Figures[], k: 'idle' | 'idleLate' | 'afterRuns' | 'sandbox') =>
  `${(med(xs, (x) => x[k]) / MiB).toFixed(1)} MiB (${(med(xs, (x) => x[k]) / 1e6).toFixed(1)} MB)`
const cols = (f: (xs: Figures[]) => string) => (before ? `${f(old)} | ${f(now)}` : f(now))
const row = (label: string, f: (xs: Figures[]) => string, goal = '') => `| ${label} | ${cols(f)} | ${goal} |`
const readyNow = med(now, (x) => x.readyMs)
const idleNow = Math.max(
  med(now, (x) => x.idle),
  med(now, (x) => x.idleLate),
)

// The phases, in the order the agent marks them; medians over the runs.
const traces = now.map((x) => x.trace!).filter(Boolean)
const phaseNames = traces[0]?.phases.map((p) => p.phase) ?? []
const phaseRow = (name: string) => {
  const ps = traces.map((t) => t.phases.find((p) => p.phase === name)).filter((p) => p !== undefined)
  return `| ${name} | ${median(ps.map((p) => p.ms)).toFixed(1)} ms | ${median(ps.map((p) => p.cpuMs)).toFixed(1)} ms |`
}
const wrapper = median(now.map((x) => x.wrapperMs ?? 0))
const tracedReady = median(traces.map((t) => t.phases.at(-1)!.endMs))
const tracedCpu = median(traces.map((t) => t.phases.reduce((s, p) => s + p.cpuMs, 0)))

const goals = [
  atMost(
    'agent ready: spawn of `bin/edgecoder start` → first 200 from /readyz (median)',
    readyNow / 1000,
    READY_GOAL_MS / 1000,
    (x) => `${x.toFixed(2)} s`,
    true,
  ),
  atMost(
    'agent idle RSS, no model, sandbox cold (median of the runs, the later of two readings)',
    idleNow / 1e6,
    IDLE_GOAL_BYTES / 1e6,
    (x) => `${x.toFixed(1)} MB`,
    true,
  ),
]
const verdict = (met: boolean | null) => (met ? 'met' : '**missed**')

const body = `Run: \`node bench/startup.ts ${runs} ${idleSec}${BASE ? ` --base ${BASE}` : ''}\` on ${machine()}.
\`bin/edgecoder start\` (the bundle of scripts/build-agent.ts, with V8's compile cache kept beside it, \`--max-semi-space-size=1\`,
malloc's mmap threshold at 32 KiB), ${runs} runs after one untimed start (the first start after a build compiles the bundle and writes the code cache): all-in-one, no model, a fresh data dir each time,
\`--no-mdns\` (other agents on this machine would become peers), ephemeral ports. Ready is timed from the spawn of
bin/edgecoder to the first 200 from \`/readyz\`. Memory is VmRSS of the agent process alone; the sandbox processes
(started by the first run task) are summed apart, from \`/health/runtime\`.${BASE ? ` Before: the agent of commit ${BASE}, started by its own \`bin/edgecoder\` from its tree unpacked under bench/out (bench/base.ts), alternating with now.` : ''}

| measure (median of ${runs}) | ${before ? `before (${BASE}) | now` : 'value'} | goal |
|---|---|${before ? '---|' : ''}---|
${row('spawn → first 200 from `/readyz`', (xs) => `${med(xs, (x) => x.readyMs).toFixed(0)} ms`, `< ${READY_GOAL_MS} ms: ${verdict(goals[0]!.met)}`)}
${row('idle, sandbox cold, 3 s after ready', (xs) => mem(xs, 'idle'), `< 100 MB: ${verdict(goals[1]!.met)}`)}
${row(`idle, sandbox cold, ${idleSec} s after ready`, (xs) => mem(xs, 'idleLate'), '< 100 MB')}
${row('after one Python and one JavaScript run (agent alone)', (xs) => mem(xs, 'afterRuns'))}
${row('sandbox processes, warm (Python + JavaScript)', (xs) => mem(xs, 'sandbox'))}
${row(`${TASKS} trivial JavaScript run tasks through \`POST /tasks\`, 2 slots`, (xs) => `${med(xs, (x) => x.perSecond).toFixed(1)} / s`)}

Baselines (same run, medians): bare \`node -e 0\` start to exit ${median(bare).toFixed(0)} ms; \`bin/edgecoder version\` (the wrapper, Node and loading the bundle, no agent) ${median(version).toFixed(0)} ms.

Where the time goes (\`--startup-trace\`, medians of ${traces.length} runs). bin/edgecoder's own work before Node starts
(finding Node, \`scripts/setup.sh\`'s up-to-date checks): ${wrapper.toFixed(0)} ms. Then, from Node's start, each phase's wall time and the
CPU time of the process in it (all threads); ready ${tracedReady.toFixed(0)} ms after Node's start, ${tracedCpu.toFixed(0)} ms of CPU:

| phase | wall | CPU |
|---|---|---|
${phaseNames.map(phaseRow).join('\n')}

\`load\` is Node's own start, reading the bundle and V8's cached code of it, and running its modules' top-level code (zod schemas, libp2p, fastify, the builtins they load);
\`data dir lock\` includes starting the sandbox's confinement probe, which then runs beside the mesh's start; \`api build\` is fastify and its 60 routes.
A phase's times include what parts started before it do meanwhile in the background (the mesh's first advert and dials, the probe's
results): they are the time between two marks, not the cost of one part alone.
All runs, ready ms: ${now.map((x) => x.readyMs.toFixed(0)).join(', ')}; idle MiB: ${now.map((x) => (x.idle / MiB).toFixed(1)).join(', ')}.
Load average (1 min) ${loadBefore} at the start, ${load1()} at the end, on shared cores.`
writeSection('Agent start-up', body)
reportGoals('startup', goals)
console.log(body)
