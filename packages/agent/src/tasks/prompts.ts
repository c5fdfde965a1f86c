import type { ChatMessage, TaskLanguage, TestReport } from '@edgecoder/protocol'

const NAME: Record<TaskLanguage, string> = { python: 'Python', javascript: 'JavaScript' }
/** The fence tag the model is asked to use; `extractCode` accepts others too. */
export const FENCE_TAG: Record<TaskLanguage, string> = { python: 'python', javascript: 'javascript' }
const RULES: Record<TaskLanguage, string> = {
  python: 'Use only the Python standard library.',
  javascript: 'Use plain JavaScript: no require, no import, no export, no Node.js APIs.',
}

/** Output shown to the model on a retry: the end of it, where the failures are reported. */
const FEEDBACK_CHARS = 2_000

const fenced = (lang: TaskLanguage, code: string) => `\`\`\`${FENCE_TAG[lang]}\n${code}\n\`\`\``

function taskText(lang: TaskLanguage, prompt: string, tests: string | undefined): string {
  let text = `Task: ${prompt.trim()}\n`
  if (tests?.trim()) text += `\nThe code must pass these tests:\n${fenced(lang, tests.trim())}\n`
  return text
}

/** Asks for a short plan before any code: small models write better code after naming the steps. */
export function planMessages(lang: TaskLanguage, prompt: string, tests: string | undefined): ChatMessage[] {
  return [
    {
      role: 'system',
      content: `You are an expert ${NAME[lang]} programmer. You plan before you code.`,
    },
    {
      role: 'user',
      content: `${taskText(lang, prompt, tests)}\nWrite a short numbered plan (at most 5 steps) for a solution. Do not write code yet.`,
    },
  ]
}

/** The first request for code. */
export function codeMessages(
  lang: TaskLanguage,
  prompt: string,
  tests: string | undefined,
  plan: string | null,
): ChatMessage[] {
  return [
    {
      role: 'system',
      content: `You are an expert ${NAME[lang]} programmer. Write complete, self-contained code that solves the task. ${RULES[lang]} Do not include tests or example usage. Reply with one \`\`\`${FENCE_TAG[lang]} code block.`,
    },
    {
      role: 'user',
      content: `${taskText(lang, prompt, tests)}${plan ? `\nPlan:\n${plan}\n` : ''}\nWrite the code.`,
    },
  ]
}

/** A retry: the first request, the previous code, and what the sandbox said about it. */
export function retryMessages(
  first: ChatMessage[],
  lang: TaskLanguage,
  code: string,
  report: TestReport,
): ChatMessage[] {
  const answer: ChatMessage = { role: 'assistant', content: code ? fenced(lang, code) : '(no code)' }
  return [...first, answer, { role: 'user', content: feedback(lang, code, report) }]
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
