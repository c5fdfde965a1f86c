import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ChatRequest,
  ContextOverflowError,
  EmbeddedLlamaProvider,
  InvalidChatRequestError,
  loadLlamaRuntime,
  ModelNotFoundError,
} from '../../src/inference/index.ts'
import { TEST_MODEL_SIZE, testModelPath } from './test-model.ts'

const MODEL = 'gemma-3-270m-Q4_K_M'
const CONTEXT = 512
const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content }],
  temperature: 0,
  ...extra,
})

// Resolved at load time so that a missing model fails the file outright rather than skipping its tests.
const modelPath = testModelPath()
let provider: EmbeddedLlamaProvider

beforeAll(async () => {
  provider = new EmbeddedLlamaProvider({ modelPath, contextSize: CONTEXT, threads: 1 })
  await provider.start()
})
afterAll(() => provider?.stop())

describe('EmbeddedLlamaProvider with the real model', () => {
  it('runs on the prebuilt llama.cpp binary, on the CPU', async () => {
    const llama = await loadLlamaRuntime(false)
    expect(llama.buildType).toBe('prebuilt')
    expect(llama.gpu).toBe(false)
  })

  it('lists the model with metadata read from the GGUF header', async () => {
    expect(await provider.listModels()).toEqual([
      {
        name: MODEL,
        sizeBytes: TEST_MODEL_SIZE,
        family: 'gemma3',
        parameters: '270M',
        quantization: 'Q4_K_M',
        contextLength: 32768,
        path: modelPath,
        basename: 'gemma-3',
        fim: false,
        // What a request can hold here: the provider's context, not the trained 32768.
        servedContext: 512,
      },
    ])
  })

  it('answers a chat with text and honest token counts', async () => {
    const content = 'Write a short poem about the sea.'
    const result = await provider.chat(ask(content, { maxTokens: 12 }))
    expect(result.model).toBe(MODEL)
    expect(result.text.trim()).not.toBe('')
    // The prompt as Gemma's template renders it, counted by llama.cpp's own tokenizer.
    const vocab = await (await loadLlamaRuntime(false)).loadModel({ modelPath, vocabOnly: true })
    const rendered = `<bos><start_of_turn>user\n${content}<end_of_turn>\n<start_of_turn>model\n`
    expect(result.promptTokens).toBe(vocab.tokenize(rendered, true).length)
    await vocab.dispose()
    expect(result.completionTokens).toBeGreaterThan(0)
    expect(result.completionTokens).toBeLessThanOrEqual(12)
    expect(result.timeToFirstTokenMs).toBeGreaterThan(0)
    expect(result.timeToFirstTokenMs!).toBeLessThanOrEqual(result.durationMs)
    expect(result.tokensPerSecond).toBeGreaterThan(0)
  })

  it('streams pieces that concatenate to the final text', async () => {
    const pieces: string[] = []
    const result = await provider.chat(ask('List some fruits.', { maxTokens: 24 }), {
      onToken: (t) => pieces.push(t),
    })
    expect(pieces.length).toBeGreaterThan(1)
    expect(pieces.join('')).toBe(result.text)
  })

  it('stops at maxTokens with finishReason length', async () => {
    const result = await provider.chat(ask('Tell me a long story about a dragon.', { maxTokens: 5 }))
    expect(result.finishReason).toBe('length')
    expect(result.completionTokens).toBe(5)
  })

  it('ends at a stop sequence, leaving it out of the text', async () => {
    const req = ask('Tell me a long story about a dragon.', { maxTokens: 24 })
    const full = (await provider.chat(req)).text
    // Greedy decoding repeats itself, so a stop taken from the middle of the text cuts it there.
    const stop = full
      .slice(Math.floor(full.length / 2))
      .trim()
      .slice(0, 4)
    expect(stop.length).toBe(4)
    const cut = await provider.chat({ ...req, stop: [stop] })
    expect(cut.finishReason).toBe('stop')
    expect(cut.text).toBe(full.slice(0, full.indexOf(stop)))
  })

  it('replays a sampled answer from the same seed', async () => {
    const req = ask('Describe a city at night.', { maxTokens: 16, temperature: 0.9, seed: 42 })
    const first = await provider.chat(req)
    const second = await provider.chat(req)
    expect(second.text).toBe(first.text)
  })

  it('keeps the reply to a GBNF grammar', async () => {
    const grammar = 'root ::= ("yes" | "no") "."'
    const result = await provider.chat(ask('Is the sea wet? Answer yes or no.', { maxTokens: 8, grammar }))
    expect(result.text).toMatch(/^(yes|no)\.$/)
    // The same grammar again is parsed once; a different one still applies.
    const again = await provider.chat(ask('Is fire cold?', { maxTokens: 8, grammar }))
    expect(again.text).toMatch(/^(yes|no)\.$/)
    const digits = await provider.chat(ask('Count to three.', { maxTokens: 8, grammar: 'root ::= [0-9]{3}' }))
    expect(digits.text).toMatch(/^[0-9]{3}$/)
  })

  it('rejects a prompt beyond the context with ContextOverflowError and keeps serving', async () => {
    const err = await provider.chat(ask('lorem ipsum '.repeat(600))).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContextOverflowError)
    expect(err).toMatchObject({
      name: 'ContextOverflowError',
      code: 'context_overflow',
      contextSize: CONTEXT,
    })
    expect((err as ContextOverflowError).promptTokens).toBeGreaterThan(CONTEXT)
    expect((await provider.chat(ask('Hello', { maxTokens: 2 }))).completionTokens).toBeGreaterThan(0)
  })

  it('caps the reply at the room the prompt leaves in the context', async () => {
    const result = await provider.chat(ask('lorem ipsum '.repeat(245), { maxTokens: 400 }))
    expect(result.finishReason).toBe('length')
    expect(result.promptTokens + result.completionTokens).toBe(CONTEXT)
  })

  it('names the unknown model and what is available', async () => {
    const err = await provider.chat(ask('hi', { model: 'no-such-model' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect(err).toMatchObject({ name: 'ModelNotFoundError', model: 'no-such-model', available: [MODEL] })
  })

  it('accepts the model name with its file extension', async () => {
    const result = await provider.chat(ask('hi', { model: `${MODEL}.gguf`, maxTokens: 1 }))
    expect(result.model).toBe(MODEL)
  })

  it.each([
    [{ messages: [] }, /messages/],
    [{ messages: [{ role: 'robot', content: 'x' }] }, /role/],
    [{ messages: [{ role: 'user', content: 'x' }], maxTokens: 0 }, /maxTokens/],
    [{ messages: [{ role: 'user', content: 'x' }], topP: 2 }, /topP/],
    [{ messages: [{ role: 'user', content: 'x' }], stop: [''] }, /stop/],
    [{ messages: [{ role: 'user', content: 'x' }], grammar: ' ' }, /grammar/],
    [
      { messages: [{ role: 'user', content: 'x' }], grammar: 'root ::= "a"', format: {} },
      /grammar and format/,
    ],
    [{ messages: [{ role: 'user', content: 'x' }], grammar: 'root ::= undefined-rule' }, /GBNF/],
  ])('rejects a malformed request %#', async (req, message) => {
    const err = await provider.chat(req as ChatRequest).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidChatRequestError)
    expect((err as Error).message).toMatch(message)
  })
})
