/**
 * Runs every benchmark at the current commit and rewrites the top of bench/RESULTS.md: the commit,
 * the machine, each bench's load average before and after, and one table of every goal with what
 * was measured, its ratio to the bound and whether it was met. A bench this machine can't run
 * (no root, Docker, model, browser, llama-server) gets a row saying why; one that fails says so.
 *
 *   bench/run                 everything, full size (takes hours on a small machine)
 *   bench/run --quick         smaller N and fewer rounds: a check that the benches work, not figures of record
 *   bench/run --only mesh,routing   just these (the goal table keeps the others' last rows, marked)
 *   bench/run --list          the benches and what each needs
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  commit,
  type Goal,
  type GoalReport,
  goalsFile,
  notMeasured,
  RESULTS_PATH,
  readResults,
} from './results.ts'

const ROOT = join(import.meta.dirname, '..')
const DEFAULT_MODEL = join(
  process.env.EDGECODER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/edgecoder'),
  'models/gemma-3-270m-Q4_K_M.gguf',
)
const LLAMA_SERVER =
  process.env.EDGECODER_LLAMA_SERVER ?? join(ROOT, 'bench/out/llama.cpp/build/bin/llama-server')

interface Bench {
  name: string
  /** The section of RESULTS.md it writes. */
  section: string
  args: string[]
  quick: string[]
  /** Why it can't run on this machine, or null. */
  needs: () => string | null
  /** The goals it reports, for the table when it did not run. */
  goals: [goal: string, target: string][]
  /** Commands to run after the bench itself, in the same way (a report from what it wrote). */
  after?: string[][]
}

const isRoot = () => process.getuid?.() === 0
const onPath = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const model = () =>
  existsSync(process.env.EDGECODER_TEST_MODEL ?? DEFAULT_MODEL)
    ? null
    : `no test model at ${process.env.EDGECODER_TEST_MODEL ?? DEFAULT_MODEL} (scripts/fetch-model.sh fetches it)`
const all =
  (...checks: (() => string | null)[]) =>
  () =>
    checks.map((c) => c()).find((r) => r !== null) ?? null
const root = (what: string) => () => (isRoot() ? null : `needs root (${what})`)
const tool = (cmd: string, hint: string) => () =>
  onPath(cmd) ? null : `no \`${cmd}\` on this machine (${hint})`
const commitKnown = (sha: string) => () => {
  try {
    execFileSync('git', ['cat-file', '-e', `${sha}^{commit}`], { cwd: ROOT, stdio: 'ignore' })
    return null
  } catch {
    return `its baseline commit ${sha} is not in this clone`
  }
}

const BENCHES: Bench[] = [
  {
    name: 'startup',
    section: 'Agent start-up',
    args: ['5', '60'],
    quick: ['2', '10'],
    needs: () => null,
    goals: [
      ['agent ready: spawn of `bin/edgecoder start` → first 200 from /readyz (median)', '< 0.5 s'],
      ['agent idle RSS, no model, sandbox cold (median of the runs, the later of two readings)', '< 100 MB'],
    ],
  },
  {
    name: 'mesh',
    section: 'Mesh',
    args: ['5,20,40', '90', '20'],
    quick: ['5,10', '10', '6'],
    needs: () => null,
    goals: [
      ['advert propagation p95 at N = 5, per receiver over its floor', '≤ 3.0×'],
      ['advert propagation p95 at N = 20, per receiver over its floor', '≤ 3.0×'],
      ['idle gossip per node, N = 20 against N = 5', '≤ 1.30×'],
    ],
  },
  {
    name: 'mesh-wan',
    section: 'Mesh over the simulated WAN',
    // A heartbeat stretches with the mesh, to about 24 s at N = 20 and 49 s at N = 40: the idle
    // window holds several at 20 and nearly two at 40. A window of one heartbeat or less samples
    // where each node's own heartbeat falls, not its rate.
    args: ['5,20,40', '90', '8', '30'],
    quick: ['5', '15', '4', '10'],
    needs: all(
      root('network namespaces'),
      tool('ip', 'iproute2'),
      tool('python3', 'scripts/e2e/wan-link.py'),
    ),
    goals: [['advert propagation p95 over the WAN, per size, against hops × 50 ms', '≤ 3×']],
  },
  {
    name: 'routing',
    section: 'Routing',
    args: ['30', '40', '5'],
    quick: ['8', '16', '2'],
    needs: () => null,
    goals: [
      ['routing overhead of a trivial task (remote − local, median)', '≤ 1.2 × RTT + 5 ms'],
      ["fairness between a flooding and a light submitter (Jain's index)", '≥ 0.9'],
    ],
  },
  {
    name: 'inference',
    section: 'Inference',
    args: ['15', '64'],
    quick: ['3', '32'],
    needs: model,
    goals: [
      ['embedded provider decode rate against node-llama-cpp directly (slowdown)', '≤ 1.05'],
      ['embedded provider time to first token against node-llama-cpp directly', '≤ 1.05'],
    ],
  },
  {
    name: 'inference-api',
    section: 'Inference API',
    args: ['9', '48'],
    quick: ['3', '24'],
    needs: model,
    goals: [
      ['decode rate through `/v1/chat/completions`, against the provider called directly', '≥ 0.95'],
      ['time to first token through `/v1/chat/completions`, against the provider called directly', '≤ 1.1×'],
      ['decode rate through a peer (agent B → agent A), against the provider called directly', '≥ 0.95'],
      ['time to first token through a peer, against the provider called directly', '≤ 1.1×'],
    ],
  },
  {
    name: 'llama-server',
    section: 'Inference engine against llama-server',
    args: [],
    quick: ['--rounds', '3', '--starts', '1'],
    needs: all(model, () =>
      existsSync(LLAMA_SERVER)
        ? null
        : `no llama-server binary at ${LLAMA_SERVER} (scripts/build-llama-server.sh builds it; or set EDGECODER_LLAMA_SERVER)`,
    ),
    goals: [],
  },
  {
    name: 'sandbox',
    section: 'Sandbox',
    args: ['7'],
    quick: ['5'],
    needs: tool('python3', 'the host interpreter the sandbox is compared with'),
    goals: [
      ['sandbox warm run of a short Python program against `python3 -c`', '≤ 2×'],
      ['sandbox warm run of a short JavaScript program against `node -e`', '≤ 2×'],
    ],
  },
  {
    name: 'sandbox-process',
    section: 'Sandbox process',
    args: ['3'],
    quick: ['3'],
    needs: commitKnown('2b95b51'),
    goals: [],
  },
  {
    name: 'tasks',
    section: 'Tasks',
    args: ['5', '200', '2'],
    quick: ['2', '60', '2'],
    needs: () => null,
    goals: [],
  },
  {
    name: 'ledger',
    section: 'Ledger',
    args: ['20', '10000'],
    quick: ['5', '2000'],
    needs: () => null,
    goals: [],
  },
  {
    name: 'code-loop',
    section: 'Code loop on the test model: the problem set',
    args: ['run', '--seed', '1', '--label', 'this commit', '--out', 'bench/out/code-loop.json'],
    quick: [
      'run',
      '--seed',
      '1',
      '--label',
      'this commit',
      '--only',
      'py-add,js-add',
      '--out',
      'bench/out/code-loop.json',
    ],
    needs: model,
    goals: [],
    after: [['report', 'bench/out/code-loop.json']],
  },
  {
    name: 'deploy',
    section: 'Deploy: images and docs site',
    args: ['3'],
    quick: ['1'],
    needs: all(root('Docker'), tool('docker', 'the image benches')),
    goals: [['SIGTERM to container exit (median)', '< 10 s']],
  },
  {
    name: 'desktop-panels',
    section: 'Desktop panels',
    args: ['7'],
    quick: ['3'],
    needs: all(
      () =>
        existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')
          ? null
          : 'no Chromium (/usr/bin/chromium or CHROMIUM_PATH)',
      () =>
        existsSync(join(ROOT, 'desktop/dist/index.html'))
          ? null
          : 'the desktop UI is not built (cd desktop && npm ci && npx vite build)',
    ),
    goals: [],
  },
]

interface Outcome {
  bench: Bench
  status: 'ran' | 'failed' | 'not run'
  why?: string
  wallS?: number
  load?: [number[], number[]]
}

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
  },
})
const known = BENCHES.filter(
  (b) => b.name !== 'llama-server' || existsSync(join(ROOT, 'bench/llama-server.ts')),
)
if (opt.list) {
  for (const b of known) console.log(`${b.name.padEnd(16)} ${b.needs() ?? 'can run here'}`)
  process.exit(0)
}
const only = opt.only?.split(',').map((s) => s.trim())
const unknown = only?.filter((n) => !known.some((b) => b.name === n)) ?? []
if (unknown.length > 0) {
  console.error(
    `bench/run: no bench ${unknown.join(', ')}; the benches: ${known.map((b) => b.name).join(', ')}`,
  )
  process.exit(2)
}
const selected = only ? known.filter((b) => only.includes(b.name)) : known
const quick = opt.quick ?? false

/** Runs `node bench/<name>.ts args` with the terminal; resolves with its exit code and last lines. */
function runNode(file: string, args: string[]): Promise<{ code: number; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...(quick ? { BENCH_QUICK: '1' } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let tail = ''
    const keep = (d: Buffer, out: NodeJS.WriteStream) => {
      out.write(d)
      tail = (tail + d.toString()).slice(-4000)
    }
    child.stdout.on('data', (d) => keep(d, process.stdout))
    child.stderr.on('data', (d) => keep(d, process.stderr))
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), tail }))
  })
}

const lastLine = (tail: string) =>
  tail
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at '))
    .at(-1) ?? ''

const startedAt = new Date()
const measured = commit()
console.log(`bench/run${quick ? ' --quick' : ''}: ${selected.map((b) => b.name).join(', ')} at ${measured}`)
execFileSync(join(ROOT, 'scripts/setup.sh'), ['--quiet'], { stdio: 'inherit' })

const outcomes: Outcome[] = []
for (const bench of selected) {
  const why = bench.needs()
  if (why !== null) {
    console.log(`\n== ${bench.name}: not run: ${why}`)
    outcomes.push({ bench, status: 'not run', why })
    continue
  }
  const args = quick ? bench.quick : bench.args
  console.log(
    `\n== ${bench.name}: node bench/${bench.name}.ts ${args.join(' ')}  (load ${loadavg()[0]!.toFixed(1)})`,
  )
  const before = loadavg()
  const t0 = performance.now()
  let { code, tail } = await runNode(`bench/${bench.name}.ts`, args)
  for (const more of bench.after ?? [])
    if (code === 0) ({ code, tail } = await runNode(`bench/${bench.name}.ts`, more))
  const wallS = (performance.now() - t0) / 1000
  const outcome: Outcome = { bench, status: code === 0 ? 'ran' : 'failed', wallS, load: [before, loadavg()] }
  if (code !== 0) outcome.why = `exit ${code}: ${lastLine(tail)}`
  outcomes.push(outcome)
}

// ---- The top of RESULTS.md ----

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ')
const l3 = (l: number[]) => l.map((x) => x.toFixed(1)).join(' / ')
/** This bench's goal rows: from this run's file, or marked as older / not measured. */
function goalRows(bench: Bench, outcome: Outcome | undefined): string[] {
  const file = goalsFile(bench.name)
  const report: GoalReport | null = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null
  const fresh = report !== null && outcome?.status === 'ran' && statSync(file).mtime >= startedAt
  let goals: Goal[]
  let where: string
  if (fresh) {
    goals = report.goals
    where = report.quick ? 'this run (quick)' : 'this run'
  } else {
    const reason =
      outcome === undefined
        ? 'not in this run (--only)'
        : outcome.status === 'ran'
          ? 'the bench wrote no goal rows'
          : `${outcome.status === 'failed' ? 'failed' : 'not run'}: ${outcome.why}`
    if (report !== null && report.goals.length > 0) {
      goals = report.goals
      where = `**not this run** (${reason}); measured at ${report.commit}, ${report.at.slice(0, 10)}`
    } else {
      goals = bench.goals.map(([g, t]) => notMeasured(g, t, reason))
      where = '—'
    }
  }
  return goals.map((g) => {
    const result = g.met === null ? `not measured: ${g.note}` : g.met ? 'met' : '**missed**'
    const ratio = g.ratio === null ? '—' : `${g.ratio.toFixed(2)}`
    return `| ${bench.name} | ${cell(g.goal)} | ${cell(g.target)} | ${cell(g.measured)} | ${ratio} | ${result} | ${cell(where)} |`
  })
}

const byName = new Map(outcomes.map((o) => [o.bench.name, o]))
const goalTable = known.flatMap((b) => goalRows(b, byName.get(b.name)))
const runTable = outcomes.map((o) => {
  const args = quick ? o.bench.quick : o.bench.args
  const load = o.load ? `${l3(o.load[0])} → ${l3(o.load[1])}` : '—'
  const wall = o.wallS === undefined ? '—' : `${(o.wallS / 60).toFixed(1)} min`
  const what = o.status === 'ran' ? 'ran' : `**${o.status}**: ${o.why}`
  return `| ${o.bench.name} | \`${cell(args.join(' '))}\` | ${wall} | ${load} | ${cell(what)} |`
})
const met = goalTable.filter((r) => r.includes('| met |')).length
const missed = goalTable.filter((r) => r.includes('| **missed** |')).length
const open = goalTable.length - met - missed

const previous = readResults()
const foreign = foreignSections(previous)
const cpu = cpus()
const head = `# Benchmark results

\`bench/run${quick ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}\` at commit ${measured}, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} → ${new Date().toISOString().slice(11, 16)} UTC, on ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}.${quick ? '\n**Quick run**: smaller sizes and fewer rounds, to check that the benches work; these are not the figures of record.' : ''}
The cores are shared with other work: each bench's load average (1, 5 and 15 min) before and after it is in the second table. The sections below each name the command, commit and machine they came from.${foreign.length > 0 ? ` Not written by bench/run (measured by the tests and scripts they name, at the commits they name): ${foreign.join('; ')}.` : ''}

## Goals

${met} met, ${missed} missed, ${open} not measured here.

| bench | goal | target | measured | measured / bound | result | measured in |
|---|---|---|---|---|---|---|
${goalTable.join('\n')}

## This run

| bench | arguments | wall | load before → after | outcome |
|---|---|---|---|---|
${runTable.join('\n')}
`

/** Sections of RESULTS.md that no bench of bench/run writes (the tests and scripts they name do). */
function foreignSections(text: string): string[] {
  const ours = new Set(BENCHES.map((b) => b.section))
  return [...text.matchAll(/^## (.+)$/gm)]
    .map((m) => m[1]!)
    .filter((t) => t !== 'Goals' && t !== 'This run' && !ours.has(t))
}

/** The sections after the header, each marked when this run did not re-measure it. */
function sections(text: string): string {
  const start = text.search(/^## (?!Goals\n|This run\n)/m)
  let rest = start === -1 ? '' : text.slice(start)
  // Drop the header sections wherever an older layout left them.
  rest = rest.replace(/^## (Goals|This run)\n[\s\S]*?(?=^## |(?![\s\S]))/gm, '')
  for (const o of outcomes) {
    if (o.status === 'ran') continue
    const title = `## ${o.bench.section}\n`
    const at = rest.indexOf(title)
    if (at === -1) continue
    const bodyStart = at + title.length
    const note = `\n> **Not re-measured at ${measured}** (${o.status}: ${o.why}); the figures below are from the run they name.\n`
    const body = rest.slice(bodyStart).replace(/^\n> \*\*Not re-measured at [^\n]*\n/, '')
    rest = rest.slice(0, bodyStart) + note + body
  }
  return rest
}

writeFileSync(RESULTS_PATH, `${head}\n${sections(previous).trimEnd()}\n`)
console.log(
  `\nbench/run: ${met} goals met, ${missed} missed, ${open} not measured; bench/RESULTS.md rewritten`,
)
for (const o of outcomes) if (o.status !== 'ran') console.log(`  ${o.bench.name}: ${o.status}: ${o.why}`)
process.exitCode = outcomes.some((o) => o.status === 'failed') ? 1 : 0
