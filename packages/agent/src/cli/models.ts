import { parseArgs } from 'node:util'
import { MODEL_CATALOG, SUGGESTED_MODEL } from '../inference/index.ts'
import { ClientError, type ClientOptions, call, clientOptions, request } from './client.ts'
import { table } from './format.ts'

const FLAGS = {
  'api-url': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  name: { type: 'string' },
  sha256: { type: 'string' },
  size: { type: 'string' },
} as const

const USAGE = `Usage:
  edgecoder models list [--json]
  edgecoder models catalog [--json]
  edgecoder models pull <catalog-name | url | file | ollama-name> [--name N] [--sha256 HEX] [--size BYTES]
  edgecoder models swap <name>
  edgecoder models rm <name>`

interface ModelRow {
  name: string
  sizeBytes: number
  family: string | null
  parameters: string | null
  quantization: string | null
  contextLength: number | null
  active: boolean
}

/** `edgecoder models list|pull|swap|rm`: the Model Manager from the terminal. */
export async function modelsCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true; strict: true }>>
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true })
  } catch (err) {
    process.stderr.write(`edgecoder: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const [verb, arg] = parsed.positionals
  const v = parsed.values
  const opts = clientOptions(v)
  const out = (s: string) => process.stdout.write(`${s}\n`)
  try {
    if (verb === 'list' || verb === undefined) {
      const res = await call<{ provider: string; models: ModelRow[] }>(opts, 'GET', '/model/list')
      if (v.json) out(JSON.stringify(res, null, 2))
      else if (res.models.length === 0)
        out(
          `no models yet (provider: ${res.provider}); pull one with \`edgecoder models pull ${SUGGESTED_MODEL}\` (\`edgecoder models catalog\` lists others)`,
        )
      else
        out(
          table(
            ['', 'NAME', 'SIZE', 'FAMILY', 'PARAMS', 'QUANT', 'CONTEXT'],
            res.models.map((m) => [
              m.active ? '*' : '',
              m.name,
              bytes(m.sizeBytes),
              m.family,
              m.parameters,
              m.quantization,
              m.contextLength,
            ]),
          ),
        )
      return 0
    }
    if (verb === 'catalog') {
      if (v.json) out(JSON.stringify({ models: MODEL_CATALOG }, null, 2))
      else
        out(
          table(
            ['NAME', 'SIZE', 'PARAMS', 'QUANT', 'ABOUT'],
            MODEL_CATALOG.map((m) => [
              m.name,
              bytes(m.sizeBytes),
              m.parameters,
              m.quantization,
              m.description,
            ]),
          ),
        )
      return 0
    }
    if (arg === undefined) throw new ClientError(`give a model to ${verb}\n${USAGE}`)
    if (verb === 'swap') {
      const r = await call<{ active: string }>(opts, 'POST', '/model/swap', { model: arg })
      out(v.json ? JSON.stringify(r) : `active model: ${r.active}`)
      return 0
    }
    if (verb === 'rm') {
      const r = await call<{ removed: string }>(opts, 'DELETE', `/model/${encodeURIComponent(arg)}`)
      out(v.json ? JSON.stringify(r) : `removed ${r.removed}`)
      return 0
    }
    if (verb === 'pull') return await pull(opts, arg, v, out)
    throw new ClientError(`unknown models command "${verb}"\n${USAGE}`)
  } catch (err) {
    if (err instanceof ClientError) {
      process.stderr.write(`edgecoder: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

async function pull(
  opts: ClientOptions,
  what: string,
  v: { json?: boolean; name?: string; sha256?: string; size?: string },
  out: (s: string) => void,
): Promise<number> {
  // A URL or a path is a file to copy in; anything else is a name the provider knows (Ollama).
  const isSource = /^https?:\/\//.test(what) || what.includes('/') || what.endsWith('.gguf')
  const body = {
    ...(isSource ? { source: what } : { name: what }),
    ...(v.name ? { name: v.name } : {}),
    ...(v.sha256 ? { sha256: v.sha256 } : {}),
    ...(v.size ? { sizeBytes: Number(v.size) } : {}),
  }
  const ctrl = new AbortController()
  // Ctrl-C closes the stream; the agent cancels a pull nobody follows any more.
  process.once('SIGINT', () => ctrl.abort())
  const res = await request(opts, 'POST', '/model/pull', body, { signal: ctrl.signal })
  const bar = new ProgressBar()
  let buf = ''
  const decoder = new TextDecoder()
  for await (const chunk of res.body!) {
    buf += decoder.decode(chunk, { stream: true })
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, nl)) as {
        status?: string
        completedBytes?: number
        totalBytes?: number | null
        fraction?: number | null
        done?: boolean
        name?: string
        error?: { code: string; message: string }
      }
      buf = buf.slice(nl + 1)
      if (v.json) out(JSON.stringify(line))
      if (line.error) {
        bar.end()
        throw new ClientError(`${line.error.code}: ${line.error.message}`)
      }
      if (!v.json)
        bar.update(
          line.status ?? '',
          line.completedBytes ?? 0,
          line.totalBytes ?? null,
          line.fraction ?? null,
        )
      if (line.done) {
        bar.end()
        // A catalog name is stored under another name; say which.
        const stored = line.name ?? body.name ?? what
        if (!v.json) out(!isSource && stored !== what ? `pulled ${what} as ${stored}` : `pulled ${stored}`)
        return 0
      }
    }
  }
  bar.end()
  throw new ClientError('the agent ended the pull stream before it was done')
}

/** A one-line progress bar on stderr; on a non-terminal, a line per 10%. */
class ProgressBar {
  #lastDecile = -1
  #drawn = false

  update(status: string, done: number, total: number | null, fraction: number | null): void {
    const pct = fraction === null ? null : Math.floor(fraction * 100)
    const text = `${status.padEnd(11)} ${pct === null ? '   ?' : `${String(pct).padStart(3)}%`} ${bytes(done)}${total ? ` / ${bytes(total)}` : ''}`
    if (process.stderr.isTTY) {
      const width = 30
      const filled = pct === null ? 0 : Math.round((pct / 100) * width)
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}   `)
      this.#drawn = true
    } else {
      const decile = pct === null ? -1 : Math.floor(pct / 10)
      if (decile > this.#lastDecile) {
        this.#lastDecile = decile
        process.stderr.write(`${text}\n`)
      }
    }
  }

  end(): void {
    if (this.#drawn) process.stderr.write('\n')
    this.#drawn = false
  }
}

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`
  return `${n} B`
}
