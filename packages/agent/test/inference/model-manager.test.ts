import { createHash } from 'node:crypto'
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ModelManager } from '../../src/inference/model-manager.ts'
import type { PullProgressEvent } from '../../src/inference/model-pull.ts'
import { testModelPath } from './test-model.ts'

const MODEL = testModelPath()
const MODEL_SIZE = statSync(MODEL).size
let MODEL_SHA = ''

let server: Server
let base = ''
let dir = ''
/** Bytes/s the slow route trickles at, so a cancel lands mid-transfer. */
const SLOW_CHUNK = 1 << 20

beforeAll(async () => {
  MODEL_SHA = await new Promise<string>((resolve) => {
    const h = createHash('sha256')
    createReadStream(MODEL)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
  })
  dir = mkdtempSync(join(tmpdir(), 'edgecoder-models-'))
  writeFileSync(join(dir, 'not-a-model.bin'), 'PK\x03\x04 this is a zip, not a model'.repeat(100))
  server = createServer((req, res) => {
    if (req.url === '/gemma.gguf') {
      res.writeHead(200, { 'content-length': MODEL_SIZE })
      createReadStream(MODEL).pipe(res)
    } else if (req.url === '/slow.gguf') {
      res.writeHead(200, { 'content-length': MODEL_SIZE })
      const fd = readFileSync(MODEL)
      let off = 0
      const tick = setInterval(() => {
        if (res.destroyed || off >= fd.length) {
          clearInterval(tick)
          res.end()
          return
        }
        res.write(fd.subarray(off, off + SLOW_CHUNK))
        off += SLOW_CHUNK
      }, 50)
      res.on('close', () => clearInterval(tick))
    } else if (req.url === '/fake.gguf') {
      const body = readFileSync(join(dir, 'not-a-model.bin'))
      res.writeHead(200, { 'content-length': body.length })
      res.end(body)
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})

afterAll(() => {
  server?.close()
  rmSync(dir, { recursive: true, force: true })
})

function manager(modelsDir: string) {
  return new ModelManager({
    choice: 'embedded',
    modelsDir,
    modelPath: null,
    ollamaHost: 'http://127.0.0.1:1',
    openAiBaseUrl: null,
    openAiApiKey: null,
    llamaThreads: 1,
    modelHub: 'http://127.0.0.1:1',
    activeModel: null,
  })
}

const visibleFiles = (d: string) => (existsSync(d) ? readdirSync(d) : [])

describe('ModelManager pulls (embedded provider)', () => {
  it('pulls a GGUF over HTTP with progress to 100%, verified by size and sha256, then lists and swaps to it', async () => {
    const modelsDir = join(dir, 'ok')
    const m = manager(modelsDir)
    await m.start()
    const seen: PullProgressEvent[] = []
    await m.pull({ source: `${base}/gemma.gguf`, sha256: MODEL_SHA, sizeBytes: MODEL_SIZE }, (p) =>
      seen.push(p),
    )
    expect(seen.at(-1)).toMatchObject({ status: 'success', completedBytes: MODEL_SIZE, fraction: 1 })
    const fractions = seen.filter((p) => p.status === 'downloading').map((p) => p.fraction!)
    expect(fractions.length).toBeGreaterThan(0)
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b))
    expect(visibleFiles(modelsDir)).toEqual(['gemma.gguf'])
    const list = await m.list()
    expect(list.map((x) => [x.name, x.family, x.quantization])).toEqual([['gemma', 'gemma3', 'Q4_K_M']])
    expect(await m.swap('gemma')).toBe('gemma')
    expect((await m.status()).activeModel).toBe('gemma')
    await m.remove('gemma')
    expect(visibleFiles(modelsDir)).toEqual([])
    await m.stop()
  })

  it('refuses a checksum mismatch and leaves nothing behind', async () => {
    const modelsDir = join(dir, 'bad-sha')
    const m = manager(modelsDir)
    await m.start()
    const wrong = '0'.repeat(64)
    await expect(m.pull({ source: `${base}/gemma.gguf`, sha256: wrong }, () => {})).rejects.toMatchObject({
      name: 'PullError',
      code: 'checksum_mismatch',
    })
    expect(visibleFiles(modelsDir)).toEqual([])
    await m.stop()
  })

  it('refuses a file that is not GGUF, from a URL or a path', async () => {
    const modelsDir = join(dir, 'fake')
    const m = manager(modelsDir)
    await m.start()
    await expect(m.pull({ source: `${base}/fake.gguf` }, () => {})).rejects.toMatchObject({
      code: 'not_gguf',
    })
    await expect(
      m.pull({ name: 'fake', source: join(dir, 'not-a-model.bin') }, () => {}),
    ).rejects.toMatchObject({
      code: 'not_gguf',
    })
    expect(() => m.pull({ name: '../escape', source: MODEL }, () => {})).toThrowError(
      /not a valid model name/,
    )
    expect(visibleFiles(modelsDir)).toEqual([])
    await m.stop()
  })

  it('cancels mid-transfer leaving no partial file, and a second pull of the same model joins the first', async () => {
    const modelsDir = join(dir, 'cancel')
    const m = manager(modelsDir)
    await m.start()
    const a: PullProgressEvent[] = []
    const b: PullProgressEvent[] = []
    const first = m.pull({ name: 'slow', source: `${base}/slow.gguf` }, (p) => a.push(p))
    // Bytes are flowing: the transfer is under way.
    await until(() => (a.at(-1)?.completedBytes ?? 0) > 0)
    const second = m.pull({ name: 'slow', source: `${base}/slow.gguf` }, (p) => b.push(p))
    expect(b.length).toBeGreaterThan(0) // the joiner gets the current progress at once
    const joinedAt = b.at(-1)!.completedBytes
    // Both callers keep hearing of the one transfer.
    await until(() => (b.at(-1)?.completedBytes ?? 0) > joinedAt)
    const mid = a.at(-1)!
    expect(mid.completedBytes).toBeGreaterThan(0)
    expect(mid.completedBytes).toBeLessThan(MODEL_SIZE)
    expect(m.cancelPull('slow')).toBe(true)
    await expect(first).rejects.toMatchObject({ code: 'cancelled' })
    await expect(second).rejects.toMatchObject({ code: 'cancelled' })
    expect(readdirSync(modelsDir)).toEqual([])
    await m.stop()
  })

  it('removes partial files a crash left behind when it starts', async () => {
    const modelsDir = join(dir, 'crash')
    const m0 = manager(modelsDir)
    await m0.start()
    writeFileSync(join(modelsDir, '.gemma.partial-deadbeef'), 'GGUF half a file')
    await m0.stop()
    const m = manager(modelsDir)
    await m.start()
    expect(readdirSync(modelsDir)).toEqual([])
    await m.stop()
  })
})

/** Polls until `cond` holds: the test waits for what it observes, not for a guess of the time. */
async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}
