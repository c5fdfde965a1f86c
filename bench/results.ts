import { execSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'

export const RESULTS_PATH = join(import.meta.dirname, 'RESULTS.md')

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

/** One line naming the machine a result came from. */
export function machine(): string {
  const commit = (() => {
    try {
      return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
    } catch {
      return 'unknown'
    }
  })()
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}`
}

/** Replaces (or appends) the section `## <title>` of bench/RESULTS.md, leaving the others alone. */
export function writeSection(title: string, body: string): void {
  const head = `## ${title}`
  let text = existsSync(RESULTS_PATH) ? readFileSync(RESULTS_PATH, 'utf8') : '# Benchmark results\n'
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
