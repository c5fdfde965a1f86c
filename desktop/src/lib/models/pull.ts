import type { PullProgress } from './types.ts'

/** What the pull field holds: a catalog name (Ollama's), an http(s) URL, or a file path on the node. */
export type PullTarget =
  | { kind: 'catalog'; name: string }
  | { kind: 'url' | 'file'; source: string; name: string }

/** Reads the pull field the way the agent will: URLs and paths are sources, anything else a catalog name. */
export function pullTarget(input: string, saveAs = ''): PullTarget | null {
  const text = input.trim()
  if (!text) return null
  const as = saveAs.trim()
  if (/^https?:\/\//i.test(text)) return { kind: 'url', source: text, name: as || nameFromSource(text) }
  if (/^(\/|\.{1,2}\/|~\/)/.test(text) || /\.gguf$/i.test(text))
    return { kind: 'file', source: text, name: as || nameFromSource(text) }
  return { kind: 'catalog', name: as || text }
}

/** The model name a source implies, as the agent derives it: its file name without `.gguf`. */
export function nameFromSource(source: string): string {
  let path = source
  if (/^https?:\/\//i.test(source)) {
    try {
      path = new URL(source).pathname
    } catch {
      return ''
    }
  }
  let file = path.split('/').pop() ?? ''
  try {
    file = decodeURIComponent(file)
  } catch {
    // a malformed escape stays as written; the agent refuses the name if it is not valid
  }
  return file.replace(/\.gguf$/i, '')
}

/** The body of `POST /model/pull` for a target. */
export function pullBody(t: PullTarget): { name: string; source?: string } {
  return t.kind === 'catalog' ? { name: t.name } : { name: t.name, source: t.source }
}

/** One parsed line of a pull's stream: progress, the end, or the error it ended with. */
export type PullLine =
  | { type: 'progress'; progress: PullProgress }
  | { type: 'done'; progress: PullProgress }
  | { type: 'error'; code: string; message: string }

/** Splits an NDJSON byte stream into pull lines. */
export async function* readPullStream(body: ReadableStream<Uint8Array>): AsyncGenerator<PullLine> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  for (;;) {
    const { value, done } = await reader.read()
    buf += decoder.decode(value, { stream: !done })
    let nl = buf.indexOf('\n')
    while (nl !== -1) {
      const line = buf.slice(0, nl).trim()
      buf = buf.slice(nl + 1)
      if (line) yield parseLine(line)
      nl = buf.indexOf('\n')
    }
    if (done) break
  }
  if (buf.trim()) yield parseLine(buf.trim())
}

function parseLine(line: string): PullLine {
  let v: PullProgress & { error?: { code?: string; message?: string } }
  try {
    v = JSON.parse(line)
  } catch {
    return {
      type: 'error',
      code: 'bad_response',
      message: `the agent sent a line that is not JSON: ${line.slice(0, 80)}`,
    }
  }
  if (v.error)
    return { type: 'error', code: v.error.code ?? 'error', message: v.error.message ?? 'pull failed' }
  return v.done ? { type: 'done', progress: v } : { type: 'progress', progress: v }
}

/** Bytes per second over the last few seconds of progress, so a stall shows as a falling rate. */
export class PullSpeed {
  #samples: { at: number; bytes: number }[] = []
  constructor(readonly windowMs = 3_000) {}

  add(at: number, bytes: number): number | null {
    this.#samples.push({ at, bytes })
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.windowMs) this.#samples.shift()
    const first = this.#samples[0]!
    const span = at - first.at
    return span > 0 ? ((bytes - first.bytes) * 1000) / span : null
  }
}

/** 1.5 GB, 253 MB, 12 kB: sizes as people read them (powers of 1000, like download tools). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let u = -1
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`
}
