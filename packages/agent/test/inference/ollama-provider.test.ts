import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OllamaProvider, ollamaBaseUrl, type PullProgress } from '../../src/inference/ollama-provider.ts'

/**
 * Ollama's streams as a real server sends them (recorded): pull progress over two layers whose
 * `completed` is absent at first, and an error line in the middle of a 200 chat stream. The
 * happy paths of the Ollama provider run against a real agent in tests/e2e/models.test.ts.
 */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8')

let server: Server
let provider: OllamaProvider

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      const json = body ? JSON.parse(body) : {}
      const ndjson = (text: string) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        // Line by line with a pause, as a stream arrives.
        const lines = text.trim().split('\n')
        const next = () => {
          const l = lines.shift()
          if (l === undefined) return res.end()
          res.write(`${l}\n`)
          setTimeout(next, 5)
        }
        next()
      }
      if (req.url === '/api/pull')
        return ndjson(fixture(json.model === 'missing' ? 'ollama-pull-error.ndjson' : 'ollama-pull.ndjson'))
      if (req.url === '/api/chat') {
        if (json.model === 'absent') {
          res.writeHead(404, { 'content-type': 'application/json' })
          return res.end(JSON.stringify({ error: "model 'absent' not found" }))
        }
        return ndjson(fixture(json.model === 'broken' ? 'ollama-chat-error.ndjson' : 'ollama-chat-ok.ndjson'))
      }
      if (req.url === '/api/version') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ version: '0.9.0' }))
      }
      if (req.url === '/api/tags') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(
          JSON.stringify({
            models: [
              {
                name: 'llama3.2',
                size: 2019393189,
                details: { family: 'llama', parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
              },
            ],
          }),
        )
      }
      res.writeHead(404).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  provider = new OllamaProvider({ host: `127.0.0.1:${(server.address() as { port: number }).port}` })
})

afterAll(() => server?.close())

describe('OllamaProvider against recorded Ollama streams', () => {
  it('sums pull progress over layers into one overall figure that only grows', async () => {
    const seen: PullProgress[] = []
    await provider.pull('llama3.2', (p) => seen.push(p))
    expect(seen[0]).toMatchObject({ status: 'pulling manifest', fraction: null })
    const fractions = seen.map((p) => p.fraction).filter((f): f is number => f !== null)
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b))
    // The second layer appears without `completed`: it counts as 0 of its total, not as done.
    const secondLayerSeen = seen.find((p) => p.totalBytes === 2019377376 + 1429)!
    expect(secondLayerSeen.completedBytes).toBe(524288000)
    expect(seen.at(-1)).toMatchObject({ status: 'success', completedBytes: 2019377376 + 1429, fraction: 1 })
  })

  it('fails a pull whose stream carries an error line', async () => {
    await expect(provider.pull('missing', () => {})).rejects.toMatchObject({
      name: 'OllamaError',
      message: 'pull model manifest: file does not exist',
    })
  })

  it('streams a chat and reads token counts from the final line', async () => {
    const tokens: string[] = []
    const r = await provider.chat(
      { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] },
      { onToken: (t) => tokens.push(t) },
    )
    expect(tokens).toEqual(['Hel', 'lo!'])
    expect(r).toMatchObject({ text: 'Hello!', promptTokens: 12, completionTokens: 3, finishReason: 'stop' })
    expect(r.tokensPerSecond).toBeCloseTo(100, 5)
  })

  it('treats an error line mid-stream as an error even under status 200', async () => {
    const tokens: string[] = []
    await expect(
      provider.chat(
        { model: 'broken', messages: [{ role: 'user', content: 'hi' }] },
        { onToken: (t) => tokens.push(t) },
      ),
    ).rejects.toMatchObject({ name: 'OllamaError', message: /unexpected EOF/ })
    expect(tokens).toEqual(['Hello', ' there'])
  })

  it('maps 404 to ModelNotFoundError listing what the server has', async () => {
    await expect(
      provider.chat({ model: 'absent', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({
      name: 'ModelNotFoundError',
      available: ['llama3.2'],
    })
  })

  it('is reachable where a server answers /api/version, and not where nothing listens or it answers 404', async () => {
    expect(await provider.reachable()).toBe(true)
    // A port nothing listens on: the one this server had before it closes is reused by nobody here.
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as { port: number }).port
    await new Promise<void>((r) => closed.close(() => r()))
    expect(await new OllamaProvider({ host: `127.0.0.1:${port}` }).reachable()).toBe(false)
    const notOllama = createServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((r) => notOllama.listen(0, '127.0.0.1', r))
    try {
      const other = new OllamaProvider({
        host: `127.0.0.1:${(notOllama.address() as { port: number }).port}`,
      })
      expect(await other.reachable()).toBe(false)
    } finally {
      notOllama.close()
    }
  })

  it('reads OLLAMA_HOST the way Ollama does', () => {
    expect(ollamaBaseUrl('127.0.0.1')).toBe('http://127.0.0.1:11434')
    expect(ollamaBaseUrl('0.0.0.0:8080')).toBe('http://0.0.0.0:8080')
    expect(ollamaBaseUrl('https://ollama.example')).toBe('https://ollama.example:443'.replace(':443', ''))
    expect(ollamaBaseUrl('http://10.0.0.5:11434/')).toBe('http://10.0.0.5:11434')
  })
})
