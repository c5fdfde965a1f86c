import { describe, expect, it } from 'vitest'
import { formatBytes, nameFromSource, PullSpeed, pullTarget, readPullStream } from './pull.ts'

describe('pullTarget', () => {
  it('reads URLs and paths as sources named after their file, anything else as a catalog name', () => {
    expect(pullTarget('https://h.example/m/qwen%20coder.gguf')).toEqual({
      kind: 'url',
      source: 'https://h.example/m/qwen%20coder.gguf',
      name: 'qwen coder',
    })
    expect(pullTarget('/data/gemma.GGUF', 'g2')).toEqual({
      kind: 'file',
      source: '/data/gemma.GGUF',
      name: 'g2',
    })
    expect(pullTarget('qwen2.5-coder:1.5b')).toEqual({ kind: 'catalog', name: 'qwen2.5-coder:1.5b' })
    expect(pullTarget('  ')).toBeNull()
  })
  it('derives the name as the agent does', () => {
    expect(nameFromSource('http://x/a/b/model.gguf?x=1')).toBe('model')
    expect(nameFromSource('./models/m.gguf')).toBe('m')
  })
})

describe('readPullStream', () => {
  it('splits NDJSON across chunk boundaries into progress, done and error lines', async () => {
    const text = '{"status":"downloading","completedBytes":5,"totalBytes":10,"fraction":0.5}\n{"status":"succ'
    const rest =
      'ess","completedBytes":10,"totalBytes":10,"fraction":1,"done":true}\n{"error":{"code":"x","message":"m"}}'
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(text))
        c.enqueue(new TextEncoder().encode(rest))
        c.close()
      },
    })
    const lines = []
    for await (const l of readPullStream(body))
      lines.push(l.type === 'error' ? [l.type, l.code] : [l.type, l.progress.fraction])
    expect(lines).toEqual([
      ['progress', 0.5],
      ['done', 1],
      ['error', 'x'],
    ])
  })
})

describe('PullSpeed', () => {
  it('is the byte rate over the recent window', () => {
    const s = new PullSpeed(3_000)
    expect(s.add(0, 0)).toBeNull()
    expect(s.add(1_000, 1_000_000)).toBe(1_000_000)
    s.add(4_000, 1_000_000) // a stall: the rate falls
    expect(s.add(5_000, 1_000_000)).toBe(0)
  })
})

describe('formatBytes', () => {
  it('uses powers of 1000', () => {
    expect(formatBytes(253_113_024)).toBe('253 MB')
    expect(formatBytes(1_500)).toBe('1.5 kB')
    expect(formatBytes(12)).toBe('12 B')
  })
})
