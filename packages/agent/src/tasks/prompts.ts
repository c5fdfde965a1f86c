import type { ChatMessage, TaskLanguage } from '@edgecoder/protocol'
import { testedNames } from './extract-code.ts'
import { type Diagnosis, feedbackText } from './feedback.ts'

const NAME: Record<TaskLanguage, string> = { python: 'Python', javascript: 'JavaScript' }
/** The fence tag the model is primed with; `extractCode` accepts others too. */
const FENCE_TAG: Record<TaskLanguage, string> = { python: 'python', javascript: 'javascript' }
const RULES: Record<TaskLanguage, string> = {
  python: 'Use only the Python standard library.',
  javascript: 'Use plain JavaScript: no require, no import, no export, no Node.js APIs.',
}

/** A plan ends at its first blank line, or where a sixth step would begin. */
export const PLAN_STOP = ['\n\n', '```', '\n6.']

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
 * function, its first words; when the task also spells out its parameters (`is_even(n)`), the
 * whole signature. The model continues from there, which keeps small (even base, non-chat)
 * models on the code instead of echoing the prompt, and a small model given the signature
 * spends its tokens on the body.
 */
export function codePrimer(lang: TaskLanguage, tests: string | undefined, prompt = ''): string {
  const name = testedNames(tests ?? '')[0]
  if (!name) return `\`\`\`${FENCE_TAG[lang]}\n`
  const params = signatureParams(prompt, name)
  if (params === null) return `\`\`\`${FENCE_TAG[lang]}\n${lang === 'python' ? 'def' : 'function'} ${name}(`
  const head = lang === 'python' ? `def ${name}(${params}):\n` : `function ${name}(${params}) {\n`
  return `\`\`\`${FENCE_TAG[lang]}\n${head}`
}

/** The parameter list the task writes for `name`, when it is a plain list of names; else null. */
export function signatureParams(prompt: string, name: string): string | null {
  const escaped = name.replace(/[$]/g, '\\$')
  const m = new RegExp(`(?<![\\w$.])${escaped}\\(([^()]*)\\)`).exec(prompt)
  if (!m) return null
  const params = m[1]!.split(',').map((p) => p.trim())
  if (params.length === 1 && params[0] === '') return ''
  return params.every((p) => /^[A-Za-z_$][\w$]*$/.test(p)) ? params.join(', ') : null
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
    { role: 'assistant', content: codePrimer(lang, tests, prompt) },
  ]
}

/**
 * A retry: the request again, with what broke in the previous answer (why, the failing test, the
 * lines the error points at), and a fresh primed answer. The previous code itself is left out:
 * shown it as an earlier turn, the test model gave the same code back on 19 of 20 retries of
 * `factorial`; told only what broke, on none of 6.
 */
export function retryMessages(
  first: ChatMessage[],
  lang: TaskLanguage,
  code: string,
  diagnosis: Diagnosis,
): ChatMessage[] {
  const [request, primer] = [first[0]!, first.at(-1)!]
  if (!code) {
    const ask = `Your answer contained no complete ${NAME[lang]} code. Reply with the complete program in one \`\`\`${FENCE_TAG[lang]} code block.`
    return [request, { role: 'assistant', content: '(no code)' }, { role: 'user', content: ask }, primer]
  }
  const note = `\nAn earlier solution failed.\n${feedbackText(diagnosis, FENCE_TAG[lang])}\n`
  return [{ role: 'user', content: request.content + note }, primer]
}

/**
 * A retry after the model repeated an answer that had already failed. Shown its own code again, a
 * small model copies it, so this request starts afresh: the task, what went wrong in words, and
 * a request for another way, without the earlier turns or the failed code.
 */
export function variedMessages(first: ChatMessage[], diagnosis: Diagnosis): ChatMessage[] {
  const [request, primer] = [first[0]!, first.at(-1)!]
  const failed = diagnosis.failingTest ? ` on the test \`${diagnosis.failingTest}\`` : ''
  const note = `\nAn earlier solution failed${failed} (${diagnosis.reason}). Write a different, simpler solution.\n`
  return [{ role: 'user', content: request.content + note }, primer]
}
