import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL_CATALOG } from '../../packages/agent/src/inference/index.ts'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, runCli, startAgent, waitFor } from './harness.ts'

/**
 * Catalog names: `edgecoder models pull gemma3:270m` resolves to the catalog's GGUF on the model
 * hub, here a local HTTP server standing in for it (`--model-hub`), and checks the catalog's size
 * and sha256. The stand-in serves the real test model at the catalog's path, or a corrupted copy
 * of the same size, or the test model at another entry's path (the wrong size).
 */
const MODEL_PATH = testModelPath()
const MODEL_SIZE = statSync(MODEL_PATH).size
const gemma = MODEL_CATALOG.find((e) => e.name === 'gemma3:270m')!
const qwen = MODEL_CATALOG.find((e) => e.name === 'qwen2.5-coder:0.5b')!
const hubPath = (e: typeof gemma) => `/${e.repo}/resolve/${e.revision}/${e.file}`

let hub: Server
let hubUrl = ''
let corrupt = true
const requested: string[] = []
let a: AgentProcess

beforeAll(async () => {
  hub = createServer((req, res) => {
    requested.push(req.url ?? '')
    if (req.url !== hubPath(gemma) && req.url !== hubPath(qwen)) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-length': MODEL_SIZE })
    const file = createReadStream(MODEL_PATH)
    if (!corrupt || req.url !== hubPath(gemma)) return void file.pipe(res)
    // Same size, one byte changed past the GGUF header: only the checksum can tell.
    let offset = 0
    const flip = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const at = 1_000_000 - offset
        if (at >= 0 && at < chunk.length) chunk[at] = chunk[at]! ^ 0xff
        offset += chunk.length
        done(null, chunk)
      },
    })
    file.pipe(flip).pipe(res)
  })
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r))
  hubUrl = `http://127.0.0.1:${(hub.address() as { port: number }).port}`
  a = await startAgent({ args: ['--provider', 'embedded', '--model-hub', hubUrl, '--llama-threads', '1'] })
}, 60_000)

afterAll(async () => {
  hub?.close()
  await cleanupAgents()
})

const cliEnv = () => ({ EDGECODER_API_URL: a.apiUrl, EDGECODER_DATA_DIR: a.dataDir })
const modelFiles = () => {
  const dir = join(a.dataDir, 'models')
  return existsSync(dir) ? readdirSync(dir) : []
}

describe('the model catalog', () => {
  it('tells a node without a model, at start, the one command that gets it one', async () => {
    await waitFor(() => a.stderr().includes('edgecoder models pull qwen2.5-coder:1.5b'), 20_000)
    expect(a.stderr()).toMatch(/no model here yet.*\n {2}edgecoder models pull qwen2\.5-coder:1\.5b\n/)
    const list = await runCli(['models', 'list'], cliEnv())
    expect(list.stdout).toContain('edgecoder models pull qwen2.5-coder:1.5b')
  })

  it('lists its entries with sizes and checksums', async () => {
    const res = await runCli(['models', 'catalog', '--json'], cliEnv())
    expect(res.code).toBe(0)
    const names = (JSON.parse(res.stdout) as { models: { name: string; sha256: string }[] }).models
    expect(names.map((m) => m.name)).toEqual(['qwen2.5-coder:0.5b', 'qwen2.5-coder:1.5b', 'gemma3:270m'])
    for (const m of names) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('refuses a download whose sha256 is not the catalog one, and keeps nothing of it', async () => {
    const res = await runCli(['models', 'pull', 'gemma3:270m'], cliEnv())
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/checksum_mismatch: sha256 of .* expected a5fd3b62/)
    expect(requested).toContain(hubPath(gemma))
    expect(modelFiles()).toEqual([])
  })

  it('refuses a download whose size is not the catalog one', async () => {
    const res = await runCli(['models', 'pull', 'qwen2.5-coder:0.5b'], cliEnv())
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(
      new RegExp(`size_mismatch: .* has ${MODEL_SIZE} bytes; expected ${qwen.sizeBytes}`),
    )
    expect(modelFiles()).toEqual([])
  })

  it('refuses a name that is not in the catalog, naming the ones that are', async () => {
    const res = await runCli(['models', 'pull', 'nosuch:7b'], cliEnv())
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(
      /unknown_model: "nosuch:7b" is not in the model catalog \(qwen2\.5-coder:0\.5b, /,
    )
  })

  it('pulls a catalog name from the hub, verified, stored as name-tag and served under name:tag', async () => {
    corrupt = false
    const res = await runCli(['models', 'pull', 'gemma3:270m'], cliEnv())
    expect(res.stderr).not.toMatch(/edgecoder: .*mismatch/)
    expect(res.stdout).toContain('pulled gemma3:270m as gemma3-270m')
    expect(res.code).toBe(0)
    expect(modelFiles()).toEqual(['gemma3-270m.gguf'])
    expect(statSync(join(a.dataDir, 'models', 'gemma3-270m.gguf')).size).toBe(gemma.sizeBytes)
    const list = (await (await a.api('/model/list')).json()) as {
      models: { name: string; sizeBytes: number }[]
    }
    expect(list.models).toMatchObject([{ name: 'gemma3-270m', sizeBytes: gemma.sizeBytes }])
    // The Ollama dialect finds it by the catalog name.
    const show = await a.api('/api/show', { method: 'POST', json: { model: 'gemma3:270m' } })
    expect(show.status).toBe(200)
  })
})
