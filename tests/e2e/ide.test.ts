import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ollama } from 'ollama'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, REPO_ROOT, waitFor } from './harness.ts'
import { peersOf, tcpAddr } from './mesh-helpers.ts'
import { startNode } from './routing-helpers.ts'

/**
 * The node as IDE tools see it: the official npm and Python `openai` and `ollama` clients against
 * agent `m`, which serves the real test model, and against agent `c`, which has no model and
 * answers through `m` over the mesh. Tool calls are grammar-constrained and greedy, so their
 * shape and round trip are deterministic; the tests check the protocol, not the model's wisdom.
 */
const MODEL = 'gemma-3-270m-Q4_K_M'
const SERVED_CONTEXT = 4096
const TOOLS = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'Current weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
]
const ASK = [{ role: 'user' as const, content: 'What is the weather in Paris?' }]
const FIM = { prompt: 'def add(a, b):\n', suffix: '\ndef sub(a, b):\n    return a - b\n' }

let m: AgentProcess
let c: AgentProcess

beforeAll(async () => {
  m = await startNode('all-in-one', [
    '--model',
    testModelPath(),
    '--provider',
    'embedded',
    '--llama-threads',
    '1',
  ])
  c = await startNode('coordinator', ['--bootstrap', tcpAddr(m)])
  await waitFor(async () => (await peersOf(c)).some((p) => p.models.some((x) => x.name === MODEL)), 30_000)
}, 120_000)

afterAll(cleanupAgents)

const openai = (a: AgentProcess) => new OpenAI({ baseURL: `${a.apiUrl}/v1`, apiKey: 'unused', maxRetries: 0 })
const ollama = (a: AgentProcess) => new Ollama({ host: a.apiUrl })
// Agents start in beforeAll, after the test table is built: rows name them, `agent` finds them.
const nodes = () =>
  [
    ['on the node with the model', 'm'],
    ['through a peer', 'c'],
  ] as const
const agent = (key: 'm' | 'c') => (key === 'm' ? m : c)

describe('Ollama dialect fidelity', { timeout: 180_000 }, () => {
  it('says "Ollama is running" at / and reports an Ollama version tools accept', async () => {
    const root = await fetch(`${m.apiUrl}/`)
    expect(await root.text()).toBe('Ollama is running')
    const { version } = (await (await fetch(`${m.apiUrl}/api/version`)).json()) as { version: string }
    const [major, minor, patch] = version.split('.').map(Number)
    expect(major! * 1e6 + minor! * 1e3 + patch!).toBeGreaterThanOrEqual(6004)
  })

  it.each(nodes())(
    'shows template, parameters, capabilities, basename and the served context %s',
    async (_, key) => {
      const a = agent(key)
      const s = await ollama(a).show({ model: `${MODEL}:latest` })
      expect(s.template).toContain('.Tools')
      expect(s.parameters).toMatch(/num_ctx\s+4096/)
      expect(s.capabilities).toEqual(expect.arrayContaining(['completion', 'tools']))
      // The client types model_info as a Map; on the wire it is a plain object.
      const info = s.model_info as unknown as Record<string, unknown>
      expect(info['gemma3.context_length']).toBe(SERVED_CONTEXT)
      if (key === 'm') expect(info['general.basename']).toBe('gemma-3')
    },
  )

  it('lists models with tags and answers a tagged name', async () => {
    const tags = await ollama(m).list()
    expect(tags.models.map((x) => x.name)).toContain(`${MODEL}:latest`)
    const r = await ollama(m).chat({
      model: `${MODEL}:latest`,
      messages: [{ role: 'user', content: 'hi' }],
      options: { num_predict: 2 },
    })
    expect(r.done).toBe(true)
  })

  it('loads the model on an empty prompt and returns at once; /api/ps shows what is loaded', async () => {
    const r = await ollama(m).generate({ model: MODEL, prompt: '' })
    expect(r).toMatchObject({ done: true, done_reason: 'load', response: '' })
    const ps = await ollama(m).ps()
    expect(ps.models).toEqual([
      expect.objectContaining({ name: `${MODEL}:latest`, context_length: SERVED_CONTEXT }),
    ])
    expect(ps.models[0]!.size).toBeGreaterThan(100_000_000)
    // A node without a model holds none in memory, and says so.
    expect((await ollama(c).ps()).models).toEqual([])
    const peer = await ollama(c).generate({ model: MODEL, prompt: '' })
    expect(peer.done_reason).toBe('load')
  })

  it.each(nodes())('honours options.num_ctx %s: a prompt beyond it is refused', async (_, key) => {
    const a = agent(key)
    const prompt = 'lorem ipsum dolor sit amet '.repeat(60)
    const e = await ollama(a)
      .generate({ model: MODEL, prompt, options: { num_ctx: 64, num_predict: 2 } })
      .catch((x) => x)
    expect(e.status_code).toBe(400)
    expect(e.error).toMatch(/context holds 64/)
  })

  it('takes curl -d bodies (no JSON content type) but refuses them from a foreign browser origin', async () => {
    const body = JSON.stringify({ model: MODEL, prompt: '' })
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    const ok = await fetch(`${m.apiUrl}/api/generate`, { method: 'POST', headers: form, body })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { done_reason: string }).done_reason).toBe('load')
    const v1 = await fetch(`${m.apiUrl}/v1/embeddings`, {
      method: 'POST',
      headers: form,
      body: JSON.stringify({ model: MODEL, input: 'x' }),
    })
    expect(v1.status).toBe(200)
    const evil = await fetch(`${m.apiUrl}/api/generate`, {
      method: 'POST',
      headers: { ...form, origin: 'http://evil.example' },
      body,
    })
    expect(evil.status).toBe(403)
    const bad = await fetch(`${m.apiUrl}/api/generate`, { method: 'POST', headers: form, body: '{"model":' })
    expect(bad.status).toBe(400)
    expect(typeof ((await bad.json()) as { error: unknown }).error).toBe('string')
  })
})

describe.each(nodes())('tool calls %s', { timeout: 300_000 }, (_, key) => {
  const a = () => agent(key)

  it('OpenAI: a forced call comes back as tool_calls, and the follow-up turn is answered', async () => {
    const r = await openai(a()).chat.completions.create({
      model: MODEL,
      messages: ASK,
      tools: TOOLS,
      tool_choice: 'required',
      parallel_tool_calls: false,
      temperature: 0,
      seed: 1,
    })
    const choice = r.choices[0]!
    expect(choice.finish_reason).toBe('tool_calls')
    expect(choice.message.content).toBeNull()
    const call = choice.message.tool_calls![0]!
    expect(call.type).toBe('function')
    expect(call.id).toMatch(/^call_/)
    if (call.type !== 'function') throw new Error('not a function call')
    expect(call.function.name).toBe('get_weather')
    expect(typeof JSON.parse(call.function.arguments).city).toBe('string')

    const next = await openai(a()).chat.completions.create({
      model: MODEL,
      messages: [
        ...ASK,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '{"celsius":21}' },
      ],
      tools: TOOLS,
      tool_choice: 'none',
      max_tokens: 6,
      temperature: 0,
    })
    expect(next.choices[0]!.message.role).toBe('assistant')
    expect(typeof next.choices[0]!.message.content).toBe('string')
  })

  it('OpenAI: streams the call as name then arguments, ending with finish_reason tool_calls', async () => {
    const stream = await openai(a()).chat.completions.create({
      model: MODEL,
      messages: ASK,
      tools: TOOLS,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      temperature: 0,
      seed: 1,
      stream: true,
    })
    let name = ''
    let args = ''
    let finish: string | null = null
    for await (const chunk of stream) {
      const ch = chunk.choices[0]
      if (!ch) continue
      for (const t of ch.delta.tool_calls ?? []) {
        expect(t.index).toBe(0)
        name += t.function?.name ?? ''
        args += t.function?.arguments ?? ''
      }
      finish = ch.finish_reason ?? finish
    }
    expect(name).toBe('get_weather')
    expect(typeof JSON.parse(args).city).toBe('string')
    expect(finish).toBe('tool_calls')
  })

  it('Ollama: tools give message.tool_calls, streamed too, and a tool result turn is answered', async () => {
    const r = await ollama(a()).chat({
      model: MODEL,
      messages: ASK,
      tools: TOOLS,
      options: { temperature: 0, seed: 1 },
    })
    const calls = r.message.tool_calls ?? []
    expect(calls.length).toBeGreaterThan(0)
    expect(calls[0]!.function.name).toBe('get_weather')
    expect(typeof calls[0]!.function.arguments.city).toBe('string')
    const names: string[] = []
    for await (const part of await ollama(a()).chat({
      model: MODEL,
      messages: ASK,
      tools: TOOLS,
      options: { temperature: 0, seed: 1 },
      stream: true,
    }))
      names.push(...(part.message.tool_calls ?? []).map((t) => t.function.name))
    expect(names[0]).toBe('get_weather')
    const next = await ollama(a()).chat({
      model: MODEL,
      messages: [
        ...ASK,
        { role: 'assistant', content: '', tool_calls: calls },
        { role: 'tool', content: '{"celsius":21}', tool_name: 'get_weather' } as never,
      ],
      options: { num_predict: 6, temperature: 0 },
    })
    expect(next.done).toBe(true)
  })

  it('refuses a named tool that is not offered, and a tool message without its call id', async () => {
    const e = await openai(a())
      .chat.completions.create({
        model: MODEL,
        messages: ASK,
        tools: TOOLS,
        tool_choice: { type: 'function', function: { name: 'nope' } },
      })
      .catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    expect(e.param).toBe('tool_choice')
    const res = await a().api('/v1/chat/completions', {
      method: 'POST',
      json: { model: MODEL, messages: [...ASK, { role: 'tool', content: 'x' }] },
    })
    expect(res.status).toBe(400)
  })
})

describe.each(nodes())('fill-in-the-middle %s', { timeout: 180_000 }, (_, key) => {
  it('Ollama generate with suffix stops where the suffix begins; raw continues the prompt as is', async () => {
    const r = await ollama(agent(key)).generate({
      model: MODEL,
      ...FIM,
      stream: false,
      options: { num_predict: 40, temperature: 0 },
    })
    expect(r.response?.length).toBeGreaterThan(0)
    expect(r.response).not.toContain('def sub')
    expect(r.done_reason).toBe('stop')
    let raw = ''
    for await (const p of await ollama(agent(key)).generate({
      model: MODEL,
      prompt: 'x = 1\ny =',
      raw: true,
      stream: true,
      options: { num_predict: 3, temperature: 0 },
    }))
      raw += p.response
    expect(raw.length).toBeGreaterThan(0)
  })

  it('/v1/completions answers with suffix, streamed and not, the same text', async () => {
    const body = { model: MODEL, ...FIM, max_tokens: 40, temperature: 0 }
    const r = await openai(agent(key)).completions.create(body)
    expect(r.object).toBe('text_completion')
    expect(r.choices[0]!.finish_reason).toBe('stop')
    expect(r.choices[0]!.text).not.toContain('def sub')
    expect(r.usage!.completion_tokens).toBeGreaterThan(0)
    let streamed = ''
    for await (const ch of await openai(agent(key)).completions.create({ ...body, stream: true }))
      streamed += ch.choices[0]?.text ?? ''
    expect(streamed).toBe(r.choices[0]!.text)
  })
})

describe('embeddings and model lookup', () => {
  it('embeds with the loaded GGUF on /api/embed, /api/embeddings and /v1/embeddings', async () => {
    const e = await ollama(m).embed({ model: MODEL, input: ['hello', 'world'] })
    expect(e.embeddings).toHaveLength(2)
    const dims = e.embeddings[0]!.length
    expect(dims).toBeGreaterThan(0)
    expect(e.embeddings[0]).not.toEqual(e.embeddings[1])
    const legacy = await ollama(m).embeddings({ model: MODEL, prompt: 'hello' })
    expect(legacy.embedding).toEqual(e.embeddings[0])
    // The npm client asks for base64 and decodes it: the floats must survive the trip.
    const v1 = await openai(m).embeddings.create({ model: MODEL, input: 'hello' })
    expect(v1.data[0]!.embedding).toHaveLength(dims)
    expect(v1.data[0]!.embedding[0]).toBeCloseTo(e.embeddings[0]![0]!, 4)
    const floats = await openai(m).embeddings.create({
      model: MODEL,
      input: 'hello',
      encoding_format: 'float',
    })
    expect(floats.data[0]!.embedding[0]).toBeCloseTo(e.embeddings[0]![0]!, 4)
  })

  it('embeds through a peer when only the peer serves the model (embed tasks)', async () => {
    const here = await openai(m).embeddings.create({ model: MODEL, input: 'hello', encoding_format: 'float' })
    const peer = await openai(c).embeddings.create({ model: MODEL, input: 'hello', encoding_format: 'float' })
    expect(peer.data[0]!.embedding).toHaveLength(here.data[0]!.embedding.length)
    expect(peer.data[0]!.embedding[0]).toBeCloseTo(here.data[0]!.embedding[0]!, 5)
  })

  it.each(nodes())(
    'retrieves one model on /v1/models/{id} %s, and 404 for an unknown one',
    async (_, key) => {
      const a = agent(key)
      expect((await openai(a).models.retrieve(MODEL)).id).toBe(MODEL)
      const e = await openai(a)
        .models.retrieve('nope')
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.NotFoundError)
    },
  )
})

describe('metrics', () => {
  const scrape = async (a: AgentProcess) => await (await fetch(`${a.apiUrl}/metrics`)).text()
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `))
    return line === undefined ? undefined : Number(line.slice(series.length + 1))
  }

  it.each(nodes())('count inference requests, errors, tokens and time to first token %s', async (_, key) => {
    const a = agent(key)
    await openai(a).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    })
    const refused = await ollama(a)
      .generate({ model: MODEL, prompt: 'lorem ipsum '.repeat(60), options: { num_ctx: 32 } })
      .catch((e) => e)
    expect(refused.status_code).toBe(400)
    const text = await scrape(a)
    const chat = '{endpoint="/v1/chat/completions"}'
    expect(value(text, `edgecoder_inference_requests_total${chat}`)).toBeGreaterThan(0)
    expect(value(text, `edgecoder_tokens_generated_total${chat}`)).toBeGreaterThan(0)
    expect(value(text, `edgecoder_time_to_first_token_seconds_count${chat}`)).toBeGreaterThan(0)
    expect(
      value(text, 'edgecoder_inference_errors_total{endpoint="/api/generate",code="context_overflow"}'),
    ).toBeGreaterThan(0)
  })

  it('count gossip messages and peer states', async () => {
    const text = await scrape(c)
    expect(value(text, 'edgecoder_gossip_messages_total{kind="first_seen"}')).toBeGreaterThan(0)
    expect(value(text, 'edgecoder_adverts_total{outcome="accepted"}')).toBeGreaterThan(0)
    expect(value(text, 'edgecoder_peers{state="online"}')).toBeGreaterThan(0)
  })

  it('pass promtool check metrics without lint warnings', async () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: await scrape(m), encoding: 'utf8' })
    expect(check.error).toBeUndefined()
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('')
    expect(check.status).toBe(0)
  })
})

describe('the OpenAPI document', () => {
  it('describes the IDE request bodies, uses its security scheme and passes redocly lint with no warning', async () => {
    const doc = (await (await fetch(`${m.apiUrl}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { properties: object } }> } }>
      >
      security: unknown[]
      components: { securitySchemes: Record<string, unknown> }
    }
    const props = (path: string) =>
      doc.paths[path]!.post!.requestBody!.content['application/json']!.schema.properties
    expect(props('/v1/chat/completions')).toHaveProperty('tools')
    expect(props('/v1/completions')).toHaveProperty('suffix')
    expect(props('/v1/embeddings')).toHaveProperty('input')
    expect(props('/api/chat')).toHaveProperty('tools')
    expect(props('/api/generate')).toHaveProperty('raw')
    expect(props('/api/embed')).toHaveProperty('input')
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['bearer'])
    expect(doc.security).toContainEqual({ bearer: [] })
    const file = join(mkdtempSync(join(tmpdir(), 'edgecoder-openapi-')), 'openapi.json')
    writeFileSync(file, JSON.stringify(doc))
    const lint = spawnSync(
      join(REPO_ROOT, 'node_modules/.bin/redocly'),
      ['lint', file, '--extends', 'minimal', '--format', 'stylish'],
      { encoding: 'utf8' },
    )
    const out = `${lint.stdout}${lint.stderr}`
    expect(lint.status, out).toBe(0)
    expect(out).not.toMatch(/warning|error/)
    rmSync(file, { force: true })
  })
})

describe('the official Python clients', () => {
  let python = process.env.EDGECODER_PYTHON ?? ''
  beforeAll(() => {
    if (python) return
    const setup = spawnSync(join(REPO_ROOT, 'scripts/setup-pyclients.sh'), { encoding: 'utf8' })
    expect(setup.status, setup.stderr).toBe(0)
    python = setup.stdout.trim().split('\n').at(-1)!
  }, 300_000)

  // biome-ignore lint/suspicious/noExplicitAny: facts reported by the Python script, checked below
  const run = (a: AgentProcess, where: string): Record<string, any> => {
    const p = spawnSync(
      python,
      [join(REPO_ROOT, 'tests/e2e/fixtures/ide_clients.py'), a.apiUrl, MODEL, where],
      {
        encoding: 'utf8',
        timeout: 600_000,
      },
    )
    const checks = Object.fromEntries(
      p.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .map((x: { check: string }) => [x.check, x]),
    )
    expect(p.status, `${p.stdout}\n${p.stderr}`).toBe(0)
    return checks
  }

  it.each(nodes())('drive tools, FIM, load, show and embeddings %s', { timeout: 600_000 }, (_, key) => {
    const r = run(agent(key), key === 'm' ? 'local' : 'peer')
    expect(r.openai_tools).toMatchObject({
      finish: 'tool_calls',
      name: 'get_weather',
      followRole: 'assistant',
      followContentType: 'str',
    })
    expect(typeof r.openai_tools.arguments.city).toBe('string')
    expect(r.openai_tools_stream).toMatchObject({ names: ['get_weather'], finish: 'tool_calls' })
    expect(r.openai_fim.finish).toBe('stop')
    expect(r.openai_fim.text).not.toContain('def sub')
    expect(r.openai_fim.streamed).toBe(r.openai_fim.text)
    expect(r.openai_model.id).toBe(MODEL)
    expect(r.ollama_show).toMatchObject({ context: SERVED_CONTEXT, hasTemplate: true })
    expect(r.ollama_show.capabilities).toContain('tools')
    expect(r.ollama_tools.names[0]).toBe('get_weather')
    expect(r.ollama_tools.streamedNames[0]).toBe('get_weather')
    expect(r.ollama_tools.followDone).toBe(true)
    expect(r.ollama_fim_and_load).toMatchObject({ loadReason: 'load', fimReason: 'stop' })
    expect(r.ollama_fim_and_load.fim).not.toContain('def sub')
    expect(r.openai_embed).toMatchObject({ count: 2, same: false })
    expect(r.ollama_embed.dims).toBe(r.ollama_embed.legacyDims)
  })
})
