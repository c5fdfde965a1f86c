import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  SandboxNotStartedError,
  SandboxPool,
  SandboxRequestError,
  SandboxStoppedError,
} from '../src/index.ts'
import { runners } from './helpers.ts'

const pool = new SandboxPool({ deadlineMs: 5_000, languages: ['javascript'] })
const { js } = runners(pool)
beforeAll(() => pool.start(), 60_000)
afterAll(() => pool.stop())

describe('the pool', () => {
  it('rejects requests it cannot run', async () => {
    await expect(pool.run({ language: 'python', code: '' })).rejects.toThrow(/does not run python/)
    await expect(pool.run({ language: 'ruby' as 'python', code: '' })).rejects.toBeInstanceOf(
      SandboxRequestError,
    )
    await expect(pool.run({ language: 'javascript', code: 42 as unknown as string })).rejects.toThrow(
      /code must be a string/,
    )
    await expect(pool.run({ language: 'javascript', code: '', deadlineMs: -1 })).rejects.toBeInstanceOf(
      SandboxRequestError,
    )
  })

  it('refuses runs before start and after stop', async () => {
    const idle = new SandboxPool({ languages: ['javascript'] })
    await expect(idle.run({ language: 'javascript', code: '' })).rejects.toBeInstanceOf(
      SandboxNotStartedError,
    )
    await idle.start()
    expect((await idle.run({ language: 'javascript', code: 'print(1)' })).output).toBe('1\n')
    const running = idle.run({ language: 'javascript', code: 'for (;;) {}' })
    const queued = idle.run({ language: 'javascript', code: 'print(2)' })
    const rejected = Promise.all([
      expect(running).rejects.toBeInstanceOf(SandboxStoppedError),
      expect(queued).rejects.toBeInstanceOf(SandboxStoppedError),
    ])
    await idle.stop()
    await rejected
    await expect(idle.run({ language: 'javascript', code: '' })).rejects.toBeInstanceOf(
      SandboxNotStartedError,
    )
  })

  it('queues runs of one language and serves them in order', async () => {
    const reports = await Promise.all([1, 2, 3, 4].map((n) => js(`print(${n})`)))
    expect(reports.map((r) => r.output)).toEqual(['1\n', '2\n', '3\n', '4\n'])
    expect(pool.status()).toEqual({ javascript: { workers: 1, busy: 0, queued: 0 } })
  })

  it('replaces a worker after its quota of runs, without losing a run', async () => {
    const short = new SandboxPool({ languages: ['javascript'], maxRunsPerWorker: 2 })
    await short.start()
    try {
      const reports = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => short.run({ language: 'javascript', code: `print(${n})` })),
      )
      expect(reports.map((r) => r.output)).toEqual(['1\n', '2\n', '3\n', '4\n', '5\n'])
    } finally {
      await short.stop()
    }
  })

  it('runs two workers of a language side by side when asked to', async () => {
    const pair = new SandboxPool({ languages: ['javascript'], workersPerLanguage: 2, deadlineMs: 2_000 })
    await pair.start()
    try {
      const started = performance.now()
      const [a, b] = await Promise.all(
        [1, 2].map(() => pair.run({ language: 'javascript', code: 'for (;;) {}' })),
      )
      expect([a?.outcome, b?.outcome]).toEqual(['timeout', 'timeout'])
      expect(performance.now() - started).toBeLessThan(3_500) // not one after the other
    } finally {
      await pair.stop()
    }
  })
})
