import type { ChatMessage, TaskLanguage, TestReport } from '@edgecoder/protocol'
import { testedNames } from './extract-code.ts'

const NAME: Record<TaskLanguage, string> = { python: 'Python', javascript: 'JavaScript' }
/** The fence tag the model is primed with; `extractCode` accepts others too. */
const FENCE_TAG: Record<TaskLanguage, string> = { python: 'python', javascript: 'javascript' }
const RULES: Record<TaskLanguage, string> = {
  python: 'Use only the Python standard library.',
  javascript: 'Use plain JavaScript: no require, no import, no export, no Node.js APIs.',
}

/** Output shown to the model on a retry: the end of it, where the failures are reported. */
const FEEDBACK_CHARS = 2_000

/** A plan ends at its first blank line, or where a sixth step would begin. */
export const PLAN_STOP = ['\n\n', '```', '\n6.']

/**
 * Where generation of code stops: at the closing fence, and, when tests will exercise the code,
 * at the first example call or test a model starts writing after it (small models go on with
 * such lines until the token limit).
 */
export function codeStop(lang: TaskLanguage, tests: string | undefined): string[] {
  if (!tests?.trim()) return ['```']
  return lang === 'python'
    ? ['```', '\nprint(', '\nif __name__', '\nassert ']
    : ['```', '\nconsole.log(', '\nassert', '\ntest(']
}
/** The plan's first words, written for the model so that it continues with steps. */
export const PLAN_PRIMER = '1.'

const fenced = (lang: TaskLanguage, code: string) => `\`\`\`${FENCE_TAG[lang]}\n${code}\n\`\`\``

function taskText(lang: TaskLanguage, prompt: string, tests: string | undefined): string {
  let text = `Task (${NAME[lang]}): ${prompt.trim()}\n`
  if (tests?.trim()) text += `\nThe code must pass these tests:\n${fenced(lang, tests.trim())}\n`
  return text
}

/**
 * The start of the answer, written for the model: an open code fence and, when the tests name the
 * function, its first words. The model continues from there, which keeps small (even base,
 * non-chat) models on the code instead of echoing the prompt.
 */
export function codePrimer(lang: TaskLanguage, tests: string | undefined): string {
  const name = testedNames(tests ?? '')[0]
  const opening = name ? (lang === 'python' ? `def ${name}(` : `function ${name}(`) : ''
  return `\`\`\`${FENCE_TAG[lang]}\n${opening}`
}

/** Asks for a short plan before any code. */
export function planMessages(lang: TaskLanguage, prompt: string, tests: string | undefined): ChatMessage[] {
  return [
    {
      role: 'user',
      content: `${taskText(lang, prompt, tests)}\nWrite a short numbered plan (at most 5 steps) for a solution. Do not write code yet.`,
    },
    { role: 'assistant', content: PLAN_PRIMER },
  ]
}

/** The request for code: the task, its tests, the plan, then the primed answer. */
export function codeMessages(
  lang: TaskLanguage,
  prompt: string,
  tests: string | undefined,
  plan: string | null,
): ChatMessage[] {
  return [
    {
      role: 'user',
      content: `${taskText(lang, prompt, tests)}${plan ? `\nPlan:\n${plan}\n` : ''}\nWrite complete, self-contained ${NAME[lang]} code that solves the task. ${RULES[lang]} Do not include tests or example usage. Reply with one \`\`\`${FENCE_TAG[lang]} code block.`,
    },
    { role: 'assistant', content: codePrimer(lang, tests) },
  ]
}

/** A retry: the request, the previous code, what the sandbox said about it, and a fresh primed answer. */
export function retryMessages(
  first: ChatMessage[],
  lang: TaskLanguage,
  code: string,
  report: TestReport,
): ChatMessage[] {
  const [request, primer] = [first[0]!, first.at(-1)!]
  const previous: ChatMessage = { role: 'assistant', content: code ? fenced(lang, code) : '(no code)' }
  return [request, previous, { role: 'user', content: feedback(lang, code, report) }, primer]
}

function feedback(lang: TaskLanguage, code: string, report: TestReport): string {
  if (!code) {
    return `Your answer contained no ${NAME[lang]} code. Reply with the complete program in one \`\`\`${FENCE_TAG[lang]} code block.`
  }
  const summary =
    report.outcome === 'failed'
      ? `${report.failed} of ${report.total} tests failed.`
      : `The code did not run to the end (${report.outcome}${report.error ? `: ${report.error}` : ''}).`
  const output =
    report.output.length > FEEDBACK_CHARS ? `…${report.output.slice(-FEEDBACK_CHARS)}` : report.output
  return `${summary}\n${output.trim() ? `\nOutput:\n\`\`\`\n${output.trim()}\n\`\`\`\n` : ''}\nFix the code so that all tests pass. Reply with the complete corrected code in one \`\`\`${FENCE_TAG[lang]} code block.`
}
