import {
  EMBED_MAX_DIMENSIONS,
  EMBED_MAX_INPUTS,
  EmbedTaskSpec,
  ExecutorFrame,
  embedTokenBound,
  TaskSpec,
} from '@edgecoder/protocol'
import { describe, expect, it } from 'vitest'
import { embedBatches } from '../../src/routing/mesh-chat.ts'
import { usedTokens } from '../../src/routing/usage.ts'
import { runEmbed } from '../../src/tasks/runners.ts'

/** The embed task's wire shape and bounds, its billing, and its runner. */
const spec = (inputs: string[]) => EmbedTaskSpec.parse({ kind: 'embed', inputs })
const result = (embeddings: number[][], prompt = 3) => ({
  type: 'result',
  taskId: 't',
  attempt: 1,
  status: 'succeeded',
  result: {
    code: null,
    report: null,
    attempts: [],
    plan: null,
    text: null,
    finishReason: null,
    model: 'm',
    tokens: { prompt, completion: 0 },
    durations: { queuedMs: 0, runMs: 1, modelMs: 1, sandboxMs: 0 },
    embeddings,
  },
  error: null,
})

describe('embed tasks', () => {
  it('are task specs with 1 to 16 inputs and nothing else', () => {
    expect(TaskSpec.parse({ kind: 'embed', inputs: ['a'] })).toMatchObject({
      kind: 'embed',
      submitter: 'local',
    })
    expect(EmbedTaskSpec.safeParse({ kind: 'embed', inputs: [] }).success).toBe(false)
    const many = Array.from({ length: EMBED_MAX_INPUTS + 1 }, () => 'x')
    expect(EmbedTaskSpec.safeParse({ kind: 'embed', inputs: many }).success).toBe(false)
    expect(EmbedTaskSpec.safeParse({ kind: 'embed', inputs: ['a'], maxTokens: 4 }).success).toBe(false)
    // 16 inputs of 64 KiB of control characters would be 6 MiB of JSON in the offer.
    const escaped = Array.from({ length: 16 }, () => '\u0001'.repeat(64 * 1024))
    expect(EmbedTaskSpec.safeParse({ kind: 'embed', inputs: escaped }).success).toBe(false)
  })

  it('are cut from a client batch in order, by count and by size, each one a valid spec', () => {
    const small = Array.from({ length: 40 }, (_, i) => `x${i}`)
    const b = embedBatches(small)
    expect(b.map((x) => x.length)).toEqual([16, 16, 8])
    expect(b.flat()).toEqual(small)
    const big = Array.from({ length: 6 }, () => '\u0001'.repeat(64 * 1024))
    const bb = embedBatches(big)
    expect(bb.flat()).toHaveLength(6)
    for (const batch of bb)
      expect(EmbedTaskSpec.safeParse({ kind: 'embed', inputs: batch }).success).toBe(true)
    expect(bb.length).toBeGreaterThan(1)
  })

  it('carry results whose vectors are bounded and finite', () => {
    expect(ExecutorFrame.safeParse(result([[0.5, -1]])).success).toBe(true)
    expect(ExecutorFrame.safeParse(result([new Array(EMBED_MAX_DIMENSIONS + 1).fill(0)])).success).toBe(false)
    expect(ExecutorFrame.safeParse(result([[]])).success).toBe(false)
    const tooMany = Array.from({ length: EMBED_MAX_INPUTS + 1 }, () => [0])
    expect(ExecutorFrame.safeParse(result(tooMany)).success).toBe(false)
    // JSON has no NaN; a frame read from the wire can still carry a string where a number goes.
    expect(ExecutorFrame.safeParse(result([[0, 'x' as unknown as number]])).success).toBe(false)
  })

  it('are billed by the input tokens the executor counted, capped by what the inputs can hold', () => {
    const s = spec(['héllo', 'ab'])
    // 6 UTF-8 bytes + 2, and 2 bytes + 2.
    expect(embedTokenBound(s)).toBe(12)
    const r = (prompt: number) => ExecutorFrame.parse(result([[1], [2]], prompt))
    const of = (prompt: number) => {
      const f = r(prompt)
      return usedTokens(s, 0, f.type === 'result' ? f.result : null)
    }
    expect(of(5)).toBe(5)
    expect(of(500)).toBe(12)
    // Other kinds count the token frames received.
    expect(
      usedTokens(TaskSpec.parse({ kind: 'chat', messages: [{ role: 'user', content: 'x' }] }), 7, null),
    ).toBe(7)
  })

  it('fail clearly when the model gives vectors that would not travel', async () => {
    const model = (embeddings: number[][]) => ({
      chat: async () => {
        throw new Error('unused')
      },
      embed: async () => ({ model: 'm', embeddings, promptTokens: 2 }),
    })
    const signal = new AbortController().signal
    const ok = await runEmbed(spec(['a', 'b']), model([[1], [2]]), signal)
    expect(ok).toMatchObject({
      status: 'succeeded',
      result: { embeddings: [[1], [2]], tokens: { prompt: 2 } },
    })
    const wide = await runEmbed(spec(['a']), model([new Array(EMBED_MAX_DIMENSIONS + 1).fill(0)]), signal)
    expect(wide).toMatchObject({ status: 'failed', error: { code: 'embedding_unsupported' } })
    const short = await runEmbed(spec(['a', 'b']), model([[1]]), signal)
    expect(short).toMatchObject({ status: 'failed', error: { code: 'embedding_unsupported' } })
    const none = await runEmbed(spec(['a']), { chat: model([]).chat }, signal)
    expect(none).toMatchObject({ status: 'failed', error: { code: 'embedding_unsupported' } })
  })
})
