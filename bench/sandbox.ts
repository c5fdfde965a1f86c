/**
 * The code sandbox: cold start (pool start to first result), warm run, and a trivial
 * program in the sandbox against the host's `python3 -c` / `node -e` running the same.
 * Run: node bench/sandbox.ts [runs=5]
 */
import { execFileSync, spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { type SandboxLanguage, SandboxPool } from '../packages/sandbox/src/index.ts'
import { machine, median, writeSection } from './results.ts'

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
`
writeSection('Sandbox', body)
console.log(body)
