/**
 * The code loop on the real test model over the problem set in bench/code-problems/: success
 * rate, attempts, tokens and time per problem. `run` measures the loop of one source tree (this
 * one, or another checkout given with --src, e.g. the branch's base in a `git worktree`) and
 * writes the raw results as JSON; `report` compares two such files in bench/RESULTS.md.
 *
 *   node bench/code-loop.ts run --out after.json [--src DIR] [--seed 1] [--runs 1] [--only py-add,js-add]
 *   node bench/code-loop.ts report before.json after.json
 *
 * Each problem runs as a `code` task would with its defaults (plan, 3 attempts), in-process:
 * the embedded provider and the sandbox pool are the agent's own, without the HTTP around them.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { testModelPath } from '../packages/agent/test/inference/test-model.ts'
import { machine, median, writeSection } from './results.ts'

interface Problem {
  id: string
  language: 'python' | 'javascript'
  prompt: string
  tests: string
}

interface ProblemRun {
  id: string
  run: number
  ok: boolean
  attempts: number
  completionTokens: number
  ms: number
  droppedTails: number
  error: string | null
}

interface BenchFile {
  label: string
  machine: string
  seed: number | null
  runs: ProblemRun[]
}

export const PROBLEMS: Problem[] = JSON.parse(
  readFileSync(join(import.meta.dirname, 'code-problems', 'problems.json'), 'utf8'),
)

async function run(args: Record<string, string | undefined>): Promise<void> {
  const src = resolve(args.src ?? join(import.meta.dirname, '..'))
  const agentSrc = join(src, 'packages/agent/src')
  const { CodeLoop } = await import(join(agentSrc, 'tasks/index.ts'))
  const { SandboxPool } = await import(join(agentSrc, 'sandbox/index.ts'))
  const { EmbeddedLlamaProvider } = await import(join(agentSrc, 'inference/index.ts'))
  const { CodeTaskSpec } = await import(join(src, 'packages/protocol/src/index.ts'))
  const only = args.only?.split(',')
  const problems = PROBLEMS.filter((p) => !only || only.includes(p.id))
  const seed = args.seed === undefined ? null : Number(args.seed)
  const runs = Number(args.runs ?? 1)

  const model = new EmbeddedLlamaProvider({ modelPath: testModelPath(), contextSize: 4096 })
  const sandbox = new SandboxPool({})
  await sandbox.start()
  const loop = new CodeLoop({}, { model, sandbox })
  const progress = { token() {}, attempt() {}, testResult() {}, routed() {} }
  const out: ProblemRun[] = []
  const save = (runs: ProblemRun[]) => {
    const file: BenchFile = { label: args.label ?? src, machine: machine(), seed, runs }
    writeFileSync(args.out ?? 'code-loop.json', `${JSON.stringify(file, null, 1)}\n`)
  }
  try {
    for (let r = 0; r < runs; r++) {
      for (const p of problems) {
        const spec = CodeTaskSpec.parse({
          kind: 'code',
          language: p.language,
          prompt: p.prompt,
          tests: p.tests,
          ...(seed === null ? {} : { seed }),
        })
        const t0 = performance.now()
        const outcome = await loop.run(spec, progress, new AbortController().signal)
        const attempts = outcome.result.attempts as { repair?: { droppedTail?: string } }[]
        const row: ProblemRun = {
          id: p.id,
          run: r,
          ok: outcome.status === 'succeeded',
          attempts: attempts.length,
          completionTokens: outcome.result.tokens.completion,
          ms: Math.round(performance.now() - t0),
          droppedTails: attempts.filter((a) => a.repair?.droppedTail).length,
          error: outcome.error?.message ?? null,
        }
        out.push(row)
        console.error(JSON.stringify(row))
        // Written after every problem, so that a sweep stopped early keeps what it measured.
        save(out)
      }
    }
  } finally {
    await sandbox.stop()
    await model.stop()
  }
  save(out)
}

function summary(f: BenchFile) {
  const ok = f.runs.filter((r) => r.ok).length
  return {
    ok,
    total: f.runs.length,
    attempts: median(f.runs.map((r) => r.attempts)),
    tokens: median(f.runs.map((r) => r.completionTokens)),
    ms: median(f.runs.map((r) => r.ms)),
    sumMs: f.runs.reduce((s, r) => s + r.ms, 0),
  }
}

function report(beforePath: string, afterPath: string): void {
  const before: BenchFile = JSON.parse(readFileSync(beforePath, 'utf8'))
  const after: BenchFile = JSON.parse(readFileSync(afterPath, 'utf8'))
  // Compared on the problems both measured.
  const common = new Set(before.runs.map((r) => r.id).filter((id) => after.runs.some((r) => r.id === id)))
  const b = summary({ ...before, runs: before.runs.filter((r) => common.has(r.id)) })
  const a = summary({ ...after, runs: after.runs.filter((r) => common.has(r.id)) })
  const dropped = after.runs.filter((r) => r.droppedTails > 0).length
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  const cell = (f: BenchFile, id: string) => {
    const rs = f.runs.filter((r) => r.id === id)
    if (rs.length === 0) return '–'
    const ok = rs.filter((r) => r.ok).length
    return `${ok}/${rs.length}, ${median(rs.map((r) => r.attempts))} att, ${s(median(rs.map((r) => r.ms)))}`
  }
  const rows = PROBLEMS.filter((p) => common.has(p.id)).map(
    (p) => `| ${p.id} | ${cell(before, p.id)} | ${cell(after, p.id)} |`,
  )
  writeSection(
    'Code loop on the test model',
    `\`node bench/code-loop.ts run\` on the ${PROBLEMS.length} problems of \`bench/code-problems/problems.json\`
(Python and JavaScript, one function each, with tests), each as a \`code\` task with its defaults
(plan, 3 attempts) on Gemma 3 270M Q4_K_M, embedded llama.cpp and the agent's sandbox pool in one
process; seed ${after.seed ?? 'none'}; ${common.size} problems measured on both sides. Before: ${before.label}.
After: ${after.label}; ${dropped} of its runs ran a prefix with a dropped tail.
Machine: ${after.machine} (shared with other work, so times are noisy).

| | before | after |
|---|---|---|
| solved | ${b.ok} of ${b.total} | ${a.ok} of ${a.total} |
| attempts per problem (median) | ${b.attempts} | ${a.attempts} |
| tokens generated per problem (median) | ${b.tokens} | ${a.tokens} |
| time per problem (median) | ${s(b.ms)} | ${s(a.ms)} |
| time for the whole set | ${s(b.sumMs)} | ${s(a.sumMs)} |

Per problem (solved/runs, median attempts, median time):

| problem | before | after |
|---|---|---|
${rows.join('\n')}`,
  )
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    src: { type: 'string' },
    seed: { type: 'string' },
    runs: { type: 'string' },
    only: { type: 'string' },
    label: { type: 'string' },
  },
})
if (positionals[0] === 'run') await run(values)
else if (positionals[0] === 'report') report(positionals[1]!, positionals[2]!)
else throw new Error('usage: node bench/code-loop.ts run|report ...')
