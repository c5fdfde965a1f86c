import { expect } from 'vitest'
import type { SandboxLanguage, SandboxPool, SandboxReport } from '../src/index.ts'

/** Shorthands for running one language in a pool. */
export function runners(pool: SandboxPool) {
  return {
    py: (code: string, tests?: string, signal?: AbortSignal): Promise<SandboxReport> =>
      pool.run({ language: 'python', code, tests }, signal),
    js: (code: string, tests?: string, signal?: AbortSignal): Promise<SandboxReport> =>
      pool.run({ language: 'javascript', code, tests }, signal),
  }
}

/** The parts of a report that say how the tests went. */
export const counts = (r: SandboxReport) => ({
  outcome: r.outcome,
  ok: r.ok,
  passed: r.passed,
  failed: r.failed,
  total: r.total,
})

/** The pool still answers a trivial run of the language correctly. */
export async function expectHealthy(pool: SandboxPool, language: SandboxLanguage): Promise<void> {
  const { py, js } = runners(pool)
  const report =
    language === 'python'
      ? await py('print(sum(range(10)))', 'assert True')
      : await js('print(45)', 'assert(true)')
  expect(report).toMatchObject({ outcome: 'passed', ok: true, passed: 1, total: 1 })
  expect(report.output).toMatch(/^45\n/)
}
