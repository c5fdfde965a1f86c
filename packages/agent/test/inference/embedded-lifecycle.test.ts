import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type ChatRequest,
  type EmbeddedLlamaOptions,
  EmbeddedLlamaProvider,
  type ProviderStatus,
} from '../../src/inference/index.ts'
import { testModelPath } from './test-model.ts'

const MODEL = 'gemma-3-270m-Q4_K_M'
const story = (maxTokens: number): ChatRequest => ({
  messages: [{ role: 'user', content: 'Tell me a long story about a dragon.' }],
  temperature: 0,
  maxTokens,
})

// Resolved at load time so that a missing model fails the file outright rather than skipping its tests.
const modelPath = testModelPath()

// Each test gets a provider of its own: one that fails half-way (a request left generating, a
// provider left stopped) can't change what the next one sees in the queue.
const providers: EmbeddedLlamaProvider[] = []
function newProvider(extra: Partial<EmbeddedLlamaOptions> = {}): EmbeddedLlamaProvider {
  const p = new EmbeddedLlamaProvider({ modelPath, contextSize: 512, threads: 1, ...extra })
  providers.push(p)
  return p
}
let provider: EmbeddedLlamaProvider
beforeEach(() => {
  provider = newProvider()
})
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.stop()))
})

/** Resolves once `n` pieces of text have streamed. */
function afterPieces(n: number): { onToken: () => void; reached: Promise<void> } {
  const { promise, resolve } = Promise.withResolvers<void>()
  let seen = 0
  return { onToken: () => ++seen === n && resolve(), reached: promise }
}

/**
 * Resolves with the provider's status once `want` holds of it. Requests join the line a few
 * promise turns after `chat` is called: the test waits for the line to show, not for a guess
 * of how long that takes. Fails with the last status seen when `settled` resolves first (the
 * request the line waits behind is done, so the line can no longer form).
 */
async function statusWhen(
  p: EmbeddedLlamaProvider,
  want: (s: ProviderStatus) => boolean,
  settled: Promise<unknown>,
): Promise<ProviderStatus> {
  let over = false
  settled.then(
    () => (over = true),
    () => (over = true),
  )
  for (;;) {
    const s = await p.status()
    if (want(s)) return s
    if (over) throw new Error(`the line never formed: status ${JSON.stringify(s)}`)
    await new Promise<void>((r) => setImmediate(r))
  }
}

// Real generation on one thread, and a model load per test: on a loaded machine that takes far
// longer than the suite's default bound, which is no failure of what these tests check.
const MODEL_BOUND = { timeout: 300_000 }

describe('EmbeddedLlamaProvider lifecycle', MODEL_BOUND, () => {
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
    // Which request each streamed piece belongs to, in the order they came.
    const pieces: string[] = []
    const progress = afterPieces(1)
    const first = provider.chat(story(40), {
      onToken: () => {
        pieces.push('first')
        progress.onToken()
      },
    })
    await progress.reached
    const ac = new AbortController()
    const second = provider.chat(story(40), { signal: ac.signal, onToken: () => pieces.push('second') })
    const third = provider.chat(story(4), { onToken: () => pieces.push('third') })
    expect(await statusWhen(provider, (s) => s.queued === 2, first)).toMatchObject({ running: 1, queued: 2 })
    ac.abort()
    expect(await second).toMatchObject({ finishReason: 'cancelled', completionTokens: 0 })
    expect(await provider.status()).toMatchObject({ running: 1, queued: 1 })
    expect(await first).toMatchObject({ finishReason: 'length', completionTokens: 40 })
    expect((await third).completionTokens).toBe(4)
    // One at a time: every piece of the first came before any of the third, none of the second.
    expect(pieces.indexOf('second')).toBe(-1)
    expect(pieces.lastIndexOf('first')).toBeLessThan(pieces.indexOf('third'))
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

describe('EmbeddedLlamaProvider with two sequences', MODEL_BOUND, () => {
  it('generates two requests at once and queues a third', async () => {
    const pair = newProvider({ contextSize: 256, sequences: 2 })
    const progress = afterPieces(1)
    const first = pair.chat(story(24), { onToken: progress.onToken })
    await progress.reached
    let firstDone = false
    first.then(() => (firstDone = true))
    // Whether the second streamed while the first still did: both slots busy at once.
    let overlapped = false
    const second = pair.chat(story(24), { onToken: () => (overlapped ||= !firstDone) })
    const third = pair.chat(story(2))
    expect(await statusWhen(pair, (s) => s.running === 2 && s.queued === 1, first)).toMatchObject({
      running: 2,
      queued: 1,
    })
    const results = await Promise.all([first, second, third])
    expect(results.map((r) => r.completionTokens)).toEqual([24, 24, 2])
    expect(overlapped).toBe(true)
    // Same greedy request on two sequences of one context: same answer.
    expect(results[1]!.text).toBe(results[0]!.text)
  })
})
