/**
 * The code sandbox: cold start (pool start to first result), warm run, and a trivial
 * program in the sandbox against the host's `python3 -c` / `node -e` running the same; then the
 * goal, on the path the agent takes: short programs in `Sandbox` (its own OS-confined process,
 * warm) against the bare interpreter called on the host.
 * Run: node bench/sandbox.ts [runs=5]
 */
import { execFileSync, spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { Sandbox, type SandboxLanguage, SandboxPool } from '../packages/sandbox/src/index.ts'
import { atMost, type Goal, machine, median, reportGoals, writeSection } from './results.ts'

const runs = Math.max(5, Number(process.argv[2] ?? 5))
const WARM_RUNS = 20

const TRIVIAL: Record<SandboxLanguage, string> = {
  python: 'print("ok")',
  javascript: 'console.log("ok")',
}
/** Sum of 1..n and a print: the same program in both languages and on both sides. */
const SUM = (n: number): Record<SandboxLanguage, string> => ({
  python: `print(sum(range(1, ${n} + 1)))`,
  javascript: `let s = 0; for (let i = 1; i <= ${n}; i++) s += i; console.log(s)`,
})
// The real interpreter, not a version manager's shim script in front of it.
const PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8',
}).trim()
const HOST: Record<SandboxLanguage, [string, string]> = {
  python: [PYTHON, '-c'],
  javascript: [process.execPath, '-e'],
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

async function checkedRun(pool: SandboxPool, language: SandboxLanguage, code: string): Promise<string> {
  const report = await pool.run({ language, code })
  if (!report.ok) throw new Error(`${language} bench run failed: ${report.outcome} ${report.error ?? ''}`)
  return report.output
}

async function coldStart(language: SandboxLanguage): Promise<number> {
  const pool = new SandboxPool({ languages: [language] })
  try {
    return await timed(async () => {
      await pool.start()
      await checkedRun(pool, language, TRIVIAL[language])
    })
  } finally {
    await pool.stop()
  }
}

function hostRun(language: SandboxLanguage, code: string): Promise<number> {
  const [command, flag] = HOST[language]
  return timed(
    () =>
      new Promise<void>((resolve, reject) => {
        spawn(command, [flag, code], { stdio: 'ignore' }).on('exit', (status) =>
          status === 0 ? resolve() : reject(new Error(`${command} exited with ${status}`)),
        )
      }),
  )
}

async function sample(n: number, fn: () => Promise<number>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(await fn())
  return out
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1))
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`

const loadBefore = loadavg()[0]!.toFixed(1)
const rows: string[] = []
const cold: Record<string, number[]> = {}
for (const language of ['python', 'javascript'] as const) {
  cold[language] = await sample(runs, () => coldStart(language))
}

const pool = new SandboxPool()
await pool.start()
for (const language of ['python', 'javascript'] as const) {
  const warm = await sample(WARM_RUNS, () => timed(() => checkedRun(pool, language, TRIVIAL[language])))
  rows.push(`| ${language} | cold start → first result | ${fmt(median(cold[language]!))} ms | | |`)
  rows.push(`| ${language} | warm run of \`${TRIVIAL[language]}\` | ${fmt(median(warm))} ms | | |`)
  for (const n of [1_000_000, 10_000_000]) {
    const code = SUM(n)[language]
    const expected = String((n * (n + 1)) / 2)
    // Alternating sandbox and host samples, so both see the same load on the shared cores.
    const inSandbox: number[] = []
    const onHost: number[] = []
    for (let i = 0; i < runs; i++) {
      inSandbox.push(
        await timed(async () => {
          const output = await checkedRun(pool, language, code)
          if (output.trim() !== expected)
            throw new Error(`${language} printed ${output.trim()}, not ${expected}`)
        }),
      )
      onHost.push(await hostRun(language, code))
    }
    const [s, h] = [median(inSandbox), median(onHost)]
    rows.push(
      `| ${language} | sum of 1..10^${Math.log10(n)} + print | ${fmt(s)} ms | ${fmt(h)} ms | ${ratio(s, h)} |`,
    )
  }
}
await pool.stop()

// The goal: warm runs of short programs in the agent's sandbox process against the bare interpreter.
const GOAL_FACTOR = 2
const SHORT: Record<SandboxLanguage, [string, string][]> = {
  python: [
    [TRIVIAL.python, 'ok'],
    [SUM(1_000_000).python, String(500000500000)],
  ],
  javascript: [
    [TRIVIAL.javascript, 'ok'],
    [SUM(1_000_000).javascript, String(500000500000)],
  ],
}
const proc = new Sandbox({ idleMs: 0 })
await proc.start()
const goals: Goal[] = []
const goalRows: string[] = []
try {
  for (const language of ['python', 'javascript'] as const) {
    await proc.warm(language)
    let worst: { ratio: number; label: string } | null = null
    for (const [code, expected] of SHORT[language]) {
      const inSandbox: number[] = []
      const onHost: number[] = []
      for (let i = 0; i < runs; i++) {
        inSandbox.push(
          await timed(async () => {
            const report = await proc.run({ language, code })
            if (!report.ok || report.output.trim() !== expected)
              throw new Error(`${language} sandbox process: ${report.outcome} ${report.output.trim()}`)
          }),
        )
        onHost.push(await hostRun(language, code))
      }
      const [sm, hm] = [median(inSandbox), median(onHost)]
      goalRows.push(`| ${language} | \`${code}\` | ${fmt(sm)} ms | ${fmt(hm)} ms | ${ratio(sm, hm)} |`)
      if (worst === null || sm / hm > worst.ratio) worst = { ratio: sm / hm, label: code }
    }
    goals.push({
      ...atMost(
        `sandbox warm run of a short ${language === 'python' ? 'Python' : 'JavaScript'} program against \`${HOST[language][0] === PYTHON ? 'python3 -c' : 'node -e'}\` (the worse of ${SHORT[language].length}: \`${worst!.label}\`)`,
        worst!.ratio,
        GOAL_FACTOR,
        (x) => `${x.toFixed(2)}×`,
      ),
    })
  }
} finally {
  await proc.stop()
}

const python = execFileSync(PYTHON, ['--version'], { encoding: 'utf8' }).trim()
const body = `
Run: \`node bench/sandbox.ts ${runs}\` on ${machine()}, \`nproc\` = ${execFileSync('nproc', { encoding: 'utf8' }).trim()}; host side: ${python}, Node ${process.version}.

Medians of ${runs} runs (warm runs: median of ${WARM_RUNS}). Sandbox times are \`pool.run()\` round
trips, request to report, with the program run in Pyodide (Python 3.14 in wasm) or QuickJS
(a wasm interpreter, no JIT) inside a warm worker thread. Host times spawn \`python3 -c\` /
\`node -e\` with the same program, process start-up included, so a short program favours the
sandbox (no process to start) and a longer one shows the interpreters' speed: QuickJS against
V8's JIT, Pyodide against native CPython. Cold start is a new pool's \`start()\` plus its first
run; Python's is dominated by loading Pyodide and hardening the interpreter.

| language | measure | sandbox | host process | ratio sandbox / host |
|---|---|---|---|---|
${rows.join('\n')}

Load average (1 min) ${loadBefore} at the start, ${loadavg()[0]!.toFixed(1)} at the end: the machine's cores are
shared, so absolute numbers move with that load; ratios compare sandbox and host samples taken alternately.

Cold starts (ms): python ${cold.python!.map(fmt).join(', ')}; javascript ${cold.javascript!.map(fmt).join(', ')}.

The goal, on the agent's own path: \`Sandbox\`, the sandbox process under its OS confinement (${proc.confinement.mechanism}), warm, each run a
request to that process and its report back; against the bare interpreter started on the host for the same program (medians of ${runs},
alternating). Goal: ≤ ${GOAL_FACTOR}× for short programs.

| language | program | sandbox process, warm | host process | ratio |
|---|---|---|---|---|
${goalRows.join('\n')}

${goals.map((g) => `Goal, ${g.goal}: ${g.measured}, ${g.met ? 'met' : '**missed**'}.`).join('\n')}
`
writeSection('Sandbox', body)
reportGoals('sandbox', goals)
console.log(body)
