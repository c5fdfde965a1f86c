import { createHash } from 'node:crypto'
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { Ollama } from 'ollama'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, runCli, startAgent } from './harness.ts'
import { getTask, readTaskEvents, submitOk, waitForStatus } from './tasks-helpers.ts'

/**
 * The inference API as IDE tools see it: the official `openai` and `ollama` clients against a
 * real agent serving the real test model (A), and a second agent (B) whose Ollama provider
 * points at A's Ollama-compatible API. Also pulls over HTTP, swap while a task runs, and the CLI.
 */
const MODEL_PATH = testModelPath()
const MODEL = 'gemma-3-270m-Q4_K_M'
const MODEL_SIZE = statSync(MODEL_PATH).size
const LLAMA = ['--llama-threads', '1']
/**
 * Zero bytes after the test model's tensors make a second model that llama.cpp loads like the
 * first but that is a file of its own: its size tells the two apart.
 */
const PADDING = 4096
/** What the stalling route sends before it holds the transfer open. */
const STALL_AFTER = 8 * 1024 * 1024

let a: AgentProcess
let b: AgentProcess
let files: Server
let filesUrl = ''
let sha = ''

beforeAll(async () => {
  sha = createHash('sha256').update(readFileSync(MODEL_PATH)).digest('hex')
  files = createServer((req, res) => {
    if (req.url === '/gemma-copy.gguf' || req.url === '/pulled.gguf') {
      res.writeHead(200, { 'content-length': MODEL_SIZE })
      createReadStream(MODEL_PATH).pipe(res)
    } else if (req.url === '/padded.gguf') {
      res.writeHead(200, { 'content-length': MODEL_SIZE + PADDING })
      const stream = createReadStream(MODEL_PATH)
      stream.pipe(res, { end: false })
      stream.on('end', () => res.end(Buffer.alloc(PADDING)))
    } else if (req.url === '/stall.gguf') {
      // The first megabytes, then nothing until the client goes away: a cancel lands mid-transfer.
      res.writeHead(200, { 'content-length': MODEL_SIZE })
      const head = createReadStream(MODEL_PATH, { end: STALL_AFTER - 1 })
      head.pipe(res, { end: false })
      res.on('close', () => head.destroy())
    } else res.writeHead(404).end()
  })
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r))
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`
  // A patient start-up bound: two agents starting on a loaded machine are slow, not broken.
  a = await startAgent({
    args: ['--model', MODEL_PATH, '--provider', 'embedded', ...LLAMA],
    timeoutMs: 90_000,
  })
  b = await startAgent({ args: ['--provider', 'ollama', '--ollama-host', a.apiUrl], timeoutMs: 90_000 })
}, 240_000)

afterAll(async () => {
  files?.close()
  await cleanupAgents()
})

const openai = (agent: AgentProcess) =>
  new OpenAI({ baseURL: `${agent.apiUrl}/v1`, apiKey: 'unused', maxRetries: 0 })
const ollama = (agent: AgentProcess) => new Ollama({ host: agent.apiUrl })

describe('OpenAI-compatible endpoints, with the official openai client', () => {
  it('lists the model and answers a non-streaming chat with usage', async () => {
    const models = await openai(a).models.list()
    expect(models.data.map((m) => m.id)).toContain(MODEL)
    const r = await openai(a).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Write the number 7.' }],
      max_tokens: 8,
      temperature: 0,
    })
    expect(r.object).toBe('chat.completion')
    expect(r.choices[0]!.message.role).toBe('assistant')
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0)
    expect(r.usage!.completion_tokens).toBeGreaterThan(0)
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(8)
    expect(r.usage!.prompt_tokens).toBeGreaterThan(0)
  })

  it('streams chunks that add up to the reply, with a finish reason and usage', async () => {
    const stream = await openai(a).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Count: one, two,' }],
      max_tokens: 6,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let finish: string | null = null
    let usage: { completion_tokens: number } | null = null
    let chunks = 0
    for await (const c of stream) {
      if (c.usage) usage = c.usage
      const choice = c.choices[0]
      if (!choice) continue
      text += choice.delta.content ?? ''
      if (choice.finish_reason) finish = choice.finish_reason
      chunks++
    }
    expect(chunks).toBeGreaterThan(2)
    expect(text.length).toBeGreaterThan(0)
    expect(finish).toBe('length')
    expect(usage!.completion_tokens).toBe(6)
  })

  it('answers an unknown model with 404 and bad parameters with 400, in OpenAI error shape', async () => {
    const unknown = await openai(a)
      .chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e)
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError)
    expect(unknown.code).toBe('model_not_found')
    const bad = await openai(a)
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], temperature: 9 })
      .catch((e) => e)
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
    expect(bad.param).toBe('temperature')
    const malformed = await a.api('/v1/chat/completions', {
      method: 'POST',
      body: '{"model":',
      headers: { 'content-type': 'application/json' },
    })
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error')
  })

  it('refuses a prompt beyond the context with a clear error and keeps serving', async () => {
    const huge = 'lorem ipsum dolor sit amet '.repeat(2500)
    const r = await openai(a)
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: huge }], max_tokens: 4 })
      .catch((e) => e)
    expect(r).toBeInstanceOf(OpenAI.BadRequestError)
    expect(r.code).toBe('context_length_exceeded')
    const ok = await openai(a).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    })
    expect(ok.choices[0]!.finish_reason).toMatch(/stop|length/)
  })
})

describe('Ollama-compatible endpoints, with the official ollama client', () => {
  it('lists tags with model details', async () => {
    const tags = await ollama(a).list()
    // Ollama names carry a tag; `:latest` when the model has none.
    const m = tags.models.find((x) => x.name === `${MODEL}:latest`)!
    expect(m.details).toMatchObject({
      family: 'gemma3',
      quantization_level: 'Q4_K_M',
      parameter_size: '270M',
    })
    expect(m.size).toBe(MODEL_SIZE)
  })

  it('chats without and with streaming, and generates as NDJSON', async () => {
    const r = await ollama(a).chat({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say yes.' }],
      options: { num_predict: 5, temperature: 0 },
    })
    expect(r.done).toBe(true)
    expect(r.message.content.length).toBeGreaterThan(0)
    expect(r.eval_count).toBeGreaterThan(0)

    const stream = await ollama(a).chat({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say yes.' }],
      options: { num_predict: 5, temperature: 0 },
      stream: true,
    })
    let text = ''
    let last: { done: boolean; eval_count?: number } | null = null
    for await (const part of stream) {
      text += part.message.content
      last = part
    }
    expect(text).toBe(r.message.content)
    expect(last!.done).toBe(true)
    expect(last!.eval_count).toBe(r.eval_count)

    const gen = await ollama(a).generate({
      model: MODEL,
      prompt: 'def add(a, b):',
      options: { num_predict: 4 },
      stream: true,
    })
    const pieces: string[] = []
    for await (const part of gen) pieces.push(part.response ?? '')
    expect(pieces.join('').length).toBeGreaterThan(0)
  })

  it('answers an unknown model with 404 and a bad body with 400, in Ollama error shape', async () => {
    const e = await ollama(a)
      .chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] })
      .catch((x) => x)
    expect(e.status_code).toBe(404)
    expect(e.error).toMatch(/not found/)
    const bad = await a.api('/api/generate', { method: 'POST', json: { model: MODEL, prompt: 42 } })
    expect(bad.status).toBe(400)
    expect(typeof ((await bad.json()) as { error: unknown }).error).toBe('string')
  })
})

describe('the Ollama provider, for real: agent B uses agent A as its Ollama', () => {
  it('reports why it chose Ollama, lists A’s model and chats and streams through A', async () => {
    const rt = (await (await b.api('/health/runtime')).json()) as { provider: { name: string } }
    expect(rt.provider.name).toBe('ollama')
    const list = (await (await b.api('/model/list')).json()) as { models: { name: string }[] }
    expect(list.models.map((m) => m.name)).toEqual([MODEL])

    const r = await openai(b).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 4,
    })
    expect(r.usage!.completion_tokens).toBeGreaterThan(0)
    const stream = await openai(b).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 4,
      stream: true,
    })
    let n = 0
    for await (const c of stream) if (c.choices[0]?.delta.content) n++
    expect(n).toBeGreaterThan(0)
    const unknown = await openai(b)
      .chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] })
      .catch((x) => x)
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError)
  })
})

describe('model manager over the API', () => {
  const pull = async (body: object) => {
    const res = await a.api('/model/pull', { method: 'POST', json: body })
    const lines = (await res.text())
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    return { status: res.status, lines }
  }

  it('pulls from a local HTTP server with progress to 100% and a verified checksum', async () => {
    const { status, lines } = await pull({
      name: 'gemma-copy',
      source: `${filesUrl}/gemma-copy.gguf`,
      sha256: sha,
    })
    try {
      expect(status).toBe(200)
      expect(lines.at(-1)).toMatchObject({ done: true, fraction: 1, completedBytes: MODEL_SIZE })
      const list = (await (await a.api('/model/list')).json()) as { models: { name: string }[] }
      expect(list.models.map((m) => m.name).sort()).toEqual(['gemma-copy', MODEL].sort())
    } finally {
      await a.api('/model/gemma-copy', { method: 'DELETE' })
    }
  })

  it('refuses a checksum mismatch, leaving nothing behind', async () => {
    const { lines } = await pull({
      name: 'bad-sum',
      source: `${filesUrl}/gemma-copy.gguf`,
      sha256: 'f'.repeat(64),
    })
    expect(lines.at(-1).error.code).toBe('checksum_mismatch')
    expect(readdirSync(join(a.dataDir, 'models')).filter((f) => f.includes('bad-sum'))).toEqual([])
  })

  it('cancels a pull in progress, leaving nothing behind', async () => {
    const ctrl = new AbortController()
    const res = await a.api('/model/pull', {
      method: 'POST',
      json: { name: 'slow', source: `${filesUrl}/stall.gguf` },
      signal: ctrl.signal,
    })
    const reader = res.body!.getReader()
    await reader.read()
    const cancel = await a.api('/model/pull/slow', { method: 'DELETE' })
    expect(cancel.status).toBe(200)
    const rest = await new Response(
      new ReadableStream({
        async pull(c) {
          const { value, done } = await reader.read()
          if (done) c.close()
          else c.enqueue(value)
        },
      }),
    ).text()
    expect(rest).toMatch(/"code":"cancelled"/)
    // The partial file is removed before the pull reports its end.
    expect(readdirSync(join(a.dataDir, 'models')).filter((f) => f.includes('slow'))).toEqual([])
  })

  it('rejects bad pull, swap and delete input with 4xx', async () => {
    expect((await a.api('/model/pull', { method: 'POST', json: {} })).status).toBe(400)
    expect((await a.api('/model/pull', { method: 'POST', json: { source: '/etc/passwd' } })).status).toBe(422)
    expect((await a.api('/model/pull', { method: 'POST', json: { source: 'ftp://x/y.gguf' } })).status).toBe(
      422,
    )
    expect(
      (await a.api('/model/pull', { method: 'POST', json: { name: '../../etc', source: MODEL_PATH } }))
        .status,
    ).toBe(422)
    expect(
      (await a.api('/model/pull', { method: 'POST', json: { source: MODEL_PATH, sha256: 'xyz' } })).status,
    ).toBe(400)
    expect((await a.api('/model/swap', { method: 'POST', json: { model: 'nope' } })).status).toBe(404)
    expect((await a.api('/model/swap', { method: 'POST', json: { model: 3 } })).status).toBe(400)
    expect((await a.api('/model/nope', { method: 'DELETE' })).status).toBe(404)
  })

  // It pulls a model of its own and loads both: a bound for a loaded machine.
  it('swaps while a task runs: the task finishes on the old model, new work uses the new one', async () => {
    const other = 'gemma-padded'
    const pulled = await pull({ name: other, source: `${filesUrl}/padded.gguf` })
    expect(pulled.lines.at(-1)).toMatchObject({ done: true, completedBytes: MODEL_SIZE + PADDING })
    const sizes = async () =>
      Object.fromEntries(
        (
          (await (await a.api('/model/list')).json()) as { models: { name: string; sizeBytes: number }[] }
        ).models.map((m) => [m.name, m.sizeBytes]),
      )
    expect(await sizes()).toMatchObject({ [MODEL]: MODEL_SIZE, [other]: MODEL_SIZE + PADDING })
    const loaded = async () =>
      ((await (await a.api('/api/ps')).json()) as { models: { name: string }[] }).models.map((m) => m.name)
    // Chat tasks that name no model: the agent picks the active one.
    const story = {
      kind: 'chat' as const,
      messages: [{ role: 'user' as const, content: 'Tell a long story.' }],
    }
    try {
      expect((await a.api('/model/swap', { method: 'POST', json: { model: MODEL } })).status).toBe(200)
      const id = await submitOk(a, { ...story, maxTokens: 64 })
      const firstToken = Promise.withResolvers<void>()
      const events = readTaskEvents(a, id, { onEvent: (ev) => ev.type === 'token' && firstToken.resolve() })
      events.catch(firstToken.reject)
      await firstToken.promise
      const swap = await a.api('/model/swap', { method: 'POST', json: { model: other } })
      expect(await swap.json()).toEqual({ active: other })
      // The swap landed while the task was generating.
      expect((await getTask(a, id)).status).toBe('running')
      await events
      const done = await getTask(a, id)
      expect(done.status).toBe('succeeded')
      expect(done.result?.model).toBe(MODEL)
      const status = (await (await a.api('/model/status')).json()) as { activeModel: string }
      expect(status.activeModel).toBe(other)
      const next = await waitForStatus(a, await submitOk(a, { ...story, maxTokens: 2 }))
      expect(next.status).toBe('succeeded')
      expect(next.result?.model).toBe(other)
      // What llama.cpp holds now is the other file; the old one went once its task was done.
      expect(await loaded()).toEqual([`${other}:latest`])
    } finally {
      await a.api('/model/swap', { method: 'POST', json: { model: MODEL } })
      await a.api(`/model/${other}`, { method: 'DELETE' })
    }
  }, 180_000)

  it('keeps the CLI in step: pull, list, swap, rm', async () => {
    const env = { EDGECODER_API_URL: a.apiUrl, EDGECODER_DATA_DIR: a.dataDir }
    const pull = await runCli(
      ['models', 'pull', `${filesUrl}/gemma-copy.gguf`, '--name', 'cli-copy', '--sha256', sha],
      env,
    )
    try {
      expect(pull.code).toBe(0)
      expect(pull.stderr).toMatch(/100%/)
      expect(pull.stdout).toContain('pulled cli-copy')
      const swap = await runCli(['models', 'swap', 'cli-copy'], env)
      expect(swap.stdout).toContain('active model: cli-copy')
      const list = await runCli(['models', 'list'], env)
      expect(list.code).toBe(0)
      expect(list.stdout).toMatch(/\*\s+cli-copy/)
      expect(list.stdout).not.toMatch(new RegExp(`\\*\\s+${MODEL}`))
      const back = await runCli(['models', 'swap', MODEL], env)
      expect(back.stdout).toContain(`active model: ${MODEL}`)
      const rm = await runCli(['models', 'rm', 'cli-copy'], env)
      expect(rm.code).toBe(0)
      const missing = await runCli(['models', 'rm', 'cli-copy'], env)
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/404 model_not_found/)
    } finally {
      await a.api('/model/swap', { method: 'POST', json: { model: MODEL } })
      await a.api('/model/cli-copy', { method: 'DELETE' })
    }
  })
})

describe('Ollama model routes on the model manager', () => {
  const names = async () => (await ollama(a).list()).models.map((m) => m.name)

  it('pulls with Ollama progress lines, copies under a tagged name, and deletes', async () => {
    const lines: { status: string; total?: number; completed?: number }[] = []
    for await (const p of await ollama(a).pull({ model: `${filesUrl}/pulled.gguf`, stream: true }))
      lines.push(p)
    expect(lines[0]!.status).toBe('pulling manifest')
    expect(lines.some((l) => l.total === MODEL_SIZE && l.completed === MODEL_SIZE)).toBe(true)
    expect(lines.at(-1)!.status).toBe('success')
    expect(await names()).toContain('pulled:latest')

    await ollama(a).copy({ source: 'pulled:latest', destination: 'pulled:v2' })
    expect(await names()).toContain('pulled-v2:latest')
    const copied = await ollama(a).chat({
      model: 'pulled:v2',
      messages: [{ role: 'user', content: 'hi' }],
      options: { num_predict: 1 },
    })
    expect(copied.model).toBe('pulled-v2')

    await ollama(a).delete({ model: 'pulled:v2' })
    await ollama(a).delete({ model: 'pulled:latest' })
    expect(await names()).not.toContain('pulled:latest')
    expect(await names()).not.toContain('pulled-v2:latest')
  })

  it('answers unknown models and bad names in Ollama error shape', async () => {
    const gone = await ollama(a)
      .delete({ model: 'nope' })
      .catch((e) => e)
    expect(gone.status_code).toBe(404)
    const copy = await ollama(a)
      .copy({ source: 'nope', destination: 'x' })
      .catch((e) => e)
    expect(copy.status_code).toBe(404)
    const bad = await ollama(a)
      .copy({ source: MODEL, destination: '../etc' })
      .catch((e) => e)
    expect(bad.status_code).toBe(400)
    const res = await a.api('/api/pull', { method: 'POST', json: { stream: false } })
    expect(res.status).toBe(400)
    expect(typeof ((await res.json()) as { error: unknown }).error).toBe('string')
  })
})
