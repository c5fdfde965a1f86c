import { createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { ModelManager } from '../../src/inference/model-manager.ts'
import { testModelPath } from './test-model.ts'

const MODEL = testModelPath()
let sha = ''
let server: Server
let base = ''
let dir = ''
let downloads = 0

beforeAll(async () => {
  sha = await new Promise<string>((resolve) => {
    const h = createHash('sha256')
    createReadStream(MODEL)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
  })
  dir = mkdtempSync(join(tmpdir(), 'edgecoder-first-start-'))
  server = createServer((req, res) => {
    if (req.url !== '/seed-model.gguf') return void res.writeHead(404).end()
    downloads++
    res.writeHead(200, { 'content-length': statSync(MODEL).size })
    createReadStream(MODEL).pipe(res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})

afterAll(() => {
  server?.close()
  rmSync(dir, { recursive: true, force: true })
})

function manager(modelsDir: string, choice: 'embedded' | 'openai' = 'embedded') {
  return new ModelManager({
    choice,
    modelsDir,
    modelPath: null,
    ollamaHost: 'http://127.0.0.1:1',
    openAiBaseUrl: 'http://127.0.0.1:1/v1',
    openAiApiKey: null,
    llamaThreads: 1,
    modelHub: 'http://127.0.0.1:1',
    activeModel: null,
  })
}

describe('the model named in config (--model-url), pulled on first start', () => {
  it('is pulled and verified once, then found in the models dir on the next start', async () => {
    const modelsDir = join(dir, 'ok')
    const first = manager(modelsDir)
    await first.start()
    expect(await first.ensure({ url: `${base}/seed-model.gguf`, sha256: sha })).toEqual({
      name: 'seed-model',
      pulled: true,
    })
    expect((await first.list()).map((m) => m.name)).toEqual(['seed-model'])
    await first.stop()

    const again = manager(modelsDir)
    await again.start()
    const before = downloads
    expect(await again.ensure({ url: `${base}/seed-model.gguf`, sha256: sha })).toEqual({
      name: 'seed-model',
      pulled: false,
    })
    expect(downloads).toBe(before)
    await again.stop()
  })

  it('refuses a download whose sha256 differs and keeps nothing', async () => {
    const modelsDir = join(dir, 'bad')
    const m = manager(modelsDir)
    await m.start()
    await expect(m.ensure({ url: `${base}/seed-model.gguf`, sha256: 'a'.repeat(64) })).rejects.toMatchObject({
      name: 'PullError',
      code: 'checksum_mismatch',
    })
    expect(existsSync(modelsDir) ? readdirSync(modelsDir) : []).toEqual([])
    await m.stop()
  })

  it('needs the embedded provider', async () => {
    const m = manager(join(dir, 'openai'), 'openai')
    await m.start()
    await expect(m.ensure({ url: `${base}/seed-model.gguf`, sha256: sha })).rejects.toMatchObject({
      code: 'unsupported',
    })
    await m.stop()
  })

  it('is configured by URL and sha256 together, from flags or environment', () => {
    const url = 'https://models.example/seed.gguf'
    const c = loadConfig([], { EDGECODER_MODEL_URL: url, EDGECODER_MODEL_SHA256: sha })
    expect([c.modelUrl, c.modelSha256]).toEqual([url, sha])
    expect(() => loadConfig(['--model-url', url], {})).toThrow(ConfigError)
    expect(() => loadConfig(['--model-sha256', sha], {})).toThrow(/needs --model-sha256/)
    expect(() => loadConfig(['--model-url', url, '--model-sha256', 'abc'], {})).toThrow(/64 hex digits/)
    for (const bad of ['ftp://x/y.gguf', 'https://x/', 'https://x/%2e%2e%2fetc.gguf', 'not a url'])
      expect(() => loadConfig(['--model-url', bad, '--model-sha256', sha], {})).toThrow(/--model-url/)
  })
})
