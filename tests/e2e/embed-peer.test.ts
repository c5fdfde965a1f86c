import { embedTokenBound } from '@edgecoder/protocol'
import { Ollama } from 'ollama'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { historyOf, settled } from './ledger-helpers.ts'
import { peersOf, tcpAddr } from './mesh-helpers.ts'
import { startNode } from './routing-helpers.ts'

/**
 * Embeddings through a peer: agent `c` has no model and sends embed tasks to `m`, which serves
 * the real test model; the vectors come back in the result frame and match what `m` computes
 * itself. Both are in a private mesh with a credit line, so the executor quotes and the embed settles like a chat,
 * billed by the inputs' tokens.
 */
const MODEL = 'gemma-3-270m-Q4_K_M'
// Members of a private mesh get the credit line; 1000 credits per 1k tokens is a credit a token.
const CREDITS = [
  '--mesh-token',
  'embed-e2e-mesh-token-0123456789',
  '--credit-line',
  '1000',
  '--price-per-ktokens',
  '1000',
]

let m: AgentProcess
let c: AgentProcess

beforeAll(async () => {
  m = await startNode('all-in-one', [
    ...CREDITS,
    '--model',
    testModelPath(),
    '--provider',
    'embedded',
    '--llama-threads',
    '1',
  ])
  c = await startNode('coordinator', [...CREDITS, '--bootstrap', tcpAddr(m)])
  await waitFor(async () => (await peersOf(c)).some((p) => p.models.some((x) => x.name === MODEL)), 30_000)
}, 120_000)

afterAll(cleanupAgents)

const ollama = (a: AgentProcess) => new Ollama({ host: a.apiUrl })
const openai = (a: AgentProcess) => new OpenAI({ baseURL: `${a.apiUrl}/v1`, apiKey: 'unused', maxRetries: 0 })

function expectSameVectors(got: number[][], want: number[][]) {
  expect(got).toHaveLength(want.length)
  for (const [i, v] of got.entries()) {
    expect(v).toHaveLength(want[i]!.length)
    for (const [j, x] of v.entries()) expect(x).toBeCloseTo(want[i]![j]!, 5)
  }
}

describe('embeddings through a peer', { timeout: 120_000 }, () => {
  it('answers /api/embed, /api/embeddings and /v1/embeddings on a node without the model', async () => {
    const input = ['hello', 'def add(a, b):']
    const here = await ollama(m).embed({ model: MODEL, input })
    const peer = await ollama(c).embed({ model: `${MODEL}:latest`, input })
    expect(peer.model).toBe(MODEL)
    expectSameVectors(peer.embeddings, here.embeddings)
    expect(peer.prompt_eval_count).toBe(here.prompt_eval_count)

    const legacy = await ollama(c).embeddings({ model: MODEL, prompt: 'hello' })
    expectSameVectors([legacy.embedding], [here.embeddings[0]!])

    // The npm client asks for base64 and decodes it; floats as floats too.
    const b64 = await openai(c).embeddings.create({ model: MODEL, input: 'hello' })
    expectSameVectors([b64.data[0]!.embedding], [here.embeddings[0]!])
    const floats = await openai(c).embeddings.create({ model: MODEL, input, encoding_format: 'float' })
    expectSameVectors(
      floats.data.map((d) => d.embedding),
      here.embeddings,
    )
    expect(floats.usage.prompt_tokens).toBe(here.prompt_eval_count)
  })

  it('keeps order and count over more inputs than one embed task carries', async () => {
    const input = Array.from({ length: 20 }, (_, i) => `line ${i}: x = ${i * i}`)
    const res = await fetch(`${c.apiUrl}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, input, encoding_format: 'float' }),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { data: { index: number; embedding: number[] }[] }
    expect(body.data.map((d) => d.index)).toEqual(input.map((_, i) => i))
    const here = await ollama(m).embed({ model: MODEL, input: [input[0]!, input[17]!] })
    expectSameVectors([body.data[0]!.embedding, body.data[17]!.embedding], here.embeddings)
  })

  it('answers 404 for a model neither node has', async () => {
    const e = await openai(c)
      .embeddings.create({ model: 'no-such-model', input: 'hello' })
      .catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('settles each embed task like a chat: quoted by the executor, billed by input tokens', async () => {
    await waitFor(async () => (await Promise.all([c, m].map(settled))).every(Boolean), 30_000, 100)
    const out = (await historyOf(c)).entries.filter((e) => e.direction === 'out')
    // One task per request above, two for the 20 inputs.
    expect(out.length).toBe(6)
    for (const e of out) {
      expect(e).toMatchObject({ kind: 'chat', state: 'settled', counterparty: m.ready.peerId })
      expect(e.memo).toMatch(/^embed /)
      expect(e.usage!.cpuMs).toBe(0)
      expect(e.usage!.tokens).toBeGreaterThan(0)
    }
    // The first request's tokens are the ones the model counted for its inputs.
    const first = await ollama(m).embed({ model: MODEL, input: ['hello', 'def add(a, b):'] })
    const bound = embedTokenBound({
      kind: 'embed',
      inputs: ['hello', 'def add(a, b):'],
      submitter: 'x',
      priority: 'high',
    })
    expect(out.map((e) => e.usage!.tokens)).toContain(first.prompt_eval_count)
    expect(first.prompt_eval_count).toBeLessThanOrEqual(bound)
    // The executor's side: the same tasks and credits, in; 1000 per 1k tokens is a credit a token.
    const inbound = (await historyOf(m)).entries.filter((e) => e.direction === 'in')
    for (const e of out) {
      expect(inbound.find((x) => x.taskId === e.taskId)).toMatchObject({
        credits: e.credits,
        state: 'settled',
      })
      expect(e.credits).toBe(e.usage!.tokens)
    }
  })
})
