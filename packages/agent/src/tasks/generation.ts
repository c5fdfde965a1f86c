import type { CodeTaskSpec, TaskLanguage } from '@edgecoder/protocol'
import { testedNames } from './extract-code.ts'

/**
 * Lines at the left margin where a small model has left the code for prose: a heading, bold
 * text, an explanation. None of them can start a statement in either language.
 */
const PROSE_STARTS = [
  '\n**',
  '\n### ',
  '\nExplanation',
  '\nThis code',
  '\nThis function',
  '\nHere is',
  '\nNote:',
]

/**
 * Where a model that was asked for the solution alone starts writing tests or usage instead:
 * the tests are given, so these lines are only noise (and, cut by the token limit, a syntax error).
 */
const USAGE_STARTS: Record<TaskLanguage, string[]> = {
  python: [
    '\nprint(',
    '\nif __name__',
    '\nassert ',
    '\ndef test_',
    '\nclass Test',
    '\nimport unittest',
    '\n# Test',
    '\n# Example',
    '\n# Usage',
  ],
  javascript: [
    '\nconsole.log(',
    '\nassert',
    '\ntest(',
    '\ndescribe(',
    '\n// Test',
    '\n// Example',
    '\n// Usage',
  ],
}

/** Indentations a small model writes a body with. */
const INDENTS = ['    ', '  ', '\t', '        ']

/**
 * Lines inside a definition that check or show the function under test rather than implement it:
 * a small model that has written the body goes on, at the same depth, with `assert name(...)` or
 * `print(name(...))` until the token budget runs out. No implementation asserts or prints a call
 * of the function itself.
 */
function testsInside(lang: TaskLanguage, names: string[]): string[] {
  const starts = (name: string) =>
    lang === 'python'
      ? [`assert ${name}(`, `print(${name}(`]
      : [`console.log(${name}(`, `assert.equal(${name}(`, `assert.strictEqual(${name}(`, `assert(${name}(`]
  return names.flatMap((name) => starts(name).flatMap((s) => INDENTS.map((indent) => `\n${indent}${s}`)))
}

/**
 * Where generation of code stops: at the closing fence, at a prose section, and, when tests will
 * exercise the code, at the first example call or test the model starts writing after it or
 * inside it.
 */
export function codeStop(lang: TaskLanguage, tests: string | undefined): string[] {
  const stops = ['```', ...PROSE_STARTS]
  if (!tests?.trim()) return stops
  return [...stops, ...USAGE_STARTS[lang], ...testsInside(lang, testedNames(tests))]
}

/**
 * The text up to the first stop sequence. Providers that ignore some stops (OpenAI's own API
 * takes four) still end up where the loop meant to stop.
 */
export function cutAtStop(text: string, stops: string[]): string {
  let end = text.length
  for (const s of stops) {
    const at = text.indexOf(s)
    if (at >= 0 && at < end) end = at
  }
  return text.slice(0, end)
}

/** Copies of one line in a row that end an attempt. */
export const REPEAT_RUN = 4

/**
 * Where the second copy of a line begins once that line has come `run` times in a row, or -1.
 * A small model caught in a loop writes one line until its budget runs out (the test model's
 * failing JavaScript answers did, which made its attempts the slowest); no program needs four
 * identical lines in a row. Blank lines are passed over; a line without a letter or digit (a
 * closing bracket, which nesting repeats) never counts. Only complete lines are read.
 */
export function repeatedRun(text: string, run = REPEAT_RUN): number {
  let prev: string | undefined
  let count = 0
  let secondAt = -1
  for (let start = 0; ; ) {
    const end = text.indexOf('\n', start)
    if (end < 0) return -1
    const line = text.slice(start, end)
    if (line.trim() !== '') {
      if (line === prev && /[\p{L}\p{N}]/u.test(line)) {
        if (++count === 2) secondAt = start
        if (count >= run) return secondAt
      } else {
        prev = line
        count = 1
      }
    }
    start = end + 1
  }
}

/** The fewest tokens an attempt gets: room for a short function with its docstring. */
const MIN_BUDGET = 160
/** Tokens of code per character of task and tests: a longer task asks for more code. */
const TOKENS_PER_CHAR = 0.5

/**
 * Tokens for one attempt: enough for a solution of the size the task and its tests suggest,
 * never more than the task's `maxTokens`. A small model given 512 tokens for a one-line function
 * spends the rest on definitions nobody asked for; an attempt cut off before its code was
 * complete gets twice the room on the next try.
 */
export function codeBudget(
  spec: Pick<CodeTaskSpec, 'prompt' | 'tests' | 'maxTokens'>,
  cutOffBefore = 0,
): number {
  const size = spec.prompt.length + (spec.tests?.length ?? 0)
  const fit = Math.max(MIN_BUDGET, Math.ceil(MIN_BUDGET + size * TOKENS_PER_CHAR))
  return Math.min(spec.maxTokens, fit * 2 ** Math.min(cutOffBefore, 3))
}
