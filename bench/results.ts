import { execSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'

export const RESULTS_PATH = join(import.meta.dirname, 'RESULTS.md')
/** Where each bench leaves its goal rows for `bench/run`'s table: `<bench>.goals.json`. */
export const GOALS_DIR = join(import.meta.dirname, 'results')

/** Median of a sample; benches report medians because these machines are noisy. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** The commit measured, with `+dirty` when the work tree differs from it. */
export function commit(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
    // The benches' own output (RESULTS.md, the goal files) does not make the code measured dirty.
    const dirty = execSync(
      "git status --porcelain --untracked-files=no -- . ':!bench/RESULTS.md' ':!bench/results'",
      {
        encoding: 'utf8',
      },
    ).trim()
    return dirty === '' ? head : `${head}+dirty`
  } catch {
    return 'unknown'
  }
}

/** One line naming the machine a result came from. */
export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, commit ${commit()}, ${new Date().toISOString().slice(0, 10)}`
}

/** The 1-minute load average, as the benches print it. */
export const load1 = (): string => loadavg()[0]!.toFixed(1)

/** `bench/run --quick` (smaller N, fewer rounds): figures for development, not of record. */
export const QUICK = process.env.BENCH_QUICK === '1'

/**
 * One goal as measured: `met` is true or false when it was measured, null when it could not be
 * (what stopped it is in `note`). `ratio` is the measured value over the bound, so ≤ 1 meets an
 * upper bound; for a lower bound ("≥ 0.95 of") it is the bound over the value.
 */
export interface Goal {
  goal: string
  target: string
  measured: string
  ratio: number | null
  met: boolean | null
  note?: string
}

/** An upper bound: `value ≤ bound` (or `<` when `strict`). */
export function atMost(
  goal: string,
  value: number,
  bound: number,
  show: (x: number) => string,
  strict = false,
): Goal {
  return {
    goal,
    target: `${strict ? '<' : '≤'} ${show(bound)}`,
    measured: show(value),
    ratio: value / bound,
    met: strict ? value < bound : value <= bound,
  }
}

/** A lower bound: `value ≥ bound`. */
export function atLeast(goal: string, value: number, bound: number, show: (x: number) => string): Goal {
  return {
    goal,
    target: `≥ ${show(bound)}`,
    measured: show(value),
    ratio: bound / value,
    met: value >= bound,
  }
}

/** A goal this run could not measure, and why. */
export function notMeasured(goal: string, target: string, why: string): Goal {
  return { goal, target, measured: '—', ratio: null, met: null, note: why }
}

/** The file a bench's goal rows go to; `bench/run` reads it back. */
export const goalsFile = (bench: string): string => join(GOALS_DIR, `${bench}.goals.json`)

/** What a bench leaves for `bench/run`: its goals, where and when they were measured. */
export interface GoalReport {
  bench: string
  commit: string
  machine: string
  at: string
  quick: boolean
  goals: Goal[]
}

/** Writes the bench's goal rows (bench/results/<bench>.goals.json) and prints them. */
export function reportGoals(bench: string, goals: Goal[]): void {
  const report: GoalReport = {
    bench,
    commit: commit(),
    machine: machine(),
    at: new Date().toISOString(),
    quick: QUICK,
    goals,
  }
  mkdirSync(GOALS_DIR, { recursive: true })
  writeFileSync(goalsFile(bench), `${JSON.stringify(report, null, 2)}\n`)
  for (const g of goals) {
    const verdict = g.met === null ? `not measured (${g.note})` : g.met ? 'met' : 'MISSED'
    console.log(`goal: ${g.goal}: ${g.measured} (target ${g.target}) ${verdict}`)
  }
}

/** The text of bench/RESULTS.md, or its title alone. */
export function readResults(): string {
  return existsSync(RESULTS_PATH) ? readFileSync(RESULTS_PATH, 'utf8') : '# Benchmark results\n'
}

/** Replaces (or appends) the section `## <title>` of bench/RESULTS.md, leaving the others alone. */
export function writeSection(title: string, body: string): void {
  if (process.env.BENCH_DRY_RUN === '1') return
  const head = `## ${title}`
  let text = readResults()
  const start = text.indexOf(`${head}\n`)
  const section = `${head}\n\n${body.trim()}\n\n`
  if (start === -1) {
    text = `${text.trimEnd()}\n\n${section}`
  } else {
    const next = text.indexOf('\n## ', start + head.length)
    text = text.slice(0, start) + section + (next === -1 ? '' : text.slice(next + 1))
  }
  writeFileSync(RESULTS_PATH, `${text.trimEnd()}\n`)
}
