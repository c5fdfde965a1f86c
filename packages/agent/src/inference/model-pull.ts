import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { InferenceError } from './errors.ts'

/** A pull that could not complete: bad source, not GGUF, wrong size or checksum. Nothing is left behind. */
export class PullError extends InferenceError {
  override name = 'PullError'
  override readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export interface PullSource {
  /** http(s) URL or local file path of a GGUF file. */
  source: string
  /** Expected size in bytes, checked when given. */
  sizeBytes?: number
  /** Expected sha256 (hex), checked when given. */
  sha256?: string
}

export interface PullProgressEvent {
  status: 'downloading' | 'verifying' | 'success'
  completedBytes: number
  totalBytes: number | null
  fraction: number | null
}

const GGUF_MAGIC = Buffer.from('GGUF')
const PARTIAL = '.partial-'

/** Model names are file names in the models dir: no paths, no dot files. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** The model name a source implies: its file name without `.gguf`. */
export function nameFromSource(source: string): string {
  const path = /^https?:\/\//.test(source) ? new URL(source).pathname : source
  return decodeURIComponent(path.split('/').pop() ?? '').replace(/\.gguf$/i, '')
}

/** Removes partial downloads a crash left behind. */
export async function cleanPartials(modelsDir: string): Promise<number> {
  let n = 0
  for (const f of await readdir(modelsDir).catch(() => [] as string[])) {
    if (f.startsWith('.') && f.includes(PARTIAL)) {
      await rm(join(modelsDir, f), { force: true })
      n++
    }
  }
  return n
}

/**
 * Copies a GGUF file into the models dir: streamed to a hidden partial file while hashing,
 * refused early if it isn't GGUF, checked for size and sha256, synced, then renamed into place.
 * A cancel, a failure or a crash never leaves a visible half file.
 */
export async function pullGguf(
  modelsDir: string,
  name: string,
  src: PullSource,
  onProgress: (p: PullProgressEvent) => void,
  signal?: AbortSignal,
): Promise<{ path: string; sizeBytes: number; sha256: string }> {
  if (!MODEL_NAME.test(name)) throw new PullError('invalid_name', `"${name}" is not a valid model name`)
  await mkdir(modelsDir, { recursive: true })
  const final = join(modelsDir, `${name}.gguf`)
  const partial = join(modelsDir, `.${name}${PARTIAL}${randomBytes(4).toString('hex')}`)
  const { body, total } = await openSource(src.source, signal)
  const expected = src.sizeBytes ?? total
  const hash = createHash('sha256')
  const file = await open(partial, 'w', 0o644)
  let done = 0
  let magic = Buffer.alloc(0)
  let lastReport = 0
  try {
    for await (const chunk of body) {
      signal?.throwIfAborted()
      const buf = chunk as Buffer
      if (magic.length < 4) {
        magic = Buffer.concat([magic, buf.subarray(0, 4 - magic.length)])
        if (!magic.equals(GGUF_MAGIC.subarray(0, magic.length))) {
          throw new PullError('not_gguf', `${src.source} is not a GGUF file`)
        }
      }
      await file.write(buf)
      hash.update(buf)
      done += buf.length
      if (expected !== null && done > expected) {
        throw new PullError('size_mismatch', `${src.source} is larger than the expected ${expected} bytes`)
      }
      const now = performance.now()
      if (now - lastReport > 100) {
        lastReport = now
        onProgress({
          status: 'downloading',
          completedBytes: done,
          totalBytes: expected,
          fraction: expected ? done / expected : null,
        })
      }
    }
    signal?.throwIfAborted()
    onProgress({ status: 'verifying', completedBytes: done, totalBytes: expected ?? done, fraction: 1 })
    if (done < 4) throw new PullError('not_gguf', `${src.source} is not a GGUF file`)
    if (expected !== null && done !== expected) {
      throw new PullError('size_mismatch', `${src.source} has ${done} bytes; expected ${expected}`)
    }
    const sha256 = hash.digest('hex')
    if (src.sha256 && sha256 !== src.sha256.toLowerCase()) {
      throw new PullError('checksum_mismatch', `sha256 of ${src.source} is ${sha256}; expected ${src.sha256}`)
    }
    await file.sync()
    await file.close()
    await rename(partial, final)
    onProgress({ status: 'success', completedBytes: done, totalBytes: done, fraction: 1 })
    return { path: final, sizeBytes: done, sha256 }
  } catch (err) {
    await file.close().catch(() => {})
    await rm(partial, { force: true })
    if (signal?.aborted) throw new PullError('cancelled', `pull of ${name} was cancelled`)
    if (err instanceof PullError) throw err
    throw new PullError('pull_failed', `pull of ${name} failed: ${(err as Error).message}`)
  } finally {
    body.destroy()
  }
}

async function openSource(
  source: string,
  signal?: AbortSignal,
): Promise<{ body: Readable; total: number | null }> {
  if (/^https?:\/\//.test(source)) {
    let res: Response
    try {
      res = await fetch(source, { signal })
    } catch (err) {
      throw new PullError('source_unreachable', `cannot fetch ${source}: ${(err as Error).message}`)
    }
    if (!res.ok || !res.body)
      throw new PullError('source_unreachable', `${source} answered HTTP ${res.status}`)
    const len = Number(res.headers.get('content-length'))
    return {
      body: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
      total: len > 0 ? len : null,
    }
  }
  if (/^[a-z]+:\/\//i.test(source))
    throw new PullError('invalid_source', `unsupported source ${source}; use http(s) or a file path`)
  let st: Awaited<ReturnType<typeof stat>>
  try {
    st = await stat(source)
  } catch {
    throw new PullError('source_unreachable', `no file at ${source}`)
  }
  if (!st.isFile()) throw new PullError('invalid_source', `${source} is not a file`)
  return { body: createReadStream(source, { highWaterMark: 1 << 20 }), total: st.size }
}
