import { readdirSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Sandbox } from '../src/index.ts'

const sandbox = new Sandbox({ deadlineMs: 5_000, idleMs: 0 })
beforeAll(() => sandbox.start())
afterAll(() => sandbox.stop())

const pidOf = (language: string): number | null | undefined =>
  sandbox.status().processes.find((p) => p.language === language && p.state !== 'retiring')?.pid

/** `pid` and every process below it (bubblewrap's and the interpreter's), read from /proc. */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The parent pid is the second field after the command name, which may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid]
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []))
  return tree
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

describe('Sandbox (a process of its own)', () => {
  it('is confined by bubblewrap on Linux', () => {
    expect(process.platform).toBe('linux')
    expect(sandbox.confinement).toMatchObject({
      mechanism: 'bubblewrap',
      confined: true,
      memory: 'rlimit-data',
    })
  })

  it('starts nothing until the first run, then one process per language, apart from this one', async () => {
    expect(sandbox.status().processes).toEqual([])
    const [py, js] = await Promise.all([
      sandbox.run({ language: 'python', code: 'print(6 * 7)', tests: 'assert True' }),
      sandbox.run({ language: 'javascript', code: 'print(6 * 7)', tests: 'assert(true)' }),
    ])
    expect(py).toMatchObject({ outcome: 'passed', passed: 1 })
    expect(js).toMatchObject({ outcome: 'passed', passed: 1 })
    const processes = sandbox.status().processes
    expect(processes.map((p) => p.language).sort()).toEqual(['javascript', 'python'])
    for (const p of processes) {
      expect(p.pid).not.toBe(process.pid)
      expect(p.rssBytes).toBeGreaterThan(10 * 2 ** 20)
    }
  })

  it.each([
    ['python', 'while True: pass', 'timeout'],
    ['javascript', 'for (;;) {}', 'timeout'],
    ['python', 'print("x" * 200_000)', 'output-limit'],
    ['python', 'x = [bytearray(64 * 2**20) for i in range(16)]', 'memory'],
  ] as const)(
    'kills the %s process after a breach (%j) and runs the next one in a fresh process',
    async (language, code, outcome) => {
      await sandbox.run({ language, code: language === 'python' ? 'pass' : '' })
      const before = pidOf(language)!
      const breached = processTree(before)
      // bubblewrap and the interpreter's process below it, at least.
      expect(breached.length).toBeGreaterThanOrEqual(2)
      const report = await sandbox.run({ language, code, deadlineMs: 1_500 })
      expect(report.outcome).toBe(outcome)
      const next = await sandbox.run({ language, code: 'print(1)' })
      expect(next).toMatchObject({ outcome: 'passed', output: '1\n' })
      expect(pidOf(language)).not.toBe(before)
      // Killed, not just set aside: nothing of the breached process is left running.
      await vi.waitFor(() => expect(breached.filter(alive)).toEqual([]), { timeout: 10_000, interval: 50 })
      expect(sandbox.status().processes.map((p) => p.pid)).not.toContain(before)
    },
  )

  it('answers a bad request with SandboxRequestError and starts nothing for it', async () => {
    await expect(sandbox.run({ language: 'ruby' as 'python', code: '' })).rejects.toMatchObject({
      name: 'SandboxRequestError',
    })
  })
})

describe('Sandbox idle time', () => {
  it('stops a process idle for idleMs; the next run starts a fresh one', async () => {
    const brief = new Sandbox({ languages: ['javascript'], idleMs: 300 })
    await brief.start()
    try {
      await brief.run({ language: 'javascript', code: 'print(1)' })
      const first = brief.status().processes[0]?.pid
      expect(first).toBeGreaterThan(0)
      await vi.waitFor(() => expect(brief.status().processes).toEqual([]), { timeout: 10_000, interval: 50 })
      const again = await brief.run({ language: 'javascript', code: 'print(2)' })
      expect(again.output).toBe('2\n')
      expect(brief.status().processes[0]?.pid).not.toBe(first)
    } finally {
      await brief.stop()
    }
  })
})
