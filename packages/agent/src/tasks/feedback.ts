import type { TaskLanguage, TestReport } from '@edgecoder/protocol'

/** Where the sandbox names the solution's and the tests' lines in a traceback or stack. */
const SOLUTION_LINE: Record<TaskLanguage, RegExp> = {
  python: /File "<solution>", line (\d+)/g,
  javascript: /solution\.js:(\d+)(?::\d+)?/g,
}
const TEST_LINE: Record<TaskLanguage, RegExp> = {
  python: /File "<tests>", line (\d+)/g,
  javascript: /tests\.js:(\d+)(?::\d+)?/g,
}

/** Longest error text shown to the model: a small context has no room for a whole traceback. */
const ERROR_CHARS = 240
const LINE_CHARS = 160

/** What broke in one attempt, in the few lines a small model can use. */
export interface Diagnosis {
  /** One line: why the attempt failed. */
  reason: string
  /** The test that failed, as written in the tests. */
  failingTest?: string
  /** The solution's lines the error points at, numbered. */
  lines?: string
}

/** Reads the sandbox's report on `code` for the failing test, the error and the lines it names. */
export function diagnose(lang: TaskLanguage, code: string, tests: string, report: TestReport): Diagnosis {
  const reason = failureReason(report)
  const testLine = innermost(lang, report.output, TEST_LINE[lang])
  const failingTest =
    testLine === undefined ? undefined : clip(tests.split('\n')[testLine - 1]?.trim() ?? '', LINE_CHARS)
  const at = innermost(lang, report.output, SOLUTION_LINE[lang])
  return {
    reason,
    ...(failingTest ? { failingTest } : {}),
    ...(at === undefined ? {} : { lines: numbered(code, at) }),
  }
}

/** One line saying why an attempt failed. */
export function failureReason(report: TestReport): string {
  const said = report.error ?? lastErrorLine(report.output)
  const error = said ? clip(said, ERROR_CHARS) : undefined
  switch (report.outcome) {
    case 'passed':
      return 'passed'
    case 'failed':
      return `${report.failed} of ${report.total} tests failed${error ? `: ${error}` : ''}`
    case 'timeout':
      return 'the code ran past its deadline (an endless loop?)'
    case 'memory':
      return 'the code ran out of memory'
    case 'output-limit':
      return 'the code wrote too much output'
    default:
      return error ?? `the code ended in ${report.outcome}`
  }
}

/** The last line of output that names an error, for a report that carries none of its own. */
function lastErrorLine(output: string): string | undefined {
  return output
    .split('\n')
    .reverse()
    .find((l) => /\w*(Error|Exception)\b/.test(l))
}

/** The line of the frame nearest the error: Python lists it last, a JavaScript stack first. */
function innermost(lang: TaskLanguage, output: string, pattern: RegExp): number | undefined {
  const lines = [...output.matchAll(pattern)].map((m) => Number(m[1]))
  return lang === 'python' ? lines.at(-1) : lines[0]
}

/** The line `at` and its neighbours, numbered as in the traceback. */
function numbered(code: string, at: number): string | undefined {
  const lines = code.split('\n')
  if (at < 1 || at > lines.length) return undefined
  const from = Math.max(1, at - 1)
  const to = Math.min(lines.length, at + 1)
  const out: string[] = []
  for (let i = from; i <= to; i++)
    out.push(
      `${i === at ? '>' : ' '}${String(i).padStart(3)} | ${lines[i - 1]!.trimEnd().slice(0, LINE_CHARS)}`,
    )
  return out.join('\n')
}

function clip(text: string, max: number): string {
  const one = text.trim()
  return one.length > max ? `${one.slice(0, max - 1)}…` : one
}

/** Python's, QuickJS's and V8's words for a call stack that overflowed. */
const ENDLESS_RECURSION = /RecursionError|stack overflow|Maximum call stack size exceeded/

/**
 * The feedback a retry carries: what failed, where, and what to do. Told only "RecursionError"
 * and shown the recursive line, the test model gave back the same code on every retry; the
 * error is named for what it means.
 */
export function feedbackText(d: Diagnosis, fence: string): string {
  const parts = [`It failed: ${d.reason}.`]
  if (d.failingTest) parts.push(`Failing test:\n${d.failingTest}`)
  if (ENDLESS_RECURSION.test(d.reason))
    parts.push(
      `The function calls itself without end on ${d.failingTest ? "that test's input" : 'some input'}: its base case does not cover that input.`,
    )
  if (d.lines) parts.push(`The error is at:\n${d.lines}`)
  parts.push(
    `Fix the code so that all tests pass. Reply with the complete corrected code in one \`\`\`${fence} code block.`,
  )
  return parts.join('\n\n')
}
