import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SandboxPool } from '../src/index.ts'
import { expectHealthy, runners } from './helpers.ts'

const DEADLINE_MS = 3_000
const OUTPUT_CAP = 16 * 1024
const pool = new SandboxPool({ deadlineMs: DEADLINE_MS, outputCapBytes: OUTPUT_CAP })
const { py, js } = runners(pool)
let rssAtStart = 0

beforeAll(async () => {
  await pool.start()
  rssAtStart = process.memoryUsage().rss
}, 60_000)
afterAll(() => pool.stop())

describe('runaway code', () => {
  it.each([
    ['python', 'while True: pass'],
    ['python', 'import time\ntime.sleep(10**6)'],
    ['python', 'import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass'],
    [
      'python',
      'import asyncio\nasync def spin():\n    while True:\n        try:\n            await asyncio.sleep(0.01)\n        except BaseException:\n            pass\nasyncio.run(spin())',
    ],
    ['javascript', 'for (;;) {}'],
    ['javascript', 'while (true) { try { for (;;) {} } catch (e) {} }'],
  ] as const)('%s %j is stopped at the deadline', async (language, code) => {
    const report = await pool.run({ language, code })
    expect(report.outcome).toBe('timeout')
    expect(report.ok).toBe(false)
    expect(report.error).toContain(`deadline of ${DEADLINE_MS} ms`)
    expect(report.durationMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50)
    expect(report.durationMs).toBeLessThan(DEADLINE_MS + 2_000)
    await expectHealthy(pool, language)
  })

  it('terminates Python that swallows the interrupt, and the next run gets a fresh worker', async () => {
    const code = 'while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass'
    const report = await py(code)
    expect(report.outcome).toBe('timeout')
    expect(report.durationMs).toBeLessThan(DEADLINE_MS + 2_000)
    await expectHealthy(pool, 'python')
  })

  it('reports deep recursion as an error', async () => {
    const python = await py('def f(n):\n    return f(n + 1)\nf(0)')
    expect(python.outcome).toBe('error')
    expect(python.error).toContain('RecursionError')
    const unbounded = await py(
      'import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)',
    )
    expect(unbounded.outcome).toBe('error')
    expect(unbounded.error).toContain('RecursionError')
    const cRecursion = await py(
      'class A:\n    def __repr__(self):\n        return repr(self)\nimport sys\nsys.setrecursionlimit(10**6)\nrepr(A())',
    )
    expect(cRecursion.error).toContain('RecursionError')
    const nested = await py('x = []\nfor i in range(100_000):\n    x = [x]\ndel x\nprint("freed")')
    expect(nested.output).toBe('freed\n')
    const javascript = await js('function f() { return f() + 1 }\nf()')
    expect(javascript.outcome).toBe('error')
    expect(javascript.error).toMatch(/stack overflow/i)
    await expectHealthy(pool, 'python')
    await expectHealthy(pool, 'javascript')
  })
})

describe('memory bombs', () => {
  it.each([
    ['python', 'x = [0] * 10**10'],
    ['python', "x = 'a' * 10**10"],
    ['python', 'x = []\nwhile True:\n    x.append(bytearray(10**6))'],
    ['python', 'x = b"a"\nwhile True:\n    x = x + x'],
    ['javascript', 'const a = []\nfor (;;) a.push(new Array(100000).fill(1))'],
    ['javascript', "let s = 'ab'\nfor (;;) s = s + s"],
    ['javascript', "'a'.repeat(2 ** 31)"],
  ] as const)('%s %j is contained', async (language, code) => {
    const report = await pool.run({ language, code })
    expect(['memory', 'error']).toContain(report.outcome)
    expect(report.error).toMatch(/memory|MemoryError|OverflowError|RangeError|too long/i)
    await expectHealthy(pool, language)
  })

  it('reports running out of memory in a growing list as outcome memory', async () => {
    // Filling 256 MiB takes a while on a busy machine: a longer deadline keeps this about memory.
    const deadlineMs = 20_000
    const python = await pool.run({
      language: 'python',
      code: 'x = []\nwhile True:\n    x.append(" " * 10**6)',
      deadlineMs,
    })
    expect(python.outcome).toBe('memory')
    const code = 'const a = []\nfor (;;) a.push({ n: a.length, s: "x" + a.length })'
    const javascript = await pool.run({ language: 'javascript', code, deadlineMs })
    expect(javascript.outcome).toBe('memory')
    expect(javascript.durationMs).toBeLessThan(deadlineMs)
  })
})

describe('output floods', () => {
  it.each([
    ['python', "print('x' * 10**8)"],
    ['python', "while True:\n    print('spam')"],
    ['javascript', "console.log('x'.repeat(1e8))"],
    ['javascript', "for (;;) console.log('spam')"],
  ] as const)('%s %j is capped and stopped', async (language, code) => {
    const report = await pool.run({ language, code })
    expect(report.outcome).toBe('output-limit')
    expect(report.ok).toBe(false)
    expect(Buffer.byteLength(report.output)).toBeLessThan(OUTPUT_CAP + 200)
    expect(report.output).toContain('[output truncated')
    expect(report.durationMs).toBeLessThan(DEADLINE_MS)
    await expectHealthy(pool, language)
  })
})

describe('cancellation', () => {
  it.each(['python', 'javascript'] as const)('cancels a running %s run', async (language) => {
    const controller = new AbortController()
    const code = language === 'python' ? 'while True: pass' : 'for (;;) {}'
    setTimeout(() => controller.abort(), 300)
    const report = await pool.run({ language, code }, controller.signal)
    expect(report.outcome).toBe('cancelled')
    expect(report.durationMs).toBeLessThan(2_000)
    await expectHealthy(pool, language)
  })

  it('cancels a queued run without running it', async () => {
    const controller = new AbortController()
    const running = js('for (;;) {}')
    const queued = js("print('should not run')", undefined, controller.signal)
    controller.abort()
    expect(await queued).toMatchObject({ outcome: 'cancelled', durationMs: 0, output: '' })
    expect((await running).outcome).toBe('timeout')
  })
})

describe('after the hostile suite', () => {
  it('the host process stayed healthy', async () => {
    await expectHealthy(pool, 'python')
    await expectHealthy(pool, 'javascript')
    const { rss, heapUsed } = process.memoryUsage()
    // The guests' heaps live in this process too (worker threads): bounded by their caps.
    expect(rss - rssAtStart).toBeLessThan(1024 * 1024 * 1024)
    expect(rss).toBeLessThan(2 * 1024 * 1024 * 1024)
    expect(heapUsed).toBeLessThan(512 * 1024 * 1024)
  })
})
