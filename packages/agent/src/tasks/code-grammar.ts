import type { TaskLanguage } from '@edgecoder/protocol'

/**
 * Lines a solution may start at the left margin when tests will exercise it: definitions,
 * imports, comments, constants and, in JavaScript, the closing brackets of a definition. Example
 * calls, prints, asserts and prose cannot start there, so a model that would write them has to
 * close the code block instead.
 */
const TOP_STARTS: Record<TaskLanguage, string[]> = {
  python: ['def ', 'async def ', 'class ', 'import ', 'from ', '@', '#'],
  javascript: [
    'function ',
    'function* ',
    'async function ',
    'const ',
    'let ',
    'var ',
    'class ',
    '//',
    '/*',
    '}',
    ')',
    ']',
  ],
}

const gbnfString = (s: string) => JSON.stringify(s)

/**
 * A GBNF grammar (llama.cpp's notation) for the rest of a code answer after `primer`, the open
 * fence and first words the loop writes for the model: lines of code, then the closing fence,
 * and nothing after it. When the primer opens a definition (`def name(`), its line has to end
 * the signature and the next line has to be indented: a body, not a one-line stub or code at the
 * wrong depth; a primer that wrote the whole signature is followed by an indented line. With tests, only the lines in {@link TOP_STARTS} may start at the left margin.
 * Blank lines come at most two in a row, so that the model can't fill its budget with them.
 */
export function codeGrammar(lang: TaskLanguage, tests: string | undefined, primer: string): string {
  const openLine = primer.slice(primer.lastIndexOf('\n') + 1)
  // A primer that wrote the whole signature leaves the model at the start of the body.
  const inBody = openLine === '' && /(:|\{)\n$/.test(primer)
  // Python code never needs a backtick; JavaScript's template literals do (a fence still ends the
  // answer there: the loop stops at ```).
  const char = lang === 'python' ? '[^`\\n]' : '[^\\n]'
  const top = tests?.trim()
    ? `${TOP_STARTS[lang].map(gbnfString).join(' | ')}${lang === 'python' ? ' | const' : ''}`
    : '[^ \\t\\n`]'
  const rules = [
    `root ::= ${inBody ? 'inner' : openLine === '' ? 'line' : 'head'} rest "\`\`\`"`,
    // Python: the signature ends with a colon (a comment may follow it); then an indented body.
    lang === 'python'
      ? `head ::= char* ":" [ \\t]* ("#" char*)? "\\n" inner`
      : // JavaScript: the rest of the line (a one-line body may close the definition on it).
        'head ::= char* "\\n"',
    'rest ::= (gap? line)*',
    'gap ::= "\\n" "\\n"?',
    'line ::= inner | top',
    'inner ::= [ \\t] char* "\\n"',
    `top ::= (${top}) char* "\\n"`,
    'const ::= [A-Z] [A-Z0-9_]* " = "',
    `char ::= ${char}`,
  ]
  return `${rules.join('\n')}\n`
}
