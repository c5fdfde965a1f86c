import type { TaskLanguage } from '@edgecoder/protocol'
import type { TaskSandbox } from './ports.ts'

/** Code to run, and what was cut from the end of the model's code to get it. */
export interface PrefixRepair {
  code: string
  /** The tail that was dropped because it did not parse or was cut off; absent when nothing was. */
  droppedTail?: string
}

export interface PrefixOptions {
  /** The answer hit the token limit: its last statement is taken as cut off. */
  truncated: boolean
  sandbox: TaskSandbox
  signal?: AbortSignal
}

/** Wall-clock limit of the parse check in the sandbox; it parses a few dozen prefixes at most. */
const CHECK_DEADLINE_MS = 5_000
const MARK = 'EDGECODER_PREFIX '

/**
 * The longest prefix of `code` made of complete top-level statements that parses. A small model
 * often writes a correct function and then trails into prose, more definitions cut off by the
 * token limit, or an unclosed bracket: running the whole text would throw the good part away
 * with a syntax error. When no prefix parses, the code is returned whole, so that running it
 * reports the syntax error to the model.
 */
export async function completePrefix(
  code: string,
  language: TaskLanguage,
  opts: PrefixOptions,
): Promise<PrefixRepair> {
  const lines = code.split('\n')
  const kept =
    language === 'javascript'
      ? longestParsing(lines, opts.truncated, jsParser(await import('acorn')))
      : await pythonLongestParsing(code, opts)
  if (kept === null || kept >= lines.length) return { code }
  const prefix = lines.slice(0, kept).join('\n').trimEnd()
  const tail = lines.slice(kept).join('\n').trim()
  return tail === '' ? { code: prefix } : { code: prefix, droppedTail: tail }
}

/**
 * How many lines to keep: the longest cut before a line at the left margin (the start of a new
 * top-level statement) whose prefix parses. The whole text counts only when it was not cut off,
 * or when nothing shorter parses; failing all that, the longest prefix of whole lines that parses
 * (junk inside the last definition). Null when nothing parses.
 */
export function longestParsing(
  lines: string[],
  truncated: boolean,
  parses: (text: string) => boolean,
): number | null {
  const whole = lines.join('\n')
  if (!truncated && parses(whole)) return lines.length
  for (let k = lines.length - 1; k > 0; k--) {
    const next = lines[k]!
    if (next.trim() === '' || /^\s/.test(next)) continue
    const prefix = lines.slice(0, k).join('\n')
    if (prefix.trim() !== '' && parses(prefix)) return k
  }
  if (truncated && parses(whole)) return lines.length
  // Junk inside the last definition (prints after its return, cut off): keep its complete statements.
  for (let k = lines.length - 1; k > 0; k--) {
    if (lines[k]!.trim() === '') continue
    const prefix = lines.slice(0, k).join('\n')
    if (prefix.trim() !== '' && parses(prefix)) return k
  }
  return null
}

/** acorn is loaded on the first JavaScript answer: an idle node does not keep a parser it never uses. */
const jsParser =
  (acorn: typeof import('acorn')) =>
  (text: string): boolean => {
    try {
      // A script, as the sandbox runs it; a prefix of only comments is no code.
      return acorn.parse(text, { ecmaVersion: 'latest', sourceType: 'script' }).body.length > 0
    } catch {
      return false
    }
  }

/**
 * Python's own parser decides, so the check runs in the sandbox: a short program walks the same
 * cuts as {@link longestParsing} with `ast.parse` and `compile` and prints how many lines to keep.
 */
async function pythonLongestParsing(code: string, opts: PrefixOptions): Promise<number | null> {
  const program = `import ast, base64, json
src = base64.b64decode('${Buffer.from(code, 'utf8').toString('base64')}').decode('utf-8')
truncated = ${opts.truncated ? 'True' : 'False'}
lines = src.split('\\n')

def parses(text):
    try:
        tree = ast.parse(text)
        compile(tree, '<solution>', 'exec', dont_inherit=True)
        return len(tree.body) > 0
    except (SyntaxError, ValueError):
        return False

def kept():
    if not truncated and parses(src):
        return len(lines)
    for k in range(len(lines) - 1, 0, -1):
        nxt = lines[k]
        if nxt.strip() == '' or nxt[0].isspace():
            continue
        prefix = '\\n'.join(lines[:k])
        if prefix.strip() != '' and parses(prefix):
            return k
    if truncated and parses(src):
        return len(lines)
    for k in range(len(lines) - 1, 0, -1):
        if lines[k].strip() == '':
            continue
        prefix = '\\n'.join(lines[:k])
        if prefix.strip() != '' and parses(prefix):
            return k
    return None

print(${JSON.stringify(MARK)} + json.dumps(kept()))
`
  const report = await opts.sandbox.run(
    { language: 'python', code: program, tests: '', deadlineMs: CHECK_DEADLINE_MS },
    opts.signal,
  )
  const line = report.output.split('\n').find((l) => l.startsWith(MARK))
  // The check could not run (a busy or stopped sandbox): run the code as it is.
  if (!report.ok || line === undefined) return null
  const kept: unknown = JSON.parse(line.slice(MARK.length))
  return typeof kept === 'number' ? kept : null
}
