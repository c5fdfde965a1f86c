import type { TaskLanguage } from '@edgecoder/protocol'

const TAGS: Record<TaskLanguage, Set<string>> = {
  python: new Set(['python', 'python3', 'py', 'py3']),
  javascript: new Set(['javascript', 'js', 'node', 'nodejs', 'mjs', 'cjs', 'jsx', 'ecmascript']),
}

/** Lines that start code at the left margin, per language. */
const CODE_START: Record<TaskLanguage, RegExp> = {
  python:
    /^(def |async def |class |import |from \S+ import |@\w|#|if |elif |else:|for |while |try:|except|finally:|with |return\b|print\(|assert |[A-Za-z_][\w.]*\s*(=|\(|\[|\+=|-=))/,
  javascript:
    /^(function\b|async function\b|const |let |var |class |import |export |\/\/|\/\*|if\s*\(|for\s*\(|while\s*\(|return\b|try\s*\{|[}\])]|[A-Za-z_$][\w$.]*\s*(=|\(|\[|\+=|-=))/,
}

const PROSE = /^[A-Za-z][\w'’,-]*(\s+[^\s]+){2,}$/
const NOT_PROSE = /[=(){}[\];]|^\s*(def|class|function|const|let|var|return|import|from)\b/

interface Block {
  tag: string
  body: string
}

/**
 * The program in a model's answer. Small models wrap code in fences with or without a language
 * tag, forget to close the last fence when they run out of tokens, add usage examples in extra
 * blocks, or write no fences at all between sentences. Blocks are scored by language tag and by
 * whether they define the names the tests call; without fences, prose lines around the code are
 * cut. Returns '' when nothing looks like code.
 */
export function extractCode(
  answer: string,
  language: TaskLanguage,
  tests = '',
  opts: { truncated?: boolean } = {},
): string {
  const text = answer.replace(/\r\n?/g, '\n').replace(/<\/?(start|end)_of_turn>/g, '')
  const blocks = fencedBlocks(text)
  const names = testedNames(tests)
  let code: string
  if (blocks.length > 0) {
    const best = blocks
      .map((b, i) => ({ b, i, score: scoreBlock(b, language, names) }))
      .filter((s) => s.b.body.trim() !== '')
      .sort((x, y) => y.score - x.score || y.b.body.length - x.b.body.length || x.i - y.i)[0]
    code = best ? best.b.body : ''
  } else {
    code = unfenced(text, language)
  }
  code = tidy(code, language)
  if (opts.truncated) code = dropCutLine(code)
  if (tests.trim()) code = dropTrailingUsage(code, language)
  return code
}

function fencedBlocks(text: string): Block[] {
  const blocks: Block[] = []
  const lines = text.split('\n')
  let open: { fence: string; tag: string; lines: string[] } | null = null
  for (const line of lines) {
    if (open) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line)
      if (close && close[1]![0] === open.fence[0] && close[1]!.length >= open.fence.length) {
        blocks.push({ tag: open.tag, body: open.lines.join('\n') })
        open = null
      } else {
        open.lines.push(line)
      }
      continue
    }
    const start = /^\s*(`{3,}|~{3,})\s*([\w+#.-]*)/.exec(line)
    if (start) open = { fence: start[1]!, tag: start[2]!.toLowerCase(), lines: [] }
  }
  // An answer cut off by the token limit leaves its last block open: keep what was written.
  if (open) blocks.push({ tag: open.tag, body: open.lines.join('\n') })
  return blocks
}

function scoreBlock(b: Block, language: TaskLanguage, names: string[]): number {
  let score = 0
  if (TAGS[language].has(b.tag)) score += 4
  else if (b.tag === '') score += 1
  else score -= 5
  for (const n of names) if (definesName(b.body, n)) score += 3
  if (CODE_START[language].test(b.body.trimStart())) score += 1
  return score
}

function definesName(code: string, name: string): boolean {
  const n = name.replace(/[$]/g, '\\$')
  return new RegExp(
    `(^|\\n)\\s*(def\\s+${n}\\s*\\(|async\\s+def\\s+${n}\\s*\\(|class\\s+${n}\\b|(async\\s+)?function\\*?\\s+${n}\\s*\\(|(const|let|var)\\s+${n}\\s*=|${n}\\s*=)`,
  ).test(code)
}

const NOT_NAMES = new Set(
  'assert print len range str int float list dict set tuple isinstance sorted abs min max sum any all repr type round map filter zip enumerate console log JSON Math Object Array String Number Boolean Error throw if for while return new typeof function def lambda assertEqual assertTrue assertFalse assertRaises main TestCase test it describe expect'.split(
    ' ',
  ),
)

/** Functions the tests call but do not define: the names the solution has to define, in order of use. */
export function testedNames(tests: string): string[] {
  const defined = new Set(
    [...tests.matchAll(/\b(?:def|function|class)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!),
  )
  const called = new Set<string>()
  for (const m of tests.matchAll(/(?<![.\w$])([A-Za-z_$][\w$]*)\s*\(/g)) {
    const name = m[1]!
    if (!NOT_NAMES.has(name) && !defined.has(name)) called.add(name)
  }
  return [...called]
}

/** No fences: from the first line that starts code to the first prose line after it. */
function unfenced(text: string, language: TaskLanguage): string {
  const lines = text.split('\n')
  const first = lines.findIndex((l) => l.trim() !== '' && l === l.trimStart() && CODE_START[language].test(l))
  if (first < 0) return ''
  let end = lines.length
  for (let i = first + 1; i < lines.length; i++) {
    const l = lines[i]!
    if (l.trim() === '' || l !== l.trimStart()) continue
    if (CODE_START[language].test(l)) continue
    if (PROSE.test(l.trim()) && !NOT_PROSE.test(l)) {
      end = i
      break
    }
  }
  return lines.slice(first, end).join('\n')
}

/** The sandbox runs a script, not a module: export keywords and CommonJS exports would break it. */
function tidy(code: string, language: TaskLanguage): string {
  let lines = code.split('\n')
  if (lines.length > 0 && TAGS[language].has(lines[0]!.trim().toLowerCase())) lines = lines.slice(1)
  if (language === 'javascript') {
    lines = lines
      .filter((l) => !/^\s*module\.exports(\.\w+)?\s*=/.test(l) && !/^\s*export\s*\{[^}]*\}\s*;?\s*$/.test(l))
      .map((l) =>
        l.replace(/^export\s+default\s+(?=(async\s+)?function|class)/, '').replace(/^export\s+/, ''),
      )
  }
  return lines.join('\n').replace(/^\n+/, '').trimEnd()
}

/** An answer cut off by the token limit may end mid-statement: drop a last line left open. */
function dropCutLine(code: string): string {
  const lines = code.split('\n')
  const last = lines.at(-1) ?? ''
  const open = (last.match(/[([{]/g)?.length ?? 0) - (last.match(/[)\]}]/g)?.length ?? 0)
  const quotes = (last.match(/["'`]/g)?.length ?? 0) % 2
  if (lines.length > 1 && (open > 0 || quotes === 1 || /[,=+\-*/.:\\]\s*$/.test(last))) lines.pop()
  return lines.join('\n').trimEnd()
}

const USAGE: Record<TaskLanguage, RegExp> = {
  python: /^(print\s*\(.*|[A-Za-z_][\w.]*\s*\(.*\)\s*;?)$/,
  javascript: /^(console\.\w+\s*\(.*|[A-Za-z_$][\w$.]*\s*\(.*\)\s*;?)$/,
}

/** The tests exercise the code: example calls and prints a model adds after it are only noise. */
function dropTrailingUsage(code: string, language: TaskLanguage): string {
  const lines = code.split('\n')
  while (lines.length > 1) {
    const last = lines.at(-1)!
    if (last.trim() === '' || (last === last.trimStart() && USAGE[language].test(last.trim()))) lines.pop()
    else break
  }
  return lines.join('\n').trimEnd()
}
