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
import { createServer, type Server, type ServerResponse } from 'node:http'
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
/**
 * The gated route announces a GGUF file far larger than it will ever send (4 GiB) and sends one
 * 64 KiB chunk each time the test lets one through: a transfer is exactly as far along as the
 * test let it be, however fast or loaded the machine is, and a cancel always lands mid-transfer.
 */
const GATED_SIZE = 2 ** 32
const GATED_CHUNK = 1 << 16
const gate = {
  requests: [] as (() => void)[],
  wake: undefined as (() => void) | undefined,
  /** Lets one chunk through; resolves once the server has handed it to the socket. */
  letOneThrough(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>()
    this.requests.push(resolve)
    this.wake?.()
    return promise
  },
  async next(): Promise<() => void> {
    while (this.requests.length === 0) await new Promise<void>((r) => (this.wake = r))
    return this.requests.shift()!
  },
}

async function sendThroughGate(res: ServerResponse): Promise<void> {
  // The real file's first bytes (the GGUF magic), then zeros: the pull never gets to check them.
  let chunk = readFileSync(MODEL).subarray(0, GATED_CHUNK)
  while (!res.destroyed) {
    const sent = await gate.next()
    await new Promise<void>((r) => res.write(chunk, () => r()))
    sent()
    chunk = Buffer.alloc(GATED_CHUNK)
  }
}

/** Progress events of one pull, and a way to wait for the one the test expects. */
function progressLog() {
  const events: PullProgressEvent[] = []
  let changed: (() => void) | undefined
  return {
    events,
    push: (p: PullProgressEvent) => {
      events.push(p)
      changed?.()
    },
    /** Resolves at the first event, seen already or still to come, that satisfies `want`. */
    async until(want: (p: PullProgressEvent) => boolean): Promise<void> {
      while (!events.some(want)) await new Promise<void>((r) => (changed = r))
    },
  }
}

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
    } else if (req.url === '/gated.gguf') {
      res.writeHead(200, { 'content-length': GATED_SIZE })
      void sendThroughGate(res)
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
    const a = progressLog()
    const b = progressLog()
    const first = m.pull({ name: 'slow', source: `${base}/gated.gguf` }, a.push)
    // One chunk let through, and the first progress report (never held back) says so.
    await gate.letOneThrough()
    await a.until((p) => p.completedBytes > 0)
    const second = m.pull({ name: 'slow', source: `${base}/gated.gguf` }, b.push)
    // The joiner gets the current progress at once.
    expect(b.events).toEqual([a.events.at(-1)])
    const joinedAt = b.events[0]!.completedBytes
    // Both callers hear of the one transfer going on. Reports come at most every 100 ms, so
    // chunks go through one by one until the next report shows; the bound keeps it far below
    // the announced size.
    const heard = b.until((p) => p.completedBytes > joinedAt)
    let moved = false
    heard.then(() => (moved = true))
    for (let i = 0; !moved; i++) {
      if (i === 4096) throw new Error(`no progress report after ${i} more chunks`)
      await gate.letOneThrough()
      await new Promise<void>((r) => setImmediate(r))
    }
    expect(b.events.at(-1)).toEqual(a.events.at(-1))
    const mid = a.events.at(-1)!
    expect(mid.completedBytes).toBeGreaterThan(joinedAt)
    expect(mid.completedBytes).toBeLessThan(GATED_SIZE)
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
