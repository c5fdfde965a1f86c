import type { TaskEvent } from '@edgecoder/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupAgents, startAgent, tempDataDir } from './harness.ts'
import { getTask, readTaskEvents, submitOk, waitForStatus } from './tasks-helpers.ts'

afterEach(cleanupAgents)

/** A program that keeps the sandbox busy for about `ms`. */
const busyJs = (ms: number) => `const until = Date.now() + ${ms}; while (Date.now() < until) {}`

/** Collects `task-done` events from the node's `/events` stream, in the order the node finished the tasks. */
function watchCompletions(agent: Awaited<ReturnType<typeof startAgent>>, signal: AbortSignal) {
  const done: string[] = []
  const ready = agent.api('/events', { signal }).then(async (res) => {
    const decoder = new TextDecoder()
    let buf = ''
    void (async () => {
      try {
        for await (const chunk of res.body!) {
          buf += decoder.decode(chunk, { stream: true })
          for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
            const block = buf.slice(0, end)
            buf = buf.slice(end + 2)
            if (!block.includes('event: task-done\n')) continue
            const ev = JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as TaskEvent
            done.push(ev.taskId)
          }
        }
      } catch {}
    })()
  })
  return { done, ready }
}

describe('fair share', () => {
  it('finishes a light submitter’s tasks interleaved with a flood, not after it', async () => {
    const a = await startAgent({ args: ['--max-concurrent-tasks', '1'] })
    const ctrl = new AbortController()
    const watch = watchCompletions(a, ctrl.signal)
    await watch.ready
    // The flood is running while the light submitter arrives.
    const code = busyJs(25)
    const flood = await Promise.all(
      Array.from({ length: 100 }, () =>
        submitOk(a, { kind: 'run', language: 'javascript', code, submitter: 'flood' }),
      ),
    )
    const light: string[] = []
    for (let i = 0; i < 10; i++)
      light.push(await submitOk(a, { kind: 'run', language: 'javascript', code, submitter: 'light' }))
    const doneBeforeLight = watch.done.length

    const deadline = Date.now() + 120_000
    while (watch.done.length < 110 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    ctrl.abort()
    expect(watch.done).toHaveLength(110)
    expect(new Set(watch.done)).toEqual(new Set([...flood, ...light]))

    const positions = light.map((id) => watch.done.indexOf(id))
    const lastLight = Math.max(...positions)
    // Under FIFO the light tasks would finish at positions 100-109. With equal shares they
    // alternate with the flood from the moment they arrive.
    expect(
      lastLight,
      `light finished at ${positions.join(',')}; ${doneBeforeLight} flood done before it arrived`,
    ).toBeLessThan(doneBeforeLight + 2 * 10 + 2)
    expect(watch.done.slice(lastLight + 1).every((id) => flood.includes(id))).toBe(true)
    // The light submitter's own tasks keep their order.
    expect([...positions].sort((x, y) => x - y)).toEqual(positions)
  })
})

describe('nothing accepted is lost', () => {
  it('after kill -9 during a running task, a restart on the same data dir runs it and the queue behind it', async () => {
    const dataDir = tempDataDir()
    const a = await startAgent({ dataDir, args: ['--max-concurrent-tasks', '1'] })
    const running = await submitOk(a, {
      kind: 'run',
      language: 'javascript',
      code: `${busyJs(3_000)}\nconst answer = 42`,
      tests: "test('answer', () => assert.equal(answer, 42))",
      deadlineMs: 20_000,
    })
    const queued = [
      await submitOk(a, { kind: 'run', language: 'python', code: 'x = 1', tests: 'assert x == 1' }),
      await submitOk(a, { kind: 'run', language: 'python', code: 'x = 2', tests: 'assert x == 2' }),
    ]
    await waitForStatus(a, running, ['running'])
    a.proc.kill('SIGKILL')
    expect(await a.exited).toBe('SIGKILL')

    const b = await startAgent({ dataDir, args: ['--max-concurrent-tasks', '1'] })
    const t = await waitForStatus(b, running, undefined, 30_000)
    expect(t.status).toBe('succeeded')
    expect(t.runs).toBe(2)
    expect(t.result!.report).toMatchObject({ passed: 1, failed: 0, total: 1 })
    for (const id of queued) expect((await waitForStatus(b, id)).status).toBe('succeeded')

    const history = (await readTaskEvents(b, running)).map((e) => [e.type, e.data.reason ?? null])
    expect(history).toEqual([
      ['queued', null],
      ['started', null],
      ['queued', 'interrupted'],
      ['started', null],
      ['test-result', null],
      ['done', null],
    ])
    expect((await getTask(b, queued[0]!)).runs).toBe(1)
  })

  it('on a clean stop, a running task goes back to the queue and completes after the restart', async () => {
    const dataDir = tempDataDir()
    const a = await startAgent({ dataDir })
    const id = await submitOk(a, {
      kind: 'run',
      language: 'javascript',
      code: busyJs(2_000),
      deadlineMs: 20_000,
    })
    await waitForStatus(a, id, ['running'])
    expect(await a.stop()).toBe(0)
    const b = await startAgent({ dataDir })
    const t = await waitForStatus(b, id)
    expect(t.status).toBe('succeeded')
    expect(t.runs).toBe(2)
  })
})
