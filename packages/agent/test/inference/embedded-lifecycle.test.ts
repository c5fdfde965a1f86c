import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ChatRequest, EmbeddedLlamaProvider } from '../../src/inference/index.ts'
import { testModelPath } from './test-model.ts'

const MODEL = 'gemma-3-270m-Q4_K_M'
const story = (maxTokens: number): ChatRequest => ({
  messages: [{ role: 'user', content: 'Tell me a long story about a dragon.' }],
  temperature: 0,
  maxTokens,
})

// Resolved at load time so that a missing model fails the file outright rather than skipping its tests.
const modelPath = testModelPath()
let provider: EmbeddedLlamaProvider

beforeAll(() => {
  provider = new EmbeddedLlamaProvider({ modelPath, contextSize: 512, threads: 1 })
})
afterAll(() => provider?.stop())

/** Resolves once `n` pieces of text have streamed. */
function afterPieces(n: number): { onToken: () => void; reached: Promise<void> } {
  const { promise, resolve } = Promise.withResolvers<void>()
  let seen = 0
  return { onToken: () => ++seen === n && resolve(), reached: promise }
}

describe('EmbeddedLlamaProvider lifecycle', () => {
  it('reports the default model as not loaded before first use, then loaded', async () => {
    expect(await provider.status()).toEqual({
      provider: 'embedded',
      activeModel: MODEL,
      loaded: false,
      contextSize: null,
      memoryBytes: null,
      lastTokensPerSecond: null,
      running: 0,
      queued: 0,
    })
    await provider.chat(story(8))
    const status = await provider.status()
    expect(status).toMatchObject({
      activeModel: MODEL,
      loaded: true,
      contextSize: 512,
      running: 0,
      queued: 0,
    })
    expect(status.memoryBytes).toBeGreaterThan(200_000_000)
    expect(status.lastTokensPerSecond).toBeGreaterThan(0)
  })

  it('stops generating promptly when the signal aborts', async () => {
    const ac = new AbortController()
    const progress = afterPieces(3)
    const running = provider.chat(story(400), { signal: ac.signal, onToken: progress.onToken })
    await progress.reached
    const abortedAt = performance.now()
    ac.abort()
    const result = await running
    expect(performance.now() - abortedAt).toBeLessThan(1000)
    expect(result.finishReason).toBe('cancelled')
    expect(result.completionTokens).toBeGreaterThanOrEqual(3)
    expect(result.completionTokens).toBeLessThan(400)
  })

  it('returns cancelled without generating when the signal is already aborted', async () => {
    const result = await provider.chat(story(8), { signal: AbortSignal.abort() })
    expect(result).toMatchObject({ finishReason: 'cancelled', completionTokens: 0, text: '' })
  })

  it('runs requests one at a time and lets a queued one be cancelled', async () => {
    const progress = afterPieces(1)
    const first = provider.chat(story(40), { onToken: progress.onToken })
    await progress.reached
    const ac = new AbortController()
    const second = provider.chat(story(40), { signal: ac.signal })
    const third = provider.chat(story(4))
    await new Promise((r) => setTimeout(r, 20))
    expect(await provider.status()).toMatchObject({ running: 1, queued: 2 })
    ac.abort()
    expect(await second).toMatchObject({ finishReason: 'cancelled', completionTokens: 0 })
    expect(await provider.status()).toMatchObject({ running: 1, queued: 1 })
    expect((await first).finishReason).toBe('length')
    expect((await third).completionTokens).toBe(4)
  })

  it('cancels in-flight work on stop, unloads, and serves again afterwards', async () => {
    const progress = afterPieces(2)
    const running = provider.chat(story(400), { onToken: progress.onToken })
    await progress.reached
    await provider.stop()
    expect((await running).finishReason).toBe('cancelled')
    expect(await provider.status()).toMatchObject({ loaded: false, running: 0 })
    const again = await provider.chat(story(3))
    expect(again.completionTokens).toBe(3)
    expect((await provider.status()).loaded).toBe(true)
  })
})

describe('EmbeddedLlamaProvider with two sequences', () => {
  it('generates two requests at once and queues a third', async () => {
    const pair = new EmbeddedLlamaProvider({
      modelPath,
      contextSize: 256,
      threads: 1,
      sequences: 2,
    })
    try {
      const progress = afterPieces(1)
      const first = pair.chat(story(24), { onToken: progress.onToken })
      await progress.reached
      const second = pair.chat(story(24))
      const third = pair.chat(story(2))
      await new Promise((r) => setTimeout(r, 20))
      expect(await pair.status()).toMatchObject({ running: 2, queued: 1 })
      const results = await Promise.all([first, second, third])
      expect(results.map((r) => r.completionTokens)).toEqual([24, 24, 2])
      // Same greedy request on two sequences of one context: same answer.
      expect(results[1]!.text).toBe(results[0]!.text)
    } finally {
      await pair.stop()
    }
  })
})
