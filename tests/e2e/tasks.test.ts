import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TaskList, TaskRecord } from '@edgecoder/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupAgents, runCli, startAgent, tempDataDir } from './harness.ts'
import { getTask, readTaskEvents, SOLUTIONS, submit, submitOk, waitForStatus } from './tasks-helpers.ts'

afterEach(cleanupAgents)

/** A program that keeps the sandbox busy for about `ms` (deterministic, no sleep needed). */
const busyJs = (ms: number) => `const until = Date.now() + ${ms}; while (Date.now() < until) {}`

describe('run tasks', () => {
  it('report known passing and failing solutions in both languages with the right counts', async () => {
    const a = await startAgent({ args: ['--max-concurrent-tasks', '2'] })
    const ids: Record<string, string> = {}
    for (const language of ['python', 'javascript'] as const) {
      const s = SOLUTIONS[language]
      ids[`${language}-pass`] = await submitOk(a, { kind: 'run', language, code: s.passing, tests: s.tests })
      ids[`${language}-fail`] = await submitOk(a, { kind: 'run', language, code: s.failing, tests: s.tests })
    }
    for (const language of ['python', 'javascript'] as const) {
      const pass = await waitForStatus(a, ids[`${language}-pass`]!)
      expect(pass.status, JSON.stringify(pass.result?.report)).toBe('succeeded')
      expect(pass.result!.report).toMatchObject({
        language,
        ok: true,
        outcome: 'passed',
        passed: 3,
        failed: 0,
        total: 3,
      })
      expect(pass.result!.code).toBe(SOLUTIONS[language].passing)
      expect(pass.error).toBeNull()

      const fail = await waitForStatus(a, ids[`${language}-fail`]!)
      expect(fail.status).toBe('failed')
      expect(fail.result!.report).toMatchObject({
        language,
        ok: false,
        outcome: 'failed',
        passed: 1,
        failed: 2,
        total: 3,
      })
      expect(fail.error!.code).toBe('tests_failed')
      expect(fail.error!.message).toContain('2 of 3')
    }
    const st = (await (await a.api('/status')).json()) as { tasks: Record<string, number> }
    expect(st.tasks).toMatchObject({ completed: 2, failed: 2, running: 0, queued: 0 })
  })

  it('gives the same report for the same run task every time', async () => {
    const a = await startAgent()
    const s = SOLUTIONS.python
    const reports = []
    for (let i = 0; i < 3; i++) {
      const t = await waitForStatus(
        a,
        await submitOk(a, { kind: 'run', language: 'python', code: s.failing, tests: s.tests }),
      )
      // unittest prints its own timing; everything else must be identical.
      const { durationMs: _, output, ...report } = t.result!.report!
      reports.push({ ...report, output: output.replace(/in \d+\.\d+s/g, 'in <time>') })
    }
    expect(reports[1]).toEqual(reports[0])
    expect(reports[2]).toEqual(reports[0])
  })

  it('reports a program the deadline stopped as failed, and the node keeps working', async () => {
    const a = await startAgent()
    const t = await waitForStatus(
      a,
      await submitOk(a, { kind: 'run', language: 'javascript', code: 'while (true) {}', deadlineMs: 500 }),
    )
    expect(t.status).toBe('failed')
    expect(t.result!.report!.outcome).toBe('timeout')
    expect(t.error!.code).toBe('sandbox_timeout')
    const s = SOLUTIONS.javascript
    const next = await waitForStatus(
      a,
      await submitOk(a, { kind: 'run', language: 'javascript', code: s.passing, tests: s.tests }),
    )
    expect(next.status).toBe('succeeded')
  })
})

describe('task events', () => {
  it('streams queued, started, test-result and done, and replays them to a late subscriber', async () => {
    const a = await startAgent()
    const s = SOLUTIONS.javascript
    const id = await submitOk(a, { kind: 'run', language: 'javascript', code: s.passing, tests: s.tests })
    const live = await readTaskEvents(a, id)
    expect(live.map((e) => e.type)).toEqual(['queued', 'started', 'test-result', 'done'])
    expect(live.map((e) => e.seq)).toEqual([1, 2, 3, 4])
    expect(live[2]!.data).toMatchObject({ passed: 3, failed: 0, total: 3 })
    expect(live[3]!.data).toMatchObject({ status: 'succeeded', report: { passed: 3, total: 3 } })
    // After the task is done the stream replays the same history and ends.
    expect(await readTaskEvents(a, id)).toEqual(live)
    // A client resuming after event 2 gets only what came after it.
    expect((await readTaskEvents(a, id, { lastEventId: '2' })).map((e) => e.seq)).toEqual([3, 4])
  })

  it('answers 404 for the events of an unknown task', async () => {
    const a = await startAgent()
    const res = await a.api('/tasks/00000000-0000-0000-0000-000000000000/events')
    expect(res.status).toBe(404)
  })
})

describe('power policy', () => {
  it('runs no task outside its scheduled hours and starts them when the window opens', async () => {
    const a = await startAgent()
    const h = new Date().getHours()
    const outside = { mode: 'schedule', hours: { start: (h + 3) % 24, end: (h + 5) % 24 } }
    await a.api('/orchestration/settings', { method: 'PUT', json: { powerPolicy: outside } })
    const id = await submitOk(a, { kind: 'run', language: 'javascript', code: 'x = 1' })
    // The agent decides where a task runs before it answers the submission, and again before it
    // answers a settings change: what the task is after either answer is the decision.
    expect((await getTask(a, id)).status).toBe('queued')
    const inside = { mode: 'schedule', hours: { start: h, end: (h + 2) % 24 } }
    await a.api('/orchestration/settings', { method: 'PUT', json: { powerPolicy: inside } })
    // The window open, the same decision starts it at once: the check above would have seen a start.
    expect(['running', 'succeeded']).toContain((await getTask(a, id)).status)
    expect((await waitForStatus(a, id)).status).toBe('succeeded')
  })
})

describe('cancel', () => {
  it('cancels a queued task: it never runs', async () => {
    const a = await startAgent()
    await a.api('/orchestration/settings', { method: 'PUT', json: { contributing: false } })
    const id = await submitOk(a, { kind: 'run', language: 'javascript', code: 'x = 1' })
    const del = await a.api(`/tasks/${id}`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(((await del.json()) as TaskRecord).status).toBe('cancelled')
    await a.api('/orchestration/settings', { method: 'PUT', json: { contributing: true } })
    // A task submitted after the resume runs to its end: the queue has been served since, and
    // the cancelled one was not in it.
    const after = await submitOk(a, { kind: 'run', language: 'javascript', code: 'x = 2' })
    expect((await waitForStatus(a, after)).status).toBe('succeeded')
    const t = await getTask(a, id)
    expect(t).toMatchObject({ status: 'cancelled', runs: 0, startedAt: null, error: { code: 'cancelled' } })
    expect((await a.api(`/tasks/${id}`, { method: 'DELETE' })).status).toBe(409)
  })

  it('cancels a running task promptly, stopping its program, and the sandbox serves the next task', async () => {
    const a = await startAgent()
    const id = await submitOk(a, {
      kind: 'run',
      language: 'javascript',
      code: busyJs(20_000),
      deadlineMs: 30_000,
    })
    await waitForStatus(a, id, ['running'])
    const t0 = Date.now()
    const del = await a.api(`/tasks/${id}`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(((await del.json()) as TaskRecord).status).toBe('cancelled')
    expect(Date.now() - t0).toBeLessThan(5_000)
    const s = SOLUTIONS.javascript
    const next = await waitForStatus(
      a,
      await submitOk(a, { kind: 'run', language: 'javascript', code: s.passing, tests: s.tests }),
      undefined,
      15_000,
    )
    expect(next.status).toBe('succeeded')
    const events = await readTaskEvents(a, id)
    expect(events.at(-1)).toMatchObject({ type: 'done', data: { status: 'cancelled' } })
  })
})

describe('queue capacity', () => {
  it('answers 429 with Retry-After when the queue is full, and accepts again once there is room', async () => {
    const a = await startAgent({ args: ['--max-queued-tasks', '4'] })
    await a.api('/orchestration/settings', { method: 'PUT', json: { contributing: false } })
    const spec = { kind: 'run', language: 'python', code: 'x = 1' } as const
    const flood = { ...spec, submitter: 'flood' }
    const ids = [await submitOk(a, flood), await submitOk(a, flood), await submitOk(a, flood)]
    // Three quarters of the queue is the most one submitter may hold: the rest stays open.
    const share = await submit(a, flood)
    expect(share.status).toBe(429)
    expect(share.body).toMatchObject({
      error: { code: 'queue_full', message: expect.stringMatching(/flood/) },
    })
    expect((await submit(a, { ...spec, submitter: 'light' })).status).toBe(202)
    const full = await submit(a, { ...spec, submitter: 'light' })
    expect(full.status).toBe(429)
    expect(Number(full.retryAfter)).toBeGreaterThanOrEqual(1)
    expect(full.body).toMatchObject({ error: { code: 'queue_full' } })
    const list = (await (await a.api('/tasks')).json()) as TaskList
    expect(list.tasks).toHaveLength(4)
    await a.api(`/tasks/${ids[0]}`, { method: 'DELETE' })
    expect((await submit(a, spec)).status).toBe(202)
  })
})

describe('listing', () => {
  it('filters by status and submitter and pages with a cursor', async () => {
    const a = await startAgent()
    await a.api('/orchestration/settings', { method: 'PUT', json: { contributing: false } })
    const ids: string[] = []
    for (let i = 0; i < 5; i++)
      ids.push(
        await submitOk(a, {
          kind: 'run',
          language: 'python',
          code: `x = ${i}`,
          submitter: i % 2 ? 'bob' : 'alice',
        }),
      )
    await a.api(`/tasks/${ids[0]}`, { method: 'DELETE' })
    const page1 = (await (await a.api('/tasks?limit=2')).json()) as TaskList
    expect(page1.tasks.map((t) => t.id)).toEqual([ids[4], ids[3]])
    const page2 = (await (await a.api(`/tasks?limit=2&cursor=${page1.nextCursor}`)).json()) as TaskList
    expect(page2.tasks.map((t) => t.id)).toEqual([ids[2], ids[1]])
    const bob = (await (await a.api('/tasks?submitter=bob')).json()) as TaskList
    expect(bob.tasks.map((t) => t.id)).toEqual([ids[3], ids[1]])
    const cancelled = (await (await a.api('/tasks?status=cancelled')).json()) as TaskList
    expect(cancelled.tasks.map((t) => t.id)).toEqual([ids[0]])
    expect((await (await a.api('/tasks?status=queued&submitter=alice')).json()) as TaskList).toMatchObject({
      tasks: [{ id: ids[4] }, { id: ids[2] }],
      nextCursor: null,
    })
  })
})

describe('bad input', () => {
  const cases: [string, unknown, string][] = [
    ['no kind', { language: 'python', code: 'x' }, 'body.kind'],
    ['unknown kind', { kind: 'deploy' }, 'body.kind'],
    ['unknown language', { kind: 'run', language: 'ruby', code: 'x' }, 'body.language'],
    ['code not a string', { kind: 'run', language: 'python', code: 42 }, 'body.code'],
    ['empty prompt', { kind: 'code', language: 'python', prompt: '' }, 'body.prompt'],
    [
      'too many attempts',
      { kind: 'code', language: 'python', prompt: 'p', maxAttempts: 99 },
      'body.maxAttempts',
    ],
    ['bad submitter', { kind: 'run', language: 'python', code: 'x', submitter: 'a b' }, 'body.submitter'],
    ['bad priority', { kind: 'run', language: 'python', code: 'x', priority: 'urgent' }, 'body.priority'],
    ['no messages', { kind: 'chat', messages: [] }, 'body.messages'],
    ['bad role', { kind: 'chat', messages: [{ role: 'root', content: 'x' }] }, 'body.messages.0.role'],
    // An unknown key is reported against the body itself.
    ['unknown field', { kind: 'run', language: 'python', code: 'x', shell: true }, 'body'],
  ]

  it('POST /tasks answers 400 naming the failing field, and stores nothing', async () => {
    const a = await startAgent()
    for (const [name, body, field] of cases) {
      const r = await submit(a, body as Record<string, unknown>)
      expect(r.status, name).toBe(400)
      const err = r.body.error as { code: string; message: string }
      expect(err.code, name).toBe('invalid_request')
      expect(err.message, name).toMatch(new RegExp(`^${field.replaceAll('.', '\\.')}\\.?: `))
    }
    expect(((await (await a.api('/tasks')).json()) as TaskList).tasks).toHaveLength(0)
  })

  it('refuses malformed JSON, a non-JSON body and an oversized one on POST /tasks', async () => {
    const a = await startAgent()
    const raw = (body: string, type = 'application/json') =>
      a.api('/tasks', { method: 'POST', headers: { 'content-type': type }, body })
    expect((await raw('{"kind": "run",')).status).toBe(400)
    expect((await raw('kind=run', 'application/x-www-form-urlencoded')).status).toBe(415)
    const huge = JSON.stringify({ kind: 'run', language: 'python', code: 'x'.repeat(2 * 1024 * 1024) })
    expect((await raw(huge)).status).toBe(413)
    expect(((await (await a.api('/tasks')).json()) as TaskList).tasks).toHaveLength(0)
  })

  it('answers 400 for bad list parameters and 404 for unknown tasks on every task route', async () => {
    const a = await startAgent()
    for (const q of ['status=done', 'limit=0', 'limit=1000', 'cursor=abc', 'color=red']) {
      const res = await a.api(`/tasks?${q}`)
      expect(res.status, q).toBe(400)
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^querystring/)
    }
    const unknown = '00000000-0000-0000-0000-000000000000'
    for (const [method, path] of [
      ['GET', `/tasks/${unknown}`],
      ['DELETE', `/tasks/${unknown}`],
      ['GET', '/tasks/not-an-id'],
    ] as const) {
      const res = await a.api(path, { method })
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found')
    }
  })
})

describe('modes', () => {
  it('refuses local submissions on a worker with 403', async () => {
    const a = await startAgent({ args: ['--mode', 'worker'] })
    const r = await submit(a, { kind: 'run', language: 'python', code: 'x = 1' })
    expect(r.status).toBe(403)
    expect(r.body).toMatchObject({ error: { code: 'submission_refused' } })
    expect((r.body.error as { message: string }).message).toContain('worker')
  })

  it('keeps tasks queued on a coordinator: they wait for routing', async () => {
    const a = await startAgent({ args: ['--mode', 'coordinator'] })
    const id = await submitOk(a, { kind: 'run', language: 'python', code: 'x = 1' })
    // Placed, if at all, before the submission is answered (see the power policy case); a
    // settings change, which places again, leaves it waiting too.
    expect((await getTask(a, id)).status).toBe('queued')
    await a.api('/orchestration/settings', { method: 'PUT', json: { maxConcurrentTasks: 4 } })
    expect((await getTask(a, id)).status).toBe('queued')
    const rt = (await (await a.api('/health/runtime')).json()) as {
      queue: { depth: number; running: number }
    }
    expect(rt.queue).toEqual({ depth: 1, running: 0 })
  })
})

describe('edgecoder submit and tasks', () => {
  it('runs a file against tests with live progress, exits 0 on success and 1 on failure', async () => {
    const a = await startAgent()
    const dir = tempDataDir('edgecoder-cli-')
    const s = SOLUTIONS.python
    writeFileSync(join(dir, 'good.py'), s.passing)
    writeFileSync(join(dir, 'bad.py'), s.failing)
    writeFileSync(join(dir, 'tests.py'), s.tests)
    const env = { EDGECODER_API_URL: a.apiUrl }
    const good = await runCli(
      ['submit', 'run', '--file', join(dir, 'good.py'), '--tests', join(dir, 'tests.py')],
      env,
    )
    expect(good.code, good.stderr).toBe(0)
    expect(good.stderr).toMatch(/started \(run 1\)/)
    expect(good.stderr).toMatch(/tests passed: 3 passed, 0 failed of 3/)
    const bad = await runCli(
      ['submit', 'run', '--file', join(dir, 'bad.py'), '--tests', join(dir, 'tests.py')],
      env,
    )
    expect(bad.code, bad.stderr).toBe(1)
    expect(bad.stderr).toMatch(/tests failed: 1 passed, 2 failed of 3/)
    expect(bad.stderr).toMatch(/failed: 2 of 3 tests failed/)

    const table = await runCli(['tasks'], env)
    expect(table.code).toBe(0)
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+KIND\s+STATUS/)
    expect(table.stdout).toMatch(/run\s+failed\s+local\s+normal\s+1\/3/)
    expect(table.stdout).toMatch(/run\s+succeeded\s+local\s+normal\s+3\/3/)
    const json = await runCli(['tasks', '--status', 'failed', '--json'], env)
    expect((JSON.parse(json.stdout) as TaskList).tasks).toHaveLength(1)
  })

  it('explains a refused submission and exits 1', async () => {
    const a = await startAgent({ args: ['--mode', 'worker'] })
    const r = await runCli(['submit', 'chat', 'hello'], { EDGECODER_API_URL: a.apiUrl })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/403 submission_refused: .*worker/)
  })
})
